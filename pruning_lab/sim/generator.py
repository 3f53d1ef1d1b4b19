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
HALF = FILL // 2  # a run's cosines, then its sines


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

F = np.float32
U = np.uint32
SQRTHF, LOG_Q1, LOG_Q2 = F(0.707106781186547524), F(-2.12194440e-4), F(0.693359375)
DP1, DP2, DP3 = F(-0.78515625), F(-2.4187564849853515625e-4), F(-3.77489497744594108e-8)
SIN_P0, SIN_P1, SIN_P2 = F(-1.9515295891e-4), F(8.3321608736e-3), F(-1.6666654611e-1)
COS_P0, COS_P1, COS_P2 = F(2.443315711809948e-5), F(-1.388731625493765e-3), F(4.166664568298827e-2)
FOPI, TWO_PI = F(1.27323954473516), F(2.0 * math.pi)


def _emit_pairs(builder: ir.IRBuilder, d, first):
    """IR: d[first + j], d[first + 8 + j] for j < 8, uniforms u, v, into radius x cos(2 pi v) and
    radius x sin(2 pi v), radius = sqrt(-2 log(1 - u)), as torch rounds them, 8 lanes at once.

    log: 1 - u = m 2^e with m in [0.5, 1), folded to [sqrt(1/2), sqrt(2)) - 1 and a polynomial;
    sin and cos: 2 pi v reduced by multiples of pi/4 in three parts, then two polynomials.
    """
    f32, i32 = ir.FloatType(), ir.IntType(32)
    vf, vi = ir.VectorType(f32, HALF), ir.VectorType(i32, HALF)

    def f(x):
        return ir.Constant(vf, [ir.Constant(f32, float(F(x)))] * HALF)

    def i(x):
        return ir.Constant(vi, [ir.Constant(i32, x)] * HALF)

    def call(name, *args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vf, [vf] * len(args)), name)
        return builder.call(fn, list(args))

    def fma(a, b, c):  # where torch's compiler fused a multiply into an add
        return call(f"llvm.fma.v{HALF}f32", a, b, c)

    def select(mask, a, b):
        return builder.select(mask, a, b)

    mul, add, sub = builder.fmul, builder.fadd, builder.fsub
    pointer = builder.bitcast(builder.gep(d, [first]), vf.as_pointer())
    second = builder.bitcast(builder.gep(d, [builder.add(first, ir.Constant(first.type, HALF))]), vf.as_pointer())
    u1, u2 = sub(f(1.0), builder.load(pointer, align=4)), builder.load(second, align=4)
    # log(u1)
    b = builder.bitcast(u1, vi)
    e = builder.sitofp(builder.sub(builder.lshr(b, i(23)), i(126)), vf)
    m = builder.bitcast(builder.or_(builder.and_(b, i(0x807FFFFF)), i(0x3F000000)), vf)
    small = builder.fcmp_ordered("<", m, f(SQRTHF))
    e = sub(e, select(small, f(1.0), f(0.0)))
    x = add(sub(m, f(1.0)), select(small, m, f(0.0)))
    z = mul(x, x)
    y = fma(f(7.0376836292e-2), x, f(-1.1514610310e-1))
    for c in (1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1,
              -2.4999993993e-1, 3.3333331174e-1):
        y = fma(y, x, f(c))
    y = fma(mul(y, x), z, mul(e, f(LOG_Q1)))
    y = fma(builder.fneg(z), f(0.5), y)
    log = fma(e, f(LOG_Q2), add(x, y))
    radius = call(f"llvm.sqrt.v{HALF}f32", mul(log, f(-2.0)))
    # sin and cos of theta = 2 pi u2 >= 0
    theta = mul(f(TWO_PI), u2)
    j = builder.and_(builder.add(builder.fptosi(mul(theta, f(FOPI)), vi), i(1)), i(-2))
    q = builder.sitofp(j, vf)
    x = fma(q, f(DP1), theta)
    x = fma(f(DP2), q, x)
    x = fma(q, f(DP3), x)
    z = mul(x, x)
    c = fma(fma(f(COS_P0), z, f(COS_P1)), z, f(COS_P2))
    c = add(fma(z, mul(z, c), builder.fneg(mul(z, f(0.5)))), f(1.0))
    s = fma(fma(f(SIN_P0), z, f(SIN_P1)), z, f(SIN_P2))
    s = fma(x, mul(z, s), x)
    swap = builder.icmp_signed("!=", builder.and_(j, i(2)), i(0))
    sin_sign = builder.shl(builder.and_(j, i(4)), i(29))
    cos_sign = builder.shl(builder.and_(builder.not_(builder.sub(j, i(2))), i(4)), i(29))
    sin = builder.bitcast(builder.xor(builder.bitcast(select(swap, c, s), vi), sin_sign), vf)
    cos = builder.bitcast(builder.xor(builder.bitcast(select(swap, s, c), vi), cos_sign), vf)
    # torch adds the mean (0) to each: -0 becomes +0
    builder.store(add(mul(radius, cos), f(0.0)), pointer, align=4)
    builder.store(add(mul(radius, sin), f(0.0)), second, align=4)


@intrinsic
def _pairs(typingctx, d, first):
    """The run of 16 at d[first:first + 16], uniforms into normals (``_emit_pairs``)."""
    sig = types.void(d, types.intp)

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        _emit_pairs(builder, array.data, args[1])
        return context.get_dummy_value()

    return sig, codegen


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
def _box_muller(d):
    """d's runs of 16 uniforms into normals, in place (d: contiguous, a multiple of 16 long)."""
    for first in range(0, d.size - FILL + 1, FILL):
        _pairs(d, first)


@njit(cache=True)
def _normals(mt, left, nxt, out):
    n = out.size
    left, nxt = _uniforms(mt, left, nxt, out)
    _box_muller(out[:n - n % FILL])
    if n % FILL:
        tail = out[n - FILL:]
        left, nxt = _uniforms(mt, left, nxt, tail)
        _box_muller(tail)
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
