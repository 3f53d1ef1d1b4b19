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

import torch
import torch.nn.functional as F
from numba import njit

from .. import numerics

# "contract" lets LLVM fuse each a * b + c into one FMA (haswell, the pinned target, has it);
# no "reassoc", so no sum is reordered
FMA = {"contract"}


@njit(cache=True, fastmath=FMA)
def matmul(a, b, c):
    """c = a @ b for float32 (M, K), (K, N), (M, N), b and c C-contiguous, a in any layout.

    Three rows of c at a time, four k at a time: each row of b loaded feeds twelve FMAs, and
    the rows of c stay in L1 while k runs; a is only read one element at a time, so a
    transposed view serves as well as a copy. Per element the FMAs still come in order
    k = 0, 1, ...
    """
    m, K = a.shape
    n = b.shape[1]
    k4, m3 = K - K % 4, m - m % 3
    c[:] = 0.0
    for i in range(0, m3, 3):
        c0, c1, c2 = c[i], c[i + 1], c[i + 2]
        for k in range(0, k4, 4):
            a00, a01, a02, a03 = a[i, k], a[i, k + 1], a[i, k + 2], a[i, k + 3]
            a10, a11, a12, a13 = a[i + 1, k], a[i + 1, k + 1], a[i + 1, k + 2], a[i + 1, k + 3]
            a20, a21, a22, a23 = a[i + 2, k], a[i + 2, k + 1], a[i + 2, k + 2], a[i + 2, k + 3]
            b0, b1, b2, b3 = b[k], b[k + 1], b[k + 2], b[k + 3]
            # written out row by row: as a loop over rows (or a small array of sums) the
            # compiler kept the sums in memory, several times slower
            for j in range(n):
                x0, x1, x2, x3 = b0[j], b1[j], b2[j], b3[j]
                s = c0[j]
                s += a00 * x0
                s += a01 * x1
                s += a02 * x2
                s += a03 * x3
                c0[j] = s
                t = c1[j]
                t += a10 * x0
                t += a11 * x1
                t += a12 * x2
                t += a13 * x3
                c1[j] = t
                u = c2[j]
                u += a20 * x0
                u += a21 * x1
                u += a22 * x2
                u += a23 * x3
                c2[j] = u
        for k in range(k4, K):
            bk = b[k]
            for j in range(n):
                c0[j] += a[i, k] * bk[j]
                c1[j] += a[i + 1, k] * bk[j]
                c2[j] += a[i + 2, k] * bk[j]
    for i in range(m3, m):
        ci = c[i]
        for k in range(K):
            bk = b[k]
            for j in range(n):
                ci[j] += a[i, k] * bk[j]


def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b by ``matmul`` for float32 tensors; b is copied only if it is not C-contiguous."""
    out = torch.empty(a.shape[0], b.shape[1], dtype=torch.float32)
    matmul(a.detach().numpy(), b.detach().contiguous().numpy(), out.numpy())
    return out


class _Linear(torch.autograd.Function):
    """Layers computed feature-major: z^T = W h^T, so each layer's output, a transposed view,
    is the next one's input with no copy (h^T is already C-contiguous), and W is never copied."""

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
