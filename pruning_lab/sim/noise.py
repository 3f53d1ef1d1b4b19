"""Internal noise: the Gaussian numbers added to hidden activations, as a counter-based stream.

Each draw of noise for a (batch, features) activation takes one 64-bit key from the phase's
torch generator; the number added to unit u of sample b is then number k = u * batch + b of
stream key, a pure function of (key, k). Two consequences:

- Either layout can be filled directly: the dense engine's (batch, features) tensor and the
  sparse engine's (features, batch) one hold the same numbers, with no transposing copy.
- It is cheap. torch.randn spends almost all its time in its Mersenne Twister, and needs a
  separate pass to add the numbers; this stream is a few integer operations a number, added
  to the activation in the same pass (docs/performance.md compares the two).

Results depend on this definition, so config.NOISE_STREAM names it and is part of every job's
hash. How numbers 2j and 2j + 1 (a pair) are made:

- 64 random bits are SplitMix64's output function applied to key + (j + 1) * golden gamma:
  that is, output j + 1 of a SplitMix64 generator seeded with key (Steele, Lea & Flood 2014;
  it passes BigCrush). tests/test_noise.py checks it against the published reference values.
- Box-Muller: radius sqrt(-2 ln u) with u = (2m + 1) / 2^24 for the low 23 bits m, an angle
  uniform on the circle from the high 32 bits (29 bits for a point of one octant, 3 bits for
  which of the 8 reflections). Like torch.randn, u is a 24-bit float in (0, 1), so no
  number exceeds 5.77 SD in magnitude (torch's: the same bound).
- ln, sin and cos are Cephes' single-precision polynomials, written out so the compiler can
  vectorize the loop (calls into libm would not be). Their error is checked exhaustively
  (ln) and on a dense grid (sin, cos) against float64 in the tests.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import float32, int32, njit, uint32, uint64
from numba.cpython.unsafe.numbers import leading_zeros  # llvm.ctlz; vectorizes, unlike a loop

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_LN2 = np.float32(np.log(2.0))
_SQRT2 = np.float32(np.sqrt(2.0))
_QUARTER_PI = np.float32(np.pi / 4)
_F32 = np.float32


@njit(inline="always")
def mix64(z):
    """SplitMix64's output function: a bijective 64-bit mixer."""
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(inline="always")
def log_unit(bits):
    """ln(u) for u = (2 * bits + 1) / 2^24, bits < 2^23, in float32."""
    n = uint32((uint32(bits) << uint32(1)) | uint32(1))
    e = int32(31) - int32(leading_zeros(n))  # n = m * 2^e with m in [1, 2)
    m = float32(n << uint32(23 - e)) * _F32(2.0 ** -23)
    big = m > _SQRT2  # m in [sqrt(1/2), sqrt(2)): ln m is small, nothing cancels
    m = m * _F32(0.5) if big else m
    e = e + 1 if big else e
    x = m - _F32(1.0)
    z = x * x
    y = ((((((((_F32(7.0376836292e-2) * x - _F32(1.1514610310e-1)) * x + _F32(1.1676998740e-1)) * x
              - _F32(1.2420140846e-1)) * x + _F32(1.4249322787e-1)) * x - _F32(1.6668057665e-1)) * x
           + _F32(2.0000714765e-1)) * x - _F32(2.4999993993e-1)) * x + _F32(3.3333331174e-1)) * x * z
    return x + (y - _F32(0.5) * z) + float32(e - 24) * _LN2


@njit(inline="always")
def unit_circle(w):
    """A point (c, s) uniform on the unit circle from 32 random bits ``w``."""
    phi = float32(uint32(w) & uint32(0x1FFFFFFF)) * _F32(2.0 ** -29) * _QUARTER_PI  # [0, pi/4)
    p2 = phi * phi
    sn = phi + phi * p2 * ((_F32(-1.9515295891e-4) * p2 + _F32(8.3321608736e-3)) * p2 - _F32(1.6666654611e-1))
    cs = (_F32(1.0) - _F32(0.5) * p2
          + p2 * p2 * ((_F32(2.443315711809948e-5) * p2 - _F32(1.388731625493765e-3)) * p2
                       + _F32(4.166664568298827e-2)))
    # the 8 reflections of the octant (swap, then the signs) tile the circle
    o = uint32(w) >> uint32(29)
    c = sn if o & uint32(1) else cs
    s = cs if o & uint32(1) else sn
    c = -c if o & uint32(2) else c
    s = -s if o & uint32(4) else s
    return c, s


@njit(inline="always")
def normal_pair(key, j):
    """Standard normal numbers 2j and 2j + 1 of stream ``key``."""
    return normal_pair_at(key + (uint64(j) + uint64(1)) * GAMMA)


@njit(inline="always")
def normal_pair_at(state):
    """The pair made from SplitMix64 state ``state`` (= key + (j + 1) * gamma for pair j)."""
    s = mix64(state)
    r = np.sqrt(_F32(-2.0) * log_unit(s & uint64(0x7FFFFF)))
    c, t = unit_circle(s >> uint64(32))
    return r * c, r * t


@njit(cache=True, fastmath={"contract"})
def add_flat(key, sigma, a, out):
    """out[k] = a[k] + sigma * (number k), for flat arrays: a (features, batch) layout."""
    n = a.shape[0]
    state = key
    for j in range(n // 2):
        state += GAMMA  # carried rather than key + (j + 1) * GAMMA: one 64-bit multiply fewer
        z0, z1 = normal_pair_at(state)
        out[2 * j] = a[2 * j] + sigma * z0
        out[2 * j + 1] = a[2 * j + 1] + sigma * z1
    if n % 2:
        out[n - 1] = a[n - 1] + sigma * normal_pair(key, n // 2)[0]


@njit(cache=True, fastmath={"contract"})
def _add_row_pair(key, first, stride, sigma, a0, a1, o0, o1):
    """o0[i] = a0[i] + sigma * (pair first + i * stride)[0], o1[i] likewise with [1].

    A function of its own rather than the inner loop of its caller: inlined into a loop over
    rows, the compiler stopped vectorizing it.
    """
    state = key + (uint64(first) + uint64(1)) * GAMMA
    step = uint64(stride) * GAMMA
    for i in range(o0.shape[0]):
        z0, z1 = normal_pair_at(state)
        state += step
        o0[i] = a0[i] + sigma * z0
        o1[i] = a1[i] + sigma * z1


@njit(cache=True, fastmath={"contract"})
def _add_batch_major(key, sigma, a, out):
    """out = a + sigma * noise for (batch, features) arrays: element (b, u) gets number u * batch + b."""
    batch, n_units = a.shape
    if batch % 2 == 0:  # samples 2q and 2q + 1 of unit u are pair u * batch / 2 + q
        half = batch // 2
        for q in range(half):
            _add_row_pair(key, q, half, sigma, a[2 * q], a[2 * q + 1], out[2 * q], out[2 * q + 1])
    else:  # an odd batch: pairs straddle units, so each number on its own (2x the work)
        for b in range(batch):
            for u in range(n_units):
                k = u * batch + b
                z0, z1 = normal_pair(key, k // 2)
                out[b, u] = a[b, u] + sigma * (z1 if k % 2 else z0)


def draw_key(generator: torch.Generator | None) -> np.uint64:
    """The 64-bit key of one draw, taken from ``generator`` (torch's default if None)."""
    return np.uint64(torch.randint(-(2**63), 2**63 - 1, (1,), dtype=torch.int64, generator=generator).item()
                     & (2**64 - 1))


class _Add(torch.autograd.Function):
    """h + sigma * noise in one pass; the noise is a constant, so the gradient passes unchanged."""

    @staticmethod
    def forward(h, sigma, key):
        h = h.detach()
        if h.t().is_contiguous():  # a feature-major layer output (products.py): add in that layout
            out = torch.empty_like(h.t())
            add_flat(key, np.float32(sigma), h.t().view(-1).numpy(), out.view(-1).numpy())
            return out.t()
        h = h.contiguous()
        out = torch.empty_like(h)
        _add_batch_major(key, np.float32(sigma), h.numpy(), out.numpy())
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


def add(h: torch.Tensor, sigma: float, generator: torch.Generator | None) -> torch.Tensor:
    """h + sigma * noise for a (batch, features) float32 tensor, as a new tensor."""
    return _Add.apply(h, sigma, draw_key(generator))


def add_feature_major(a: torch.Tensor, sigma: float, generator: torch.Generator | None,
                      out: torch.Tensor) -> torch.Tensor:
    """out = a + sigma * noise for contiguous (features, batch) tensors: the very numbers that
    ``add`` adds to the transposed (batch, features) tensor for the same generator state."""
    add_flat(draw_key(generator), np.float32(sigma), a.view(-1).numpy(), out.view(-1).numpy())
    return out
