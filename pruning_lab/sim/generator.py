"""torch's CPU generator (an MT19937) driven from its state: skipping draws, and torch.randn's numbers.

The replay (rng=notebook) draws what the published code draws from one torch generator. Two
things it does often are slow through torch's own calls: skipping the other arms' draws (about
4e9 words a job) and drawing the SSRI-like arm's internal noise (about 4e9 normals a job, one
scalar call into the generator per number). Both are done here on the generator's state, with
torch's own bits, which ``exact`` checks against torch before they are used.

torch.randn of n >= 16 float32 numbers (ATen's normal_fill, CPU) takes one 32-bit word per
number, u = (word & 0xFFFFFF) / 2^24, then turns each run of 16 into normals by Box-Muller,
the first 8 into radius x cos, the last 8 into radius x sin, with avx_mathfun's log and sincos
(Cephes polynomials); when n is not a multiple of 16, it draws 16 more words and recomputes the
last 16 numbers from them. The polynomials below are those of torch 2.13's AVX2 kernel (its
AVX-512 build uses the same one), with an FMA wherever its compiler fused a multiply into an
add. A build that rounds otherwise fails ``exact``, and its replay draws through torch.randn.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# torch's CPU generator is an MT19937: 624 32-bit words, twisted together every 624 draws.
# Generator.get_state()'s bytes are torch's CPUGeneratorImplState: the seed (u64), ``left``
# (i32), ``seeded`` (i32), ``next`` (u64), the 624 words (one u64 each), then the normal
# samples' caches; a draw takes word ``next`` after a twist whenever ``left`` runs out.
MT_N, MT_M = 624, 397
STATE_BYTES, LEFT, NEXT, WORDS = 5056, slice(8, 12), slice(16, 24), slice(24, 24 + 8 * MT_N)
CHUNK = 1 << 22  # numbers drawn at a time while skipping by drawing
FILL = 16  # torch.randn fills this many numbers at a time, and fewer by another path


@njit(cache=True)
def twist(mt, times):
    """The MT19937 twist of ``mt`` (uint32[624]) ``times`` times over, as torch's mt19937 twists.

    In three stretches, as the reference code writes it, so that no index wraps around and the
    compiler vectorises each (a word reads words at least 227 places away, already final).
    """
    upper, lower, one, a = np.uint32(0x80000000), np.uint32(0x7FFFFFFF), np.uint32(1), np.uint32(0x9908B0DF)
    for _ in range(times):
        for k in range(MT_N - MT_M):
            y = (mt[k] & upper) | (mt[k + 1] & lower)
            mt[k] = mt[k + MT_M] ^ (y >> one) ^ ((np.uint32(0) - (y & one)) & a)
        for k in range(MT_N - MT_M, MT_N - 1):
            y = (mt[k] & upper) | (mt[k + 1] & lower)
            mt[k] = mt[k + MT_M - MT_N] ^ (y >> one) ^ ((np.uint32(0) - (y & one)) & a)
        y = (mt[MT_N - 1] & upper) | (mt[0] & lower)
        mt[MT_N - 1] = mt[MT_M - 1] ^ (y >> one) ^ ((np.uint32(0) - (y & one)) & a)


class State:
    """A generator's state, read through Generator.get_state and written back with ``put``.

    torch has no public call that advances a generator without drawing, or that draws its
    numbers into memory other code then works on, so this reads and writes the state's bytes,
    whose layout is torch's own (above); a state of another size reads as None.
    """

    def __init__(self, generator: torch.Generator, tensor: torch.Tensor):
        self.generator, self.tensor = generator, tensor
        self.raw = raw = tensor.numpy()
        self.left = int(raw[LEFT].view(np.int32)[0])
        self.next = int(raw[NEXT].view(np.uint64)[0])
        self.words = raw[WORDS].view(np.uint64).astype(np.uint32)

    @classmethod
    def of(cls, generator: torch.Generator) -> "State | None":
        tensor = generator.get_state()
        return cls(generator, tensor) if tensor.numel() == STATE_BYTES else None

    def put(self) -> None:
        raw = self.raw
        raw[WORDS].view(np.uint64)[:] = self.words
        raw[LEFT].view(np.int32)[0] = self.left
        raw[NEXT].view(np.uint64)[0] = self.next
        self.generator.set_state(self.tensor)


def advance(generator: torch.Generator, words: int) -> None:
    """Move ``generator`` on by ``words`` 32-bit words: int64 random_ takes two a number, int32 one.

    The most a job skips, the SSRI-like arm's noise, is about 4e9 words: drawing them took 7 s,
    twisting the state the same number of times takes a small part of that (no word is
    tempered or stored).
    """
    state = State.of(generator)
    if state is None:
        return _advance_by_drawing(generator, words)
    if words <= state.left - 1:  # no twist on the way
        state.left, state.next = state.left - words, state.next + words
    else:
        words -= state.left - 1
        twists = -(-words // MT_N)
        twist(state.words, twists)
        last = words - (twists - 1) * MT_N  # draws after the last twist, 1..624
        state.left, state.next = MT_N + 1 - last, last
    state.put()


def _advance_by_drawing(generator: torch.Generator, words: int) -> None:
    pairs, odd = divmod(words, 2)
    scratch = torch.empty(min(pairs, CHUNK), dtype=torch.int64)
    while pairs > 0:
        n = min(pairs, CHUNK)
        scratch[:n].random_(generator=generator)
        pairs -= n
    if odd:
        torch.empty(1, dtype=torch.int32).random_(generator=generator)


# -- torch.randn --------------------------------------------------------------------------------

@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once, float32: where torch's kernel fused a multiply into an add."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, sig, args):
        f = ir.FloatType()
        return builder.call(cgutils.get_or_insert_function(builder.module, ir.FunctionType(f, [f, f, f]),
                                                           "llvm.fma.f32"), args)

    return sig, codegen


@intrinsic
def _bits(typingctx, x):
    """A float32's bits as uint32."""
    return types.uint32(types.float32), lambda context, builder, sig, args: builder.bitcast(args[0], ir.IntType(32))


@intrinsic
def _float(typingctx, x):
    """uint32 bits as the float32 they are."""
    return types.float32(types.uint32), lambda context, builder, sig, args: builder.bitcast(args[0], ir.FloatType())


F = np.float32
U = np.uint32
SQRTHF, LOG_Q1, LOG_Q2 = F(0.707106781186547524), F(-2.12194440e-4), F(0.693359375)
DP1, DP2, DP3 = F(-0.78515625), F(-2.4187564849853515625e-4), F(-3.77489497744594108e-8)
SIN_P0, SIN_P1, SIN_P2 = F(-1.9515295891e-4), F(8.3321608736e-3), F(-1.6666654611e-1)
COS_P0, COS_P1, COS_P2 = F(2.443315711809948e-5), F(-1.388731625493765e-3), F(4.166664568298827e-2)
FOPI, TWO_PI = F(1.27323954473516), F(2.0 * math.pi)


@njit(cache=True, inline="always")
def _pair(u1, u2):
    """radius x cos and radius x sin of uniforms u1 in (0, 1] and u2 in [0, 1), as torch rounds them."""
    one, zero, half = F(1.0), F(0.0), F(0.5)
    # log(u1): u1 = m 2^e with m in [0.5, 1), folded to [sqrt(1/2), sqrt(2)) - 1
    b = _bits(u1)
    e = F(np.int32(b >> U(23)) - np.int32(126))
    m = _float((b & U(0x807FFFFF)) | U(0x3F000000))
    small = m < SQRTHF
    e = e - (one if small else zero)
    x = (m - one) + (m if small else zero)
    z = x * x
    y = _fma(F(7.0376836292e-2), x, F(-1.1514610310e-1))
    y = _fma(y, x, F(1.1676998740e-1))
    y = _fma(y, x, F(-1.2420140846e-1))
    y = _fma(y, x, F(1.4249322787e-1))
    y = _fma(y, x, F(-1.6668057665e-1))
    y = _fma(y, x, F(2.0000714765e-1))
    y = _fma(y, x, F(-2.4999993993e-1))
    y = _fma(y, x, F(3.3333331174e-1))
    y = _fma(y * x, z, e * LOG_Q1)
    y = _fma(-z, half, y)
    log = _fma(e, LOG_Q2, x + y)
    radius = math.sqrt(log * F(-2.0))
    # sin and cos of theta = 2 pi u2 >= 0, reduced by multiples of pi/4 in three parts
    theta = TWO_PI * u2
    j = (np.int32(theta * FOPI) + np.int32(1)) & np.int32(-2)
    q = F(j)
    x = _fma(q, DP1, theta)
    x = _fma(DP2, q, x)
    x = _fma(q, DP3, x)
    z = x * x
    c = _fma(_fma(COS_P0, z, COS_P1), z, COS_P2)
    c = _fma(z, z * c, -(z * half)) + one
    s = _fma(_fma(SIN_P0, z, SIN_P1), z, SIN_P2)
    s = _fma(x, z * s, x)
    swap = (j & np.int32(2)) != 0
    sin = _float(_bits(c if swap else s) ^ (U(j & np.int32(4)) << U(29)))
    cos = _float(_bits(s if swap else c) ^ (U(~(j - np.int32(2)) & np.int32(4)) << U(29)))
    # torch adds the mean (0) to each: -0 becomes +0
    return radius * cos + zero, radius * sin + zero


@njit(cache=True)
def _temper(words, out):
    """Uniforms in [0, 1) from MT19937 words, one word each, as torch's float32 uniform draws them."""
    scale = F(1.0 / (1 << 24))
    for t in range(words.size):
        y = words[t]
        y ^= y >> U(11)
        y ^= (y << U(7)) & U(0x9D2C5680)
        y ^= (y << U(15)) & U(0xEFC60000)
        y ^= y >> U(18)
        out[t] = F(np.int32(y & U(0xFFFFFF))) * scale


@njit(cache=True)
def _uniforms(mt, left, nxt, out):
    i, n = 0, out.size
    while i < n:
        if left == 1:
            twist(mt, 1)
            left, nxt = MT_N + 1, 0
        take = min(n - i, left - 1)
        _temper(mt[nxt:nxt + take], out[i:i + take])
        i, nxt, left = i + take, nxt + take, left - take
    return left, nxt


@njit(cache=True)
def _box_muller(d, half):
    """d's runs of 16 uniforms into normals, in place; ``half`` is 8.

    ``half`` comes at run time: with the 8 as a constant the compiler unrolls the loop over a
    run's pairs and leaves it scalar, with it unknown it vectorises it (6x faster).
    """
    for first in range(0, d.size - FILL + 1, FILL):
        run = d[first:first + FILL]
        for j in range(half):
            cos, sin = _pair(F(1.0) - run[j], run[j + half])
            run[j] = cos
            run[j + half] = sin


@njit(cache=True)
def _normals(mt, left, nxt, out):
    n = out.size
    left, nxt = _uniforms(mt, left, nxt, out)
    _box_muller(out[:n - n % FILL], FILL // 2)
    if n % FILL:
        tail = out[n - FILL:]
        left, nxt = _uniforms(mt, left, nxt, tail)
        _box_muller(tail, FILL // 2)
    return left, nxt


def _randn(generator: torch.Generator, shape) -> torch.Tensor:
    """torch.randn(shape, generator=generator), computed here from the generator's state."""
    out = torch.empty(shape)
    n = out.numel()
    state = State.of(generator) if n >= FILL else None
    if state is None:
        return torch.randn(shape, generator=generator)
    state.left, state.next = _normals(state.words, state.left, state.next, out.view(-1).numpy())
    state.put()
    return out


@functools.lru_cache(maxsize=None)
def exact() -> bool:
    """Whether ``_randn`` gives torch.randn's bits here: sizes that fill whole runs, end in a part
    run, and cross the generator's twists, from a fresh and from a used state."""
    ours, theirs = torch.Generator().manual_seed(20240), torch.Generator().manual_seed(20240)
    for n in (16, 17, 100, 623, 624, 625, 1249, 96 * 256 + 3, 128 * 512, 1000 * 512):
        a, b = _randn(ours, (n,)), torch.randn(n, generator=theirs)
        if not torch.equal(a.view(torch.int32), b.view(torch.int32)):
            return False
    return torch.equal(ours.get_state(), theirs.get_state())


def randn(generator: torch.Generator, shape) -> torch.Tensor:
    """torch.randn(shape, generator=generator): computed here where that gives torch's bits."""
    if exact():
        return _randn(generator, shape)
    return torch.randn(shape, generator=generator)
