"""MKL's sums, computed on the survivors: the replay's products at the cost of a sparse engine.

The replay (rng=notebook) must produce the published code's bits, which come from torch's
dense products (MKL's sgemm). Measured on an AVX-512 machine, sgemm adds an output element's
terms in blocks of k: within a block one chain of fused multiply-adds in order of k, starting
from 0; then the blocks' sums left to right onto the bias (or onto 0):

    z = ((b + p1) + p2) + p3,    p = 0; for k in block: p = fma(a[k], w[k], p)

A pruned synapse's term is an FMA with an exact zero, which leaves a chain's sum as it is, so
the same sums over the survivors alone are the same bits at a twentieth of the work at 95%
sparsity. The block sizes are MKL's choice for the CPU and the shape, so they are not
assumed: ``plan`` tries candidate splits against torch's own products on random operands of
the very shape, and a shape none of them reproduces stays on torch's products. On a CPU whose
MKL adds otherwise the replay is as slow as before and still exact.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .sparse import Pattern

# each a * w + p one fused multiply-add, never reordered
FMA = {"contract"}


LANES = 8  # floats in a vector of the pinned target (haswell: AVX2)
CHUNK = 8 * LANES  # samples whose sums one pass over a block's survivors keeps in registers


def _splat(builder: ir.IRBuilder, x):
    """LLVM IR: an 8-float vector of x in every lane."""
    vec = ir.VectorType(x.type, LANES)
    one = builder.insert_element(ir.Constant(vec, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(vec, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), LANES), None))


def _fma(builder: ir.IRBuilder, a, b, c):
    """LLVM IR: a * b + c on 8-float vectors, each lane rounded once."""
    vec = ir.VectorType(ir.FloatType(), LANES)
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3), f"llvm.fma.v{LANES}f32")
    return builder.call(fma, [a, b, c])


def _chains(vectors: int):
    """An intrinsic ``chains(a_t, col, values, k0, k1, out_t, r, b0)``: for the samples b0 ..
    b0 + ``vectors`` x 8, out_t[r, b] += the chain p = fma(a_t[col[k], b], values[k], p) over
    k0 <= k < k1, from p = 0.

    The partial sums stay in registers for the whole chain (in numba's loop they went through
    memory for every survivor: 4x the time); each is one lane, so its order is the chain's.
    """

    @intrinsic
    def chains(typingctx, a_t, col, values, k0, k1, out_t, r, b0):
        sig = types.void(a_t, col, values, types.intp, types.intp, out_t, types.intp, types.intp)

        def codegen(context, builder, sig, args):
            f32, byte_ptr = ir.FloatType(), ir.IntType(8).as_pointer()
            vec = ir.VectorType(f32, LANES)
            a, cols, vals, out = (context.make_array(t)(context, builder, v)
                                  for t, v in zip((sig.args[0], sig.args[1], sig.args[2], sig.args[5]),
                                                  (args[0], args[1], args[2], args[5])))
            k0_, k1_, r_, b0_ = args[3], args[4], args[6], args[7]
            intp = k0_.type
            a_row = cgutils.unpack_tuple(builder, a.strides)[0]
            out_row = cgutils.unpack_tuple(builder, out.strides)[0]
            offset = builder.mul(b0_, ir.Constant(intp, 4))
            sums = [cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(vectors)]
            with cgutils.for_range(builder, builder.sub(k1_, k0_)) as loop:
                k = builder.add(k0_, loop.index)
                c = builder.load(builder.gep(cols.data, [k]))
                w = builder.load(builder.gep(vals.data, [k]))
                wv = _splat(builder, w)
                row = builder.gep(builder.bitcast(a.data, byte_ptr), [builder.add(builder.mul(c, a_row), offset)])
                for v in range(vectors):
                    x = builder.load(builder.bitcast(builder.gep(row, [ir.Constant(intp, 4 * LANES * v)]),
                                                     vec.as_pointer()), align=4)
                    builder.store(_fma(builder, x, wv, builder.load(sums[v])), sums[v])
            dest = builder.gep(builder.bitcast(out.data, byte_ptr), [builder.add(builder.mul(r_, out_row), offset)])
            for v in range(vectors):
                pointer = builder.bitcast(builder.gep(dest, [ir.Constant(intp, 4 * LANES * v)]), vec.as_pointer())
                builder.store(builder.fadd(builder.load(pointer, align=4), builder.load(sums[v])), pointer, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return chains


_chains8, _chains1 = _chains(CHUNK // LANES), _chains(1)


@njit(cache=True, fastmath=FMA)
def blocked_product(a_t, offsets, col, values, bias, bounds, out_t):
    """out_t[r] = bias[r] + the blocks' sums of values[k] * a_t[col[k]] over row r's survivors.

    ``a_t`` is the other operand feature-major, (features, batch); rows r are CSR (``offsets``
    of length rows + 1, ``col`` sorted within a row). ``bounds`` are the blocks' first feature
    and, last, the feature count. Each sample's sum is one lane: its order is the chain's
    whatever the vector width. Both arrays C-contiguous.
    """
    rows, batch = out_t.shape
    chunked, vectors = batch - batch % CHUNK, batch - batch % LANES
    for r in range(rows):
        total = out_t[r]
        for i in range(batch):
            total[i] = bias[r]
        k = offsets[r]
        end = offsets[r + 1]
        for blk in range(bounds.shape[0] - 1):
            stop = bounds[blk + 1]
            first = k
            while k < end and col[k] < stop:
                k += 1
            for b0 in range(0, chunked, CHUNK):
                _chains8(a_t, col, values, first, k, out_t, r, b0)
            for b0 in range(chunked, vectors, LANES):
                _chains1(a_t, col, values, first, k, out_t, r, b0)
            for i in range(vectors, batch):
                p = np.float32(0.0)
                for j in range(first, k):
                    p = a_t[col[j], i] * values[j] + p
                total[i] = total[i] + p


# an 8 x 8 transposition in three rounds of two-register shuffles (unpack, pair, swap halves)
_UNPACK = ([0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15])
_PAIR = ([0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15])
_HALVES = ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15])


def transpose8(builder: ir.IRBuilder, rows: list) -> list:
    """LLVM IR: the columns of the 8 x 8 matrix whose rows are eight 8-float vectors."""
    lanes_type = ir.VectorType(ir.IntType(32), LANES)

    def shuffle(a, b, lanes):
        return builder.shuffle_vector(a, b, ir.Constant(lanes_type, lanes))

    t = [shuffle(rows[i], rows[i + 1], lanes) for i in range(0, LANES, 2) for lanes in _UNPACK]
    p = [shuffle(t[i + half], t[i + half + 2], lanes) for i in (0, 4) for half in (0, 1) for lanes in _PAIR]
    return [shuffle(p[i], p[i + 4], _HALVES[0]) for i in range(4)] + \
           [shuffle(p[i], p[i + 4], _HALVES[1]) for i in range(4)]


# groups of eight survivors whose chains one pass keeps in flight (measured on 512 x 512 and
# 256 x 512 layers at 95% sparsity: 1, 3, 4, 6 and 8 were 10-40% slower than 2)
GROUPS = 2


def _group_sums(groups: int):
    """An intrinsic ``sums(g_t, a_t, col, spans, bounds, out)``: for ``groups`` groups, each up to
    8 survivors k .. k + m - 1 of one row r (``spans`` holds r, k, m for each), out[k + l] = the
    blocks' sums over the batch of g_t[r, i] * a_t[col[k + l], i], each block one chain
    p = fma(g_t[r, i], a_t[c, i], p) in order of i from p = 0, added to the total left to right.

    Each survivor is one lane: eight of a_t's rows, 8 samples at a time, are transposed in
    registers so that a sample's eight values form one vector (numba's loop was one scalar FMA
    per survivor and sample). Lanes m .. 7 repeat survivor k and are not stored. Rows of g_t and
    a_t and ``out`` are contiguous.
    """

    @intrinsic
    def sums(typingctx, g_t, a_t, col, spans, bounds, out):
        sig = types.void(g_t, a_t, col, spans, bounds, out)

        def codegen(context, builder, sig, args):
            f32, byte_ptr = ir.FloatType(), ir.IntType(8).as_pointer()
            vec = ir.VectorType(f32, LANES)
            g, a, cols, span, bound, outs = (context.make_array(t)(context, builder, v)
                                             for t, v in zip(sig.args, args))
            intp = context.get_value_type(types.intp)

            def const(n):
                return ir.Constant(intp, n)

            def row_of(array, row):  # a float pointer to array[row, 0]
                stride = cgutils.unpack_tuple(builder, array.strides)[0]
                return builder.bitcast(builder.gep(builder.bitcast(array.data, byte_ptr),
                                                   [builder.mul(row, stride)]), f32.as_pointer())

            g_rows, a_rows, firsts, counts = [], [], [], []
            for n in range(groups):
                r, k, m = (builder.load(builder.gep(span.data, [const(3 * n + j)])) for j in range(3))
                g_rows.append(row_of(g, r))
                lanes = [builder.select(builder.icmp_signed("<", const(l), m), builder.add(k, const(l)), k)
                         for l in range(LANES)]
                a_rows.append([row_of(a, builder.load(builder.gep(cols.data, [lane]))) for lane in lanes])
                firsts.append(k)
                counts.append(m)
            totals = [cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(groups)]
            chains = [cgutils.alloca_once(builder, vec) for _ in range(groups)]
            n_blocks = builder.sub(cgutils.unpack_tuple(builder, bound.shape)[0], const(1))
            with cgutils.for_range(builder, n_blocks) as blk:
                lo = builder.load(builder.gep(bound.data, [blk.index]))
                hi = builder.load(builder.gep(bound.data, [builder.add(blk.index, const(1))]))
                for c in chains:
                    builder.store(ir.Constant(vec, None), c)
                whole = builder.sdiv(builder.sub(hi, lo), const(LANES))
                with cgutils.for_range(builder, whole) as step:
                    i = builder.add(lo, builder.mul(step.index, const(LANES)))
                    for n in range(groups):
                        rows_ = [builder.load(builder.bitcast(builder.gep(p, [i]), vec.as_pointer()), align=4)
                                 for p in a_rows[n]]
                        acc = builder.load(chains[n])
                        for j, column in enumerate(transpose8(builder, rows_)):
                            x = builder.load(builder.gep(g_rows[n], [builder.add(i, const(j))]))
                            acc = _fma(builder, _splat(builder, x), column, acc)
                        builder.store(acc, chains[n])
                tail = builder.add(lo, builder.mul(whole, const(LANES)))
                with cgutils.for_range(builder, builder.sub(hi, tail)) as step:
                    i = builder.add(tail, step.index)
                    for n in range(groups):
                        column = ir.Constant(vec, ir.Undefined)
                        for l, p in enumerate(a_rows[n]):
                            column = builder.insert_element(column, builder.load(builder.gep(p, [i])),
                                                            ir.Constant(ir.IntType(32), l))
                        x = builder.load(builder.gep(g_rows[n], [i]))
                        builder.store(_fma(builder, _splat(builder, x), column, builder.load(chains[n])), chains[n])
                for t, c in zip(totals, chains):
                    builder.store(builder.fadd(builder.load(t), builder.load(c)), t)
            for n in range(groups):
                total = builder.load(totals[n])
                for l in range(LANES):
                    with builder.if_then(builder.icmp_signed("<", const(l), counts[n]), likely=True):
                        builder.store(builder.extract_element(total, ir.Constant(ir.IntType(32), l)),
                                      builder.gep(outs.data, [builder.add(firsts[n], const(l))]))
            return context.get_dummy_value()

        return sig, codegen

    return sums


_sums_many, _sums_one = _group_sums(GROUPS), _group_sums(1)


@njit(cache=True)
def survivor_grads(g_t, a_t, offsets, col, bounds, out):
    """out[k] = the blocks' sums over the batch of g_t[r] * a_t[col[k]], for survivor k in row r:
    each row's survivors in groups of up to 8, ``GROUPS`` groups at a time."""
    spans = np.empty(3 * GROUPS, dtype=np.int64)
    n = 0
    for r in range(offsets.shape[0] - 1):
        k, end = offsets[r], offsets[r + 1]
        while k < end:
            m = min(LANES, end - k)
            spans[3 * n], spans[3 * n + 1], spans[3 * n + 2] = r, k, m
            n += 1
            if n == GROUPS:
                _sums_many(g_t, a_t, col, spans, bounds, out)
                n = 0
            k += m
    for j in range(n):
        _sums_one(g_t, a_t, col, spans[3 * j:3 * j + 3], bounds, out)


@njit(cache=True)
def batch_sums(g_t, out):
    """out[r] = the sum of g_t[r] over the batch, in the order torch sums a tensor's first dimension.

    ATen's cascade sum: runs of ``step`` numbers each summed from 0 into level 0, which is then
    added to level 1; every ``step`` runs level 1 goes to level 2, and so on up to 4 levels, which
    are added last (level 0's remainder first). For a bias gradient it is g.sum(0), for widths
    that are a multiple of 32, the columns torch sums four 8-float vectors at a time (the rest
    it sums otherwise, which ``plan``'s check of each layer shape would find).
    """
    rows, n = g_t.shape
    ceil_log2 = 1
    while (1 << ceil_log2) < n:
        ceil_log2 += 1
    power = max(4, ceil_log2 // 4)
    step, mask = 1 << power, (1 << power) - 1
    for r in range(rows):
        a0 = a1 = a2 = a3 = np.float32(0.0)
        i = 0
        while i + step <= n:
            for _ in range(step):
                a0 = a0 + g_t[r, i]
                i += 1
            a1, a0 = a1 + a0, np.float32(0.0)
            if i & (mask << power):
                continue
            a2, a1 = a2 + a1, np.float32(0.0)
            if i & (mask << 2 * power):
                continue
            a3, a2 = a3 + a2, np.float32(0.0)
        while i < n:
            a0 = a0 + g_t[r, i]
            i += 1
        out[r] = ((a0 + a1) + a2) + a3


def candidates(n: int) -> list[tuple[int, ...]]:
    """Ways a sum of ``n`` terms may be cut into blocks: equal parts, and fixed block sizes."""
    out = []
    for parts in range(1, 5):
        size = -(-n // parts)
        out.append(tuple(range(0, n, size)) + (n,))
    for size in (64, 96, 128, 160, 192, 224, 256, 320, 384):
        if size < n:
            out.append(tuple(range(0, n, size)) + (n,))
    return list(dict.fromkeys(out))


class Plan(NamedTuple):
    """One layer shape's blocks: over its inputs (forward), outputs (input gradient), batch (weight gradient)."""

    inputs: np.ndarray
    outputs: np.ndarray
    batch: np.ndarray


def rows(pattern: Pattern) -> tuple[np.ndarray, np.ndarray]:
    """W's CSR (row pointers, column indices), as the kernels take them."""
    return pattern.crow.numpy(), pattern.col.numpy()


def columns(pattern: Pattern) -> tuple[np.ndarray, np.ndarray]:
    """W^T's CSR (row pointers, column indices): the survivors by input, in ``pattern.perm``'s order."""
    return pattern.t_crow.numpy(), pattern.t_col.numpy()


def product(a_t: np.ndarray, pattern_rows, values: np.ndarray, bias: np.ndarray, bounds: np.ndarray,
            rows: int) -> torch.Tensor:
    out_t = torch.empty(rows, a_t.shape[1])
    blocked_product(a_t, *pattern_rows, values, bias, bounds, out_t.numpy())
    return out_t


def _equal(x: torch.Tensor, y: torch.Tensor) -> bool:
    return bool(torch.equal(x.view(torch.int32), y.contiguous().view(torch.int32)))


@functools.lru_cache(maxsize=None)
def plan(n_out: int, n_in: int, batch: int, seed: int = 0) -> Plan | None:
    """The blocks under which this layer shape's products equal torch's here, or None.

    Tried on random operands like a trained layer's (95% of W pruned, half the activations
    zero), forward and backward, against F.linear and autograd; the bias gradient's sums too.
    """
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(n_out, n_in, generator=gen) < 0.05
    w = torch.randn(n_out, n_in, generator=gen) * mask
    b = torch.randn(n_out, generator=gen).requires_grad_(True)
    h = torch.relu(torch.randn(batch, n_in, generator=gen)).requires_grad_(True)
    g = torch.randn(batch, n_out, generator=gen)
    wd = w.clone().requires_grad_(True)
    z = F.linear(h, wd, b)
    z.backward(g)
    pattern = Pattern(mask)
    values, bias = w.flatten()[pattern.flat], b.detach()
    h_t, g_t = h.detach().t().contiguous().numpy(), g.t().contiguous().numpy()

    def first(n, works):
        return next((c for c in (np.asarray(c, dtype=np.int64) for c in candidates(n)) if works(c)), None)

    inputs = first(n_in, lambda c: _equal(product(h_t, rows(pattern), values.numpy(), bias.numpy(), c, n_out).t(),
                                          z.detach()))
    zeros = np.zeros(n_in, dtype=np.float32)
    outputs = first(n_out, lambda c: _equal(product(g_t, columns(pattern), values[pattern.perm].numpy(), zeros, c,
                                                    n_in).t(), h.grad))

    def grads(c):
        out = torch.empty_like(values)
        survivor_grads(g_t, h_t, *rows(pattern), c, out.numpy())
        return _equal(out, wd.grad.flatten()[pattern.flat])

    batch_blocks = first(batch, grads)
    bias_grad = torch.empty(n_out)
    batch_sums(g_t, bias_grad.numpy())
    if inputs is None or outputs is None or batch_blocks is None or not _equal(bias_grad, b.grad):
        return None
    return Plan(inputs, outputs, batch_blocks)
