"""Products: the dense layer h W^T + b, with every sum in one fixed order in portable numerics.

An output element of a matrix product is a sum over k, and a BLAS adds it in an order chosen
for the CPU at hand (block sizes, vector width, how partial sums are combined), which is why
MKL's sgemm gives other bits on an AMD EPYC than on an Intel Xeon. Its one CPU-independent
branch (MKL_CBWR=COMPATIBLE) runs at half speed. Here each element is instead defined as

    c = 0; for k in 0 .. K-1: c = fma(a[i, k], b[k, j], c)

which is the same bits on every CPU with FMA, however the loops around it are blocked: the
kernel below vectorises across j (elements that do not interact) and never across k, so
neither vector width nor blocking can reorder a sum. A lane of a 16-float AVX-512 register
runs the very chain a lane of an 8-float AVX2 one does, so where the CPU has AVX-512 the tiles
are 16 lanes wide (``numerics.products_isa``), with the same bits. tests/test_products.py
checks both against that definition written as a plain loop; bench/bench.py measures them.

``numerics=native`` uses torch's own F.linear (MKL), faster on some shapes and CPUs, not
comparable across machines.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from llvmlite import binding as llvm
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

from .. import numerics

# "contract" lets LLVM fuse each a * b + c into one FMA (haswell, the pinned target, has it);
# no "reassoc", so no sum is reordered. The tiles below call the FMA instruction themselves.
FMA = {"contract"}


class Tile(NamedTuple):
    """A register tile of c: ``rows`` x ``vectors`` registers of ``lanes`` sums, held for all of k."""

    lanes: int
    vectors: int
    rows: int

    @property
    def cols(self) -> int:
        return self.lanes * self.vectors


# AVX2: 6 x 2 sums, 2 vectors of b and one broadcast a[i, k] fill 15 of 16 ymm registers
AVX2 = Tile(8, 2, 6)
# AVX-512: 6 x 4 sums and 4 vectors of b take 28 of 32 zmm registers (the FMA broadcasts a[i, k]
# from memory itself). Measured against 14x32, 12x32, 8x32, 8x48, 9x48, 7x64 and 5x64, it was
# the fastest (docs/performance-kernels.md); a block of 6 rows of a stays in any L1 (12 KB at
# k = 512), and its row count is AVX2's, so both paths block a alike and a narrow right edge
# is done with AVX2 tiles
AVX512 = Tile(16, 4, 6)
# as plain numbers for numba to compile in
ROWS, NARROW_COLS, WIDE_COLS = AVX2.rows, AVX2.cols, AVX512.cols
# numba compiles everything else for haswell (numerics.PINS), which has no AVX-512: the wide
# tiles are compiled on their own, for the x86-64 level every AVX-512 server CPU meets
WIDE_CPU = "x86-64-v4"


def emit_tile(builder: ir.IRBuilder, tile: Tile, rows: int, K, a, a_row, a_col, b, b_row, c, c_row) -> None:
    """IR for one tile: c[r, t] = sum over k of a[r, k] * b[k, t] for r < ``rows``, t < tile.cols.

    a, b and c are byte pointers, the strides byte counts (intp values). Each sum is one chain
    of FMAs in order of k, one vector lane of one register, so the order is the definition's
    whatever the CPU and the vector width. Written in LLVM IR: in numba's own code the sums were
    kept in memory (the rows of c went through L1 for every four k), or, written out as
    scalars, never vectorised; here they cannot leave their registers until k is done.
    """
    f32 = ir.FloatType()
    vec = ir.VectorType(f32, tile.lanes)
    intp = K.type

    def const(x):
        return ir.Constant(intp, x)

    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                         f"llvm.fma.v{tile.lanes}f32")
    undef = ir.Constant(vec, ir.Undefined)
    broadcast = ir.Constant(ir.VectorType(ir.IntType(32), tile.lanes), None)
    # entry-block slots that LLVM turns into registers; every sum starts at +0.0
    sums = [[cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(tile.vectors)]
            for _ in range(rows)]
    a_rows = [builder.gep(a, [builder.mul(const(r), a_row)]) for r in range(rows)]
    with cgutils.for_range(builder, K) as loop:
        k = loop.index
        b_k = builder.bitcast(builder.gep(b, [builder.mul(k, b_row)]), f32.as_pointer())
        bv = [builder.load(builder.bitcast(builder.gep(b_k, [const(tile.lanes * v)]), vec.as_pointer()), align=4)
              for v in range(tile.vectors)]
        a_k = builder.mul(k, a_col)
        for r in range(rows):
            x = builder.load(builder.bitcast(builder.gep(a_rows[r], [a_k]), f32.as_pointer()))
            xv = builder.shuffle_vector(builder.insert_element(undef, x, ir.Constant(ir.IntType(32), 0)),
                                        undef, broadcast)
            for v in range(tile.vectors):
                builder.store(builder.call(fma, [xv, bv[v], builder.load(sums[r][v])]), sums[r][v])
    for r in range(rows):
        row = builder.gep(c, [builder.mul(const(r), c_row)])
        for v in range(tile.vectors):
            dest = builder.bitcast(builder.gep(row, [const(4 * tile.lanes * v)]), vec.as_pointer())
            builder.store(builder.load(sums[r][v]), dest, align=4)


def _operands(context, builder, sig, args):
    """(a, a_row, a_col, b, b_row, c, c_row, K) of a tile call: a at row i, c at column j0."""
    byte_ptr = ir.IntType(8).as_pointer()
    A, B, C = (context.make_array(t)(context, builder, v) for t, v in zip(sig.args[:3], args[:3]))
    i, j0 = args[3], args[4]
    K = cgutils.unpack_tuple(builder, A.shape)[1]
    a_row, a_col = cgutils.unpack_tuple(builder, A.strides)  # in bytes
    b_row = cgutils.unpack_tuple(builder, B.strides)[0]
    c_row = cgutils.unpack_tuple(builder, C.strides)[0]
    a = builder.gep(builder.bitcast(A.data, byte_ptr), [builder.mul(i, a_row)])
    c = builder.gep(builder.bitcast(C.data, byte_ptr), [builder.mul(j0, ir.Constant(K.type, 4))])
    return a, a_row, a_col, builder.bitcast(B.data, byte_ptr), b_row, c, c_row, K


def _narrow(rows: int):
    """An AVX2 tile of ``rows`` rows, compiled into its caller: ``tile(a, bp, out, i, j0)`` sets
    out[r, j0 + t] = sum over k of a[i + r, k] * bp[k, t], for a in any layout, bp (K, >= 16) and
    out with unit stride along a row."""

    @intrinsic
    def tile(typingctx, a, bp, out, i, j0):
        sig = types.void(a, bp, out, types.intp, types.intp)

        def codegen(context, builder, sig, args):
            a_, a_row, a_col, b, b_row, c, c_row, K = _operands(context, builder, sig, args)
            emit_tile(builder, AVX2, rows, K, a_, a_row, a_col, b, b_row, c, c_row)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile6, _tile5, _tile4, _tile3, _tile2, _tile1 = (_narrow(r) for r in range(AVX2.rows, 0, -1))


@intrinsic
def _wide(typingctx, address, rows, a, bp, out, i, j0):
    """An AVX-512 tile of ``rows`` rows, as ``_narrow``'s, through the function at ``address``
    (``wide_tiles``): a run-time argument, so that the caller's machine code can be cached."""
    sig = types.void(types.intp, types.intp, a, bp, out, types.intp, types.intp)

    def codegen(context, builder, sig, args):
        operands = _operands(context, builder, sig.return_type(*sig.args[2:]), args[2:])
        fn = builder.inttoptr(args[0], _WIDE_TYPE.as_pointer())
        builder.call(fn, [args[1], *operands])
        return context.get_dummy_value()

    return sig, codegen


_I8P, _INTP = ir.IntType(8).as_pointer(), ir.IntType(64)
# tile(rows, a, a_row, a_col, b, b_row, c, c_row, K): byte pointers and byte strides as in emit_tile
_WIDE_TYPE = ir.FunctionType(ir.VoidType(), [_INTP, _I8P, _INTP, _INTP, _I8P, _INTP, _I8P, _INTP, _INTP])


def wide_module() -> ir.Module:
    """The AVX-512 tiles as one function ``tile`` that branches on the row count (1 .. ROWS)."""
    module = ir.Module(name="pruning_lab.products.avx512")
    fn = ir.Function(module, _WIDE_TYPE, name="tile")
    rows, a, a_row, a_col, b, b_row, c, c_row, K = fn.args
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    done = fn.append_basic_block("done")
    switch = builder.switch(rows, done)
    for r in range(1, ROWS + 1):
        block = fn.append_basic_block(f"rows{r}")
        switch.add_case(ir.Constant(_INTP, r), block)
        builder.position_at_end(block)
        emit_tile(builder, AVX512, r, K, a, a_row, a_col, b, b_row, c, c_row)
        builder.branch(done)
    builder.position_at_end(done)
    builder.ret_void()
    return module


def compile_for(module: ir.Module, cpu: str) -> llvm.ExecutionEngine:
    """``module`` optimised and compiled to machine code for ``cpu`` in an engine of its own,
    leaving numba's target (haswell, for every other kernel) as it is."""
    target = llvm.Target.from_triple(llvm.get_process_triple())
    machine = target.create_target_machine(cpu=cpu, opt=3, jit=True)
    parsed = llvm.parse_assembly(str(module))
    parsed.triple, parsed.data_layout = llvm.get_process_triple(), str(machine.target_data)
    parsed.verify()
    passes = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=3))
    passes.getModulePassManager().run(parsed, passes)
    engine = llvm.create_mcjit_compiler(parsed, machine)
    engine.finalize_object()
    return engine


@functools.cache
def _wide_engine() -> tuple[llvm.ExecutionEngine, int]:
    # compiled once per process, on first use; the engine holds the machine code, so it stays
    engine = compile_for(wide_module(), WIDE_CPU)
    return engine, engine.get_function_address("tile")


def wide_tiles() -> int:
    """The address of the AVX-512 tile function, compiled on first use; only for a CPU that has it."""
    return _wide_engine()[1]


@njit(fastmath=FMA, inline="always")
def _run_tile(wide, rows, a, bp, out, i, j0):
    # one AVX2 kernel per row count: the sums must be named registers, fixed at compile time
    if wide:
        _wide(wide, rows, a, bp, out, i, j0)
    elif rows == 6:
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
# over stay in L2 (256 KB on Haswell, 512 KB on Zen 2 and 3, 1 MB on Zen 4); a wide b (the test
# sets, 4 000 points) packed whole streamed 8 MB from L3 for every six rows, and slowed the
# other worker too
PANEL_FLOATS = 64 * 1024


@njit(cache=True, fastmath=FMA)
def matmul(a, b, c, wide=0):
    """c = a @ b for float32 (M, K), (K, N), (M, N), c C-contiguous, a and b in any layout;
    ``wide``: the AVX-512 tiles' address (``wide_tiles``), or 0 for AVX2 tiles only.

    b is copied, a block of columns at a time, into panels as wide as a tile, (K, cols) each,
    contiguous and zero-padded at the right edge, so a tile reads one row of its panel as
    whole vectors. Then for each block of ROWS rows of a (which stays in L1) the tile kernel
    runs over the block's panels (which stay in L2). The right edge is computed whole by
    AVX2 tiles (16 columns) into a scratch tile and only its real columns copied: padding adds
    lanes, never terms to a sum. With a single block of rows each panel would be read once,
    so a b whose rows are contiguous is then read where it lies, and only its edge is copied.
    Whatever is copied, each sum still runs over all of k in order, one FMA at a time.
    """
    m, K = a.shape
    n = b.shape[1]
    cols = WIDE_COLS if wide else NARROW_COLS
    full = n - n % cols
    direct = m <= ROWS and b.strides[1] == 4
    per_block = max(1, PANEL_FLOATS // max(1, K * cols))  # panels packed at a time
    bp = np.zeros((min(per_block, (n + cols - 1) // cols), K, cols), np.float32)
    scratch = np.empty((ROWS, cols), np.float32)
    # a block whose rows are not contiguous (a transposed view) is copied to a k-major block:
    # read in place, each k would touch another cache line, for every panel again
    gather = a.strides[1] != 4
    block = np.empty((K, ROWS), np.float32)
    block_t = block.T
    for jb in range(0, n, per_block * cols):
        jend = min(n, jb + per_block * cols)
        panels = (jend - jb + cols - 1) // cols
        for p in range(panels):
            j0 = jb + p * cols
            if j0 + cols <= n:
                if not direct:
                    for k in range(K):
                        for t in range(cols):
                            bp[p, k, t] = b[k, j0 + t]
            else:
                bp[p] = 0.0
                for k in range(K):
                    for t in range(n - j0):
                        bp[p, k, t] = b[k, j0 + t]
        for i in range(0, m, ROWS):
            rows = min(ROWS, m - i)
            src, at = a, i
            if gather:
                if rows == ROWS:
                    for k in range(K):
                        for r in range(ROWS):  # a constant count, unrolled
                            block[k, r] = a[i + r, k]
                else:
                    for k in range(K):
                        for r in range(rows):
                            block[k, r] = a[i + r, k]
                src, at = block_t, 0
            for p in range(panels):
                j0 = jb + p * cols
                if j0 >= full:  # 16 columns at a time: an edge of 2 columns is 1 AVX2 tile, not 64 lanes
                    for q in range(0, n - j0, NARROW_COLS):
                        _run_tile(0, rows, src, bp[p, :, q:], scratch[:, q:], at, 0)
                    for r in range(rows):
                        for t in range(n - j0):
                            c[i + r, j0 + t] = scratch[r, t]
                elif direct:
                    _run_tile(wide, rows, src, b[:, j0:], c[i:], at, j0)
                else:
                    _run_tile(wide, rows, src, bp[p], c[i:], at, j0)


def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b by ``matmul`` for float32 tensors, in any layout, on this process's tiles
    (``numerics.products_isa``)."""
    out = torch.empty(a.shape[0], b.shape[1], dtype=torch.float32)
    wide = wide_tiles() if numerics.products_isa() == "avx512" else 0
    matmul(a.detach().numpy(), b.detach().numpy(), out.numpy(), wide)
    return out


class _Linear(torch.autograd.Function):
    """Layers computed feature-major: z^T = W h^T, so each layer's output, a transposed view,
    is the next one's input with no copy (h^T is already C-contiguous), and W is never copied
    whole (W^T's rows are gathered a tile's rows at a time, as matmul reads them)."""

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
