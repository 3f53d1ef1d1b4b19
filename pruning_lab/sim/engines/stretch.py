"""A stretch of hidden layers on block sums, as one autograd step: the replay's layers between torch's.

Between two layers the published code runs torch's elementwise operations (activation,
noise, damping) on batch-major tensors, and the block sums (blocks.py) work feature-major.
Layer by layer, that is a transposing copy before and after every product and an autograd
node for every operation. Here consecutive block-sum layers are one autograd Function: the
steps between products are numba loops that round as torch's operations do, one rounding
each (relu is exact; noise is h + (z sigma), the product rounded first; damping h d, and
d g backward), and the only transpositions are at the stretch's two ends, fused with those
steps. tanh and its gradient stay torch's own (Sleef's polynomials), called on contiguous
tensors: elementwise, their bits do not depend on the layout while every width is a
multiple of the 32 floats torch's vectorised loops take at a time (a tensor's remainder goes
through a scalar path with other rounding). The bias gradients are torch's sums over the
batch, in its order (blocks.batch_sums).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..rng import Draws
from . import blocks
from .sparse import Pattern

WIDTH_MULTIPLE = 32  # floats per vectorised step of torch's elementwise loops on AVX-512 (16 on AVX2)
_LANES = blocks.LANES


@intrinsic
def _transpose8(typingctx, src, out, r0, c0):
    """out[c0 + i, r0 + j] = src[r0 + j, c0 + i] for i, j < 8: eight 8-float loads, shuffles and
    stores (numba leaves a transposing loop scalar, at about 4x the time)."""
    sig = types.void(src, out, types.intp, types.intp)

    def codegen(context, builder, sig, args):
        byte_ptr, vec = ir.IntType(8).as_pointer(), ir.VectorType(ir.FloatType(), _LANES)
        arrays = [context.make_array(t)(context, builder, v) for t, v in zip(sig.args[:2], args[:2])]
        (s_data, s_row), (o_data, o_row) = [(builder.bitcast(a.data, byte_ptr),
                                              cgutils.unpack_tuple(builder, a.strides)[0]) for a in arrays]
        r0, c0 = args[2], args[3]
        four = ir.Constant(r0.type, 4)

        def at(data, row_stride, row, col):
            offset = builder.add(builder.mul(row, row_stride), builder.mul(col, four))
            return builder.bitcast(builder.gep(data, [offset]), vec.as_pointer())

        rows = [builder.load(at(s_data, s_row, builder.add(r0, ir.Constant(r0.type, i)), c0), align=4)
                for i in range(_LANES)]
        for i, v in enumerate(blocks.transpose8(builder, rows)):
            builder.store(v, at(o_data, o_row, builder.add(c0, ir.Constant(c0.type, i)), r0), align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, inline="always")
def _transpose16(src, out, r0, c0):
    """A 16 x 16 block: whole 64-byte lines read and written."""
    _transpose8(src, out, r0, c0)
    _transpose8(src, out, r0 + _LANES, c0)
    _transpose8(src, out, r0, c0 + _LANES)
    _transpose8(src, out, r0 + _LANES, c0 + _LANES)


@njit(cache=True)
def transpose(src, out):
    """out = src^T, both C-contiguous: in 16 x 16 blocks, the edges one number at a time.

    The outer loop runs along the shorter side (measured on (128, 512) and (512, 128): 1.2x
    and 2.3x faster than the other order).
    """
    rows, cols = src.shape
    tile = 2 * _LANES
    r16, c16 = rows - rows % tile, cols - cols % tile
    if rows <= cols:
        for r0 in range(0, r16, tile):
            for c0 in range(0, c16, tile):
                _transpose16(src, out, r0, c0)
    else:
        for c0 in range(0, c16, tile):
            for r0 in range(0, r16, tile):
                _transpose16(src, out, r0, c0)
    for r in range(rows):
        for c in range(c16 if r < r16 else 0, cols):
            out[c, r] = src[r, c]


@njit(cache=True)
def hidden(y, relu, z, s, d, out):
    """out = (act(y) + z s) d, elementwise on flat arrays of one layout.

    ``relu``: act is max(y, 0), NaN kept (otherwise y is the activation already, torch's
    tanh); ``z``: the noise, or an empty array for none; ``s``, ``d``: float32 sigma and damping
    (d = 1: none, as the published code multiplies only then).
    """
    noisy, damped = z.size > 0, d != np.float32(1.0)
    for i in range(out.size):
        v = y[i]
        if relu and v < np.float32(0.0):
            v = np.float32(0.0)
        if noisy:
            v = v + z[i] * s
        if damped:
            v = v * d
        out[i] = v


@njit(cache=True)
def hidden_grad(g, d, pre, out):
    """out = g d (d = 1: g), then 0 where relu's input ``pre`` was <= 0 (``pre`` empty: no relu).

    As torch's threshold_backward masks by the relu's output (<= 0: 0), which is <= 0 exactly
    where its input is (NaN passes both); flat arrays of one layout.
    """
    relu, damped = pre.size > 0, d != np.float32(1.0)
    for i in range(out.size):
        v = g[i]
        if damped:
            v = v * d
        if relu and pre[i] <= np.float32(0.0):
            v = np.float32(0.0)
        out[i] = v


_EMPTY = np.empty(0, dtype=np.float32)


@dataclass
class Layers:
    """A stretch's layers and what runs between them."""

    patterns: list[Pattern]
    plans: list[blocks.Plan]
    activation: str
    sigma: float
    damping: float
    draws: Draws | None


def _transposed(t: torch.Tensor) -> torch.Tensor:
    out = torch.empty(t.shape[1], t.shape[0])
    transpose(t.numpy(), out.numpy())
    return out


def _flat(t: torch.Tensor) -> np.ndarray:
    return t.numpy().reshape(-1)


def _step(z: torch.Tensor, batch_major: bool, layers: Layers, out_batch_major: bool):
    """The hidden step on weighted sums ``z`` (contiguous, batch-major or not): its output in the
    layout asked for, and what its gradient needs (relu's input or tanh's output), in z's."""
    tanh = layers.activation == "tanh"
    kept = torch.tanh(z) if tanh else z
    noise = None
    if layers.sigma > 0:  # the published code's draws are batch-major, (samples, features)
        noise = layers.draws.normal(tuple(z.shape) if batch_major else (z.shape[1], z.shape[0]))
    y = kept
    if out_batch_major and not batch_major:
        y = _transposed(kept)  # the exit: into the batch-major layout of the noise and the output
    elif noise is not None and not batch_major:
        noise = _transposed(noise)  # between block sums: the noise into their feature-major layout
    out = torch.empty_like(y)
    hidden(_flat(y), not tanh, _EMPTY if noise is None else _flat(noise), np.float32(layers.sigma),
           np.float32(layers.damping), _flat(out))
    if batch_major and not out_batch_major:
        out = _transposed(out)  # the entry: into the block sums' layout
    return out, kept


def _step_grad(g: torch.Tensor, kept: torch.Tensor, transposed: bool, layers: Layers) -> torch.Tensor:
    """The gradient through a hidden step, in the layout of its weighted sums (``kept``'s);
    ``transposed``: ``g`` comes in the other layout."""
    g = _transposed(g) if transposed else g
    tanh = layers.activation == "tanh"
    out = torch.empty_like(kept)
    hidden_grad(_flat(g), np.float32(layers.damping), _EMPTY if tanh else _flat(kept), _flat(out))
    if tanh:  # torch's own, on the layout tanh ran on
        out = torch.ops.aten.tanh_backward(out, kept)
    return out


class Stretch(torch.autograd.Function):
    """Layers i..j from the weighted sums of layer i - 1 (batch-major) to layer j's hidden output
    (batch-major), on each layer's surviving values and bias (``params``: values_i, bias_i, ...)."""

    @staticmethod
    def forward(ctx, z, layers: Layers, *params):
        z = z.detach()
        out, kept = _step(z, True, layers, out_batch_major=False)
        kepts, inputs = [kept], []
        count = len(layers.patterns)
        for k, (pattern, plan) in enumerate(zip(layers.patterns, layers.plans)):
            inputs.append(out)
            v, b = params[2 * k].detach(), params[2 * k + 1].detach()
            z_t = blocks.product(out.numpy(), blocks.rows(pattern), v.numpy(), b.numpy(), plan.inputs,
                                 pattern.shape[0])
            out, kept = _step(z_t, False, layers, out_batch_major=k == count - 1)
            kepts.append(kept)
        ctx.layers, ctx.kepts, ctx.inputs = layers, kepts, inputs
        ctx.save_for_backward(*params[0::2])
        return out

    @staticmethod
    def backward(ctx, g):
        layers, kepts, inputs = ctx.layers, ctx.kepts, ctx.inputs
        values = ctx.saved_tensors
        grads: list[torch.Tensor | None] = [None] * (2 * len(values))
        g, transposed = g.contiguous(), True  # batch-major, into the block sums' layout
        for k in range(len(values) - 1, -1, -1):
            pattern, plan = layers.patterns[k], layers.plans[k]
            dz = _step_grad(g, kepts[k + 1], transposed, layers).numpy()
            dv = torch.empty_like(values[k])
            blocks.survivor_grads(dz, inputs[k].numpy(), *blocks.rows(pattern), plan.batch, dv.numpy())
            db = torch.empty(pattern.shape[0])
            blocks.batch_sums(dz, db.numpy())
            grads[2 * k], grads[2 * k + 1] = dv, db
            v_t = torch.index_select(values[k].detach(), 0, pattern.perm).numpy()
            g = blocks.product(dz, blocks.columns(pattern), v_t, np.zeros(pattern.shape[1], dtype=np.float32),
                               plan.outputs, pattern.shape[1])
            transposed = False
        dz_in = _step_grad(g, kepts[0], True, layers)  # back into the batch-major layout of z
        return dz_in, None, *grads
