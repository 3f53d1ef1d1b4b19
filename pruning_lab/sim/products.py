"""Products: the dense layer h W^T + b, with every sum in one fixed order in portable numerics.

An output element of a matrix product is a sum over k, and a BLAS adds it in an order chosen
for the CPU at hand (block sizes, vector width, how partial sums are combined), which is why
MKL's sgemm gives other bits on an AMD EPYC than on an Intel Xeon. Its one CPU-independent
branch (MKL_CBWR=COMPATIBLE) runs at half speed. Here each element is instead defined as

    c = 0; for k in 0 .. K-1: c = fma(a[i, k], b[k, j], c)

which is the same bits on every CPU with FMA, however the loops around it are blocked: the
kernel below vectorises across j (elements that do not interact) and never across k, so
neither vector width nor blocking can reorder a sum. tests/test_products.py checks it against
that definition written as a plain loop; bench/bench.py --numerics measures its speed.

``numerics=native`` uses torch's own F.linear (MKL), faster on some shapes and CPUs, not
comparable across machines.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

from .. import numerics

# "contract" lets LLVM fuse each a * b + c into one FMA (haswell, the pinned target, has it);
# no "reassoc", so no sum is reordered. The tiles below call the FMA instruction themselves.
FMA = {"contract"}

LANES = 8  # floats in one AVX2 register
VECTORS = 2  # registers of c per row of a tile
TILE_ROWS = 6  # rows of c per tile: 6 x 2 sums, 2 rows of b and one a[i, k] fill 15 of 16 registers
TILE_COLS = LANES * VECTORS


def _tile(rows: int):
    """A kernel for one tile of c: ``rows`` x TILE_COLS sums held in registers for all of k.

    ``tile(a, bp, out, i, j0)``: out[r, j0 + t] = sum over k of a[i + r, k] * bp[k, t], for a
    in any layout, bp (K, >= TILE_COLS) and out (rows of c, or a scratch tile) with unit stride
    along a row. Each sum is one chain of FMAs in order of k, one vector lane of one register,
    so the order is the definition's whatever the CPU. Written in LLVM IR: in numba's own code the sums were
    kept in memory (the rows of c went through L1 for every four k), or, written out as
    scalars, never vectorised; here they cannot leave their registers until k is done.
    """

    @intrinsic
    def tile(typingctx, a, bp, out, i, j0):
        sig = types.void(a, bp, out, types.intp, types.intp)

        def codegen(context, builder, sig, args):
            f32 = ir.FloatType()
            vec = ir.VectorType(f32, LANES)
            byte_ptr = ir.IntType(8).as_pointer()
            intp = context.get_value_type(types.intp)

            def const(x):
                return ir.Constant(intp, x)

            A, B, C = (context.make_array(t)(context, builder, v) for t, v in zip(sig.args[:3], args[:3]))
            i, j0 = args[3], args[4]
            K = cgutils.unpack_tuple(builder, A.shape)[1]
            a_row, a_col = cgutils.unpack_tuple(builder, A.strides)  # in bytes
            b_row = cgutils.unpack_tuple(builder, B.strides)[0]
            c_row = cgutils.unpack_tuple(builder, C.strides)[0]
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                                 "llvm.fma.v8f32")
            undef = ir.Constant(vec, ir.Undefined)
            broadcast = ir.Constant(ir.VectorType(ir.IntType(32), LANES), None)
            # entry-block slots that LLVM turns into registers; every sum starts at +0.0
            sums = [[cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(VECTORS)]
                    for _ in range(rows)]
            a_rows = [builder.gep(builder.bitcast(A.data, byte_ptr), [builder.mul(builder.add(i, const(r)), a_row)])
                      for r in range(rows)]
            with cgutils.for_range(builder, K) as loop:
                k = loop.index
                b_k = builder.bitcast(builder.gep(builder.bitcast(B.data, byte_ptr), [builder.mul(k, b_row)]),
                                      f32.as_pointer())
                bv = [builder.load(builder.bitcast(builder.gep(b_k, [const(LANES * v)]), vec.as_pointer()), align=4)
                      for v in range(VECTORS)]
                a_k = builder.mul(k, a_col)
                for r in range(rows):
                    x = builder.load(builder.bitcast(builder.gep(a_rows[r], [a_k]), f32.as_pointer()))
                    xv = builder.shuffle_vector(builder.insert_element(undef, x, ir.Constant(ir.IntType(32), 0)),
                                                undef, broadcast)
                    for v in range(VECTORS):
                        builder.store(builder.call(fma, [xv, bv[v], builder.load(sums[r][v])]), sums[r][v])
            j_bytes = builder.mul(j0, const(4))
            for r in range(rows):
                row = builder.gep(builder.bitcast(C.data, byte_ptr), [builder.add(builder.mul(const(r), c_row), j_bytes)])
                for v in range(VECTORS):
                    dest = builder.bitcast(builder.gep(row, [const(4 * LANES * v)]), vec.as_pointer())
                    builder.store(builder.load(sums[r][v]), dest, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile6, _tile5, _tile4, _tile3, _tile2, _tile1 = (_tile(r) for r in range(TILE_ROWS, 0, -1))


@njit(fastmath=FMA, inline="always")
def _run_tile(rows, a, bp, out, i, j0):
    # one kernel per row count: the sums must be named registers, fixed at compile time
    if rows == 6:
        _tile6(a, bp, out, i, j0)
    elif rows == 5:
        _tile5(a, bp, out, i, j0)
    elif rows == 4:
        _tile4(a, bp, out, i, j0)
    elif rows == 3:
        _tile3(a, bp, out, i, j0)
    elif rows == 2:
        _tile2(a, bp, out, i, j0)
    else:
        _tile1(a, bp, out, i, j0)


# floats of b's panels packed at a time: 256 KB, so that the panels a block of rows of a runs
# over stay in L2 (256 KB on Haswell, 512 KB on Zen 2 and 3); a wide b (the test sets, 4 000
# points) packed whole streamed 8 MB from L3 for every six rows, and slowed the other worker too
PANEL_FLOATS = 64 * 1024


@njit(cache=True, fastmath=FMA)
def matmul(a, b, c):
    """c = a @ b for float32 (M, K), (K, N), (M, N), c C-contiguous, a and b in any layout.

    b is copied, a block of columns at a time, into panels of TILE_COLS columns, (K,
    TILE_COLS) each, contiguous and zero-padded at the right edge, so a tile reads one row of
    its panel as two whole vectors. Then for each block of TILE_ROWS rows of a (which stays in
    L1) the tile kernel runs over the block's panels (which stay in L2). A tile at the right
    edge is computed whole into a scratch tile and only its real columns copied: padding adds
    lanes, never terms to a sum. With a single block of rows each panel would be read once,
    so a b whose rows are contiguous is then read where it lies, and only its edge is copied.
    Whatever is copied, each sum still runs over all of k in order, one FMA at a time.
    """
    m, K = a.shape
    n = b.shape[1]
    full = n - n % TILE_COLS
    direct = m <= TILE_ROWS and b.strides[1] == 4
    per_block = max(1, PANEL_FLOATS // max(1, K * TILE_COLS))  # panels packed at a time
    bp = np.zeros((min(per_block, (n + TILE_COLS - 1) // TILE_COLS), K, TILE_COLS), np.float32)
    scratch = np.empty((TILE_ROWS, TILE_COLS), np.float32)
    # a block whose rows are not contiguous (a transposed view) is copied to a k-major block:
    # read in place, each k would touch another cache line, for every panel again
    gather = a.strides[1] != 4
    block = np.empty((K, TILE_ROWS), np.float32)
    block_t = block.T
    for jb in range(0, n, per_block * TILE_COLS):
        jend = min(n, jb + per_block * TILE_COLS)
        panels = (jend - jb + TILE_COLS - 1) // TILE_COLS
        for p in range(panels):
            j0 = jb + p * TILE_COLS
            if j0 + TILE_COLS <= n:
                if not direct:
                    for k in range(K):
                        for t in range(TILE_COLS):
                            bp[p, k, t] = b[k, j0 + t]
            else:
                bp[p] = 0.0
                for k in range(K):
                    for t in range(n - j0):
                        bp[p, k, t] = b[k, j0 + t]
        for i in range(0, m, TILE_ROWS):
            rows = min(TILE_ROWS, m - i)
            src, at = a, i
            if gather:
                if rows == TILE_ROWS:
                    for k in range(K):
                        for r in range(TILE_ROWS):  # a constant count, unrolled
                            block[k, r] = a[i + r, k]
                else:
                    for k in range(K):
                        for r in range(rows):
                            block[k, r] = a[i + r, k]
                src, at = block_t, 0
            for p in range(panels):
                j0 = jb + p * TILE_COLS
                if j0 >= full:
                    _run_tile(rows, src, bp[p], scratch, at, 0)
                    for r in range(rows):
                        for t in range(n - j0):
                            c[i + r, j0 + t] = scratch[r, t]
                elif direct:
                    _run_tile(rows, src, b[:, j0:], c[i:], at, j0)
                else:
                    _run_tile(rows, src, bp[p], c[i:], at, j0)


def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b by ``matmul`` for float32 tensors, in any layout (matmul copies b into panels)."""
    out = torch.empty(a.shape[0], b.shape[1], dtype=torch.float32)
    matmul(a.detach().numpy(), b.detach().numpy(), out.numpy())
    return out


class _Linear(torch.autograd.Function):
    """Layers computed feature-major: z^T = W h^T, so each layer's output, a transposed view,
    is the next one's input with no copy (h^T is already C-contiguous), and W is never copied
    whole (W^T's rows are gathered six at a time, as matmul reads them)."""

    @staticmethod
    def forward(ctx, h, w, b):
        ctx.save_for_backward(h, w)
        return mm(w, h.t()).add_(b.detach()[:, None]).t()

    @staticmethod
    def backward(ctx, g):
        h, w = ctx.saved_tensors
        # dh^T = W^T g^T keeps the gradients feature-major too, as the activations they meet
        dh = mm(w.t(), g.t()).t() if ctx.needs_input_grad[0] else None
        dw = mm(g.t(), h) if ctx.needs_input_grad[1] else None
        db = g.sum(0) if ctx.needs_input_grad[2] else None
        return dh, dw, db


def fixed_order_linear(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """h W^T + b for a batch h (B, in) and weights (out, in), differentiable in all three."""
    return _Linear.apply(h, w, b)


def linear():
    """The layer product this process's numerics mode uses (read when a network's layers are bound)."""
    return fixed_order_linear if numerics.mode() == "portable" else F.linear
