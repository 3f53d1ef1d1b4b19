"""Compiled loops of the sparse engine's step, where no single torch operation does the job.

Arrays are feature-major, (features, batch) and C-contiguous, as engines.Sparse keeps its
activations; torch tensors are passed as ``tensor.numpy()`` views, so nothing is copied.
Numba compiles each kernel for this machine's CPU on first use and caches the machine code
next to this file (or in NUMBA_CACHE_DIR): compiling takes ~0.9 s, loading it in a later
process ~0.3 s.

``fastmath`` allows fused multiply-adds and reordering a sum, which is what lets the dot
products below use vector registers; the results differ from torch's by float32 rounding
only (tests/test_engines.py compares the engines, bench/bench.py --kernels the kernels).
"""

from __future__ import annotations

import numpy as np
from numba import njit

FAST = {"contract", "reassoc"}


@njit(cache=True)
def relu_backward(grad, active):
    """grad = grad where the ReLU was active, else 0, in place (``active`` from noise.relu_add)."""
    g, a = grad.reshape(-1), active.reshape(-1)
    for i in range(g.shape[0]):
        g[i] = g[i] if a[i] else np.float32(0.0)


@njit(cache=True, fastmath=FAST)
def weight_grad(crow, col, g, h, scale, grad_values, grad_bias):
    """dL/dW at W's surviving positions and dL/db, for a layer z = W (scale h) + b.

    W's pattern is CSR (``crow`` row pointers, ``col`` column indices); g = dL/dz is
    (out, batch), h the layer's input (in, batch) before it is scaled (by damping). The
    gradient of the k-th survivor (r, c) is scale times the dot product g[r] . h[c] over the
    batch, that of bias r the sum of g[r].
    Four survivors of a row are done together so each g[r] load feeds four products:
    ~1.4x faster than one at a time, ~1.5x faster than torch.sparse.sampled_addmm (82 vs
    128 us on the 512x512 layer, bench/bench.py --kernels).
    """
    n_out, batch = g.shape
    for r in range(n_out):
        gr = g[r]
        s = np.float32(0.0)
        for j in range(batch):
            s += gr[j]
        grad_bias[r] = s
        k, end = crow[r], crow[r + 1]
        while k + 4 <= end:
            h0, h1, h2, h3 = h[col[k]], h[col[k + 1]], h[col[k + 2]], h[col[k + 3]]
            s0 = s1 = s2 = s3 = np.float32(0.0)
            for j in range(batch):
                x = gr[j]
                s0 += x * h0[j]
                s1 += x * h1[j]
                s2 += x * h2[j]
                s3 += x * h3[j]
            grad_values[k], grad_values[k + 1] = s0 * scale, s1 * scale
            grad_values[k + 2], grad_values[k + 3] = s2 * scale, s3 * scale
            k += 4
        while k < end:
            hk = h[col[k]]
            s = np.float32(0.0)
            for j in range(batch):
                s += gr[j] * hk[j]
            grad_values[k] = s * scale
            k += 1


@njit(cache=True)
def cross_entropy(z, y, g):
    """Mean cross-entropy of logits z (classes, batch) for labels y; writes g = dL/dz.

    One pass over the few logits instead of the ~10 small torch calls that log_softmax,
    gather and the softmax gradient take (each mostly call overhead at this size).
    The gradient is computed in float32 the way torch computes it, (exp(log_softmax) -
    onehot) / batch: for a confident network the true class's term is a difference of two
    numbers near 1, and computing it more precisely than the dense engine does (in float64)
    made the two engines' trajectories drift apart by ~1e-2 in 5 epochs of a trained network,
    where Adam's normalised steps amplify such differences.
    """
    classes, batch = z.shape
    n = np.float32(batch)
    total = 0.0
    for j in range(batch):
        m = z[0, j]
        for c in range(1, classes):
            m = max(m, z[c, j])
        s = np.float32(0.0)
        for c in range(classes):
            s += np.exp(z[c, j] - m)
        lse = np.log(s)
        for c in range(classes):
            g[c, j] = np.exp((z[c, j] - m) - lse)
        g[y[j], j] -= np.float32(1.0)
        for c in range(classes):
            g[c, j] /= n
        total -= (z[y[j], j] - m) - lse
    return total / batch
