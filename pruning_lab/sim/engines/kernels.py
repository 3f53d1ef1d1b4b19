"""Compiled loops of the sparse engine's step, where no single torch operation does the job.

Arrays are feature-major, (features, batch) and C-contiguous, as engines.Sparse keeps its
activations; torch tensors are passed as ``tensor.numpy()`` views, so nothing is copied.
Numba compiles each kernel for this machine's CPU on first use and caches the machine code
next to this file (or in NUMBA_CACHE_DIR), so later processes only load it.

The fused ReLU layer (relu_add) inlines noise.py's stream. Numba's cache checks only the file
that defines a kernel: after editing noise.py, delete the cache (``__pycache__/*.nbi``,
``*.nbc`` here) or tests/test_noise.py will see relu_add add the old numbers.

``fastmath`` allows fused multiply-adds and reordering a sum, which is what lets the dot
products below use vector registers; the results differ from torch's by float32 rounding
only (tests/test_engines.py compares the engines; docs/performance.md has the kernels' timings).
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, uint64

from .. import noise

FAST = {"contract", "reassoc"}


@njit(cache=True)
def relu_backward(grad, active):
    """grad = grad where the ReLU was active, else 0, in place (``active`` from relu_add)."""
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
    Four survivors of a row are done together so each g[r] load feeds four products, which
    beats both one at a time and torch.sparse.sampled_addmm (timings in docs/performance.md).
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


def relu_add(z: torch.Tensor, bias: torch.Tensor, sigma: float, generator: torch.Generator | None,
             active: torch.Tensor) -> torch.Tensor:
    """z = relu(z + bias) + sigma * noise in place, for contiguous (features, batch) tensors.

    One pass for what is otherwise three (bias, ReLU, noise), the numbers those of
    ``noise.add_feature_major`` (the same key is drawn, and only if sigma > 0). ``active`` (bool,
    same shape) receives where the ReLU passed its input, all its backward pass needs: the
    activation itself need not be kept beside the noisy one.
    """
    key = noise.draw_key(generator) if sigma > 0 else np.uint64(0)
    _relu_add(key, np.float32(sigma), bias.numpy(), z.numpy(), active.numpy())
    return z


@njit(cache=True, fastmath={"contract"})
def _relu_add_row(state, sigma, bias, z, active):
    """One feature-major row of relu_add: pairs from SplitMix64 state ``state`` onwards.

    A function of its own, as noise's _add_row_pair: inlined into the loop over rows, the
    compiler stopped vectorizing it.
    """
    for q in range(z.shape[0] // 2):
        state += noise.GAMMA
        z0, z1 = noise.normal_pair_at(state)
        x0, x1 = z[2 * q] + bias, z[2 * q + 1] + bias
        active[2 * q], active[2 * q + 1] = x0 > np.float32(0.0), x1 > np.float32(0.0)
        z[2 * q] = max(x0, np.float32(0.0)) + sigma * z0
        z[2 * q + 1] = max(x1, np.float32(0.0)) + sigma * z1


@njit(cache=True, fastmath={"contract"})
def _relu_add(key, sigma, bias, z, active):
    """z = relu(z + bias) + sigma * noise in place, for (features, batch) arrays; see relu_add."""
    n_units, batch = z.shape
    if sigma != 0 and batch % 2 == 0:  # the pairs of row u start at pair u * batch / 2
        for u in range(n_units):
            _relu_add_row(key + uint64(u * (batch // 2)) * noise.GAMMA, sigma, bias[u], z[u], active[u])
        return
    for u in range(n_units):
        for b in range(batch):
            x = z[u, b] + bias[u]
            active[u, b] = x > np.float32(0.0)
            z[u, b] = max(x, np.float32(0.0))
    if sigma != 0:  # an odd batch: pairs straddle units, so the flat loop adds the noise
        flat = z.reshape(-1)
        # from a copy: reading and writing one array, the compiler does not vectorize the loop
        noise.add_flat(key, sigma, flat.copy(), flat)
