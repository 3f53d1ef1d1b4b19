"""The sparse engine: only the surviving weight values, their products in CSR form.

Its work is proportional to the survivors rather than to the full matrices, so it pays off
once the network is sparse enough (``engine_sparse_from``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import noise
from ..network import Network
from . import kernels


class Pattern:
    """One layer's surviving synapses, in CSR order of W (out x in) and of its transpose.

    ``values[k]`` is the weight at (row[k], col[k]), row-major. ``crow``/``col`` are W's CSR
    row pointers (rows + 1 of them; ``offsets`` without the last) and column indices; ``perm``
    reorders the values into the CSR order of W^T, whose row pointers and column indices are
    ``t_crow`` (``t_offsets`` without the last) and ``t_col``.
    """

    def __init__(self, mask: torch.Tensor):
        n_out, n_in = mask.shape
        self.shape = (n_out, n_in)
        self.flat = mask.flatten().nonzero().squeeze(1)  # row-major = CSR order
        row, self.col = self.flat // n_in, self.flat % n_in
        self.flat_t = self.col * n_out + row  # the same synapses in W^T, row-major
        self.crow = F.pad(mask.sum(1).cumsum(0), (1, 0))
        self.offsets = self.crow[:-1]
        self.perm = torch.argsort(self.flat_t)
        self.t_col = row[self.perm]
        self.t_crow = F.pad(mask.sum(0).cumsum(0), (1, 0))
        self.t_offsets = self.t_crow[:-1]

    def scatter(self, values: torch.Tensor, column_major: bool = False) -> torch.Tensor:
        """The dense (out, in) matrix: ``values`` at the survivors, exactly 0 elsewhere.

        ``column_major``: stored as its transpose, (in, out) row-major, and returned as a view.
        """
        n_out, n_in = self.shape
        if column_major:
            return values.new_zeros(n_in * n_out).index_copy_(0, self.flat_t, values).view(n_in, n_out).t()
        return values.new_zeros(n_out * n_in).index_copy_(0, self.flat, values).view(self.shape)


def _csr_matmul(col: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """(CSR matrix) @ dense, the matrix given by column indices, row offsets and values.

    embedding_bag's weighted sum is exactly this product (row r sums values[k] * dense[col[k]]
    over its bag); at these sizes its kernel beats torch.mm on a CSR tensor (MKL) and gives
    bit-identical results (timings in docs/performance.md).
    """
    # torch.embedding_bag rather than F.embedding_bag: the same kernel without the Python-side
    # argument checks, which cost more than the product itself in the smallest layers
    return torch.embedding_bag(dense, col, offsets, False, 0, False, values, False)[0]


class Sparse:
    """Trains only the surviving weight values (Adam keeps state for those alone).

    Pruned weights are not parameters at all, so they stay exactly zero without re-masking.
    A step is written out by hand, forward and backward, with no autograd graph: with autograd
    (a custom Function per layer) the products were the smaller part of a step at 95% sparsity,
    autograd's bookkeeping, the per-tensor optimizer calls and the copies between layouts the
    larger (bench/bench.py measures the step).

    - All parameters (each layer's surviving values, then its bias) live in one flat tensor, and
      their gradients in another, so the fused Adam update is one kernel; the per-layer tensors
      are views into them.
    - Activations are feature-major ((features, batch) contiguous), the layout the CSR kernels
      read and write, so consecutive layers never copy.
    - Products with W and W^T are embedding_bag's weighted sums (_csr_matmul); the weight
      gradient at the survivors, the loss and ReLU's backward pass are compiled loops
      (kernels.py), and so is a ReLU layer's bias, activation and noise (kernels.relu_add):
      each one pass where torch needs several calls. A ReLU layer keeps only where it was
      active (a bool per unit and sample) for its backward pass, not the activation itself,
      so its noisy output can overwrite its input: less memory touched per step, the same
      numbers bit for bit.
    - The forward pass restates network.forward (activation, then noise, then damping; no
      noise or damping after the output layer), because the backward pass needs its
      intermediates: the input of every layer and every hidden activation. Damping multiplies
      the next layer's few weights rather than the activations, in both passes. The noise holds
      the very numbers network.forward adds (noise.py fills either layout from one key), so
      both engines see the same random stream; tests/test_engines.py checks all three variants
      against the dense engine (plain, noise, tanh with damping).
    """

    def __init__(self, net: Network):
        self.net = net
        self.patterns = [Pattern(m) for m in net.masks]
        pieces = []
        for w, b, p in zip(net.weights, net.biases, self.patterns):
            pieces += [w.detach().flatten()[p.flat], b.detach()]
        self.flat = torch.cat(pieces)
        self.flat.grad = torch.empty_like(self.flat)  # every step overwrites all of it
        sizes = [t.numel() for t in pieces]
        self.values, self.biases = self.flat.split(sizes)[0::2], self.flat.split(sizes)[1::2]
        # NumPy views for the compiled kernels: same memory, so Adam's updates are seen there
        grads = [t.numpy() for t in self.flat.grad.split(sizes)]
        self.np_grad_values, self.np_grad_biases = grads[0::2], grads[1::2]
        self.np_crow = [p.crow.numpy() for p in self.patterns]
        self.np_col = [p.col.numpy() for p in self.patterns]

    def parameters(self) -> list[torch.Tensor]:
        return [self.flat]

    def step(self, x, y, sigma, draws):
        # its noise is noise.py's stream in the feature-major layout, so it takes named draws only
        generator = draws.generator
        damping, tanh = self.net.damping, self.net.activation == "tanh"
        last = len(self.patterns) - 1
        # forward: keep each layer's input h and what each activation's derivative needs:
        # tanh's output a, or where ReLU was active
        h = x.t().contiguous()
        inputs, acts, weights = [], [], []
        for i, (p, v, b) in enumerate(zip(self.patterns, self.values, self.biases)):
            inputs.append(h)
            # damping scales the hidden layers' outputs: applied to the few weights that read
            # them rather than to the many activations, W (d h) = (d W) h up to rounding
            w = v * damping if i > 0 and damping != 1.0 else v
            weights.append(w)
            z = _csr_matmul(p.col, p.offsets, w, h)
            if i == last:
                z.add_(b.unsqueeze(1))
                break
            if tanh:
                h = a = z.add_(b.unsqueeze(1)).tanh_()
                acts.append(a)
                if sigma > 0:  # the numbers network.forward adds, in this layout (noise.py)
                    h = noise.add_feature_major(a, sigma, generator, out=torch.empty_like(a))
            else:  # bias, ReLU and noise in one pass, in place: z becomes h
                active = torch.empty(z.shape, dtype=torch.bool)
                h = kernels.relu_add(z, b, sigma, generator, active)
                acts.append(active)
        g = torch.empty_like(z)  # d loss / d z of the output layer
        loss = kernels.cross_entropy(z.numpy(), y.numpy(), g.numpy())
        # backward, layer by layer from the output
        for i in range(last, -1, -1):
            p = self.patterns[i]
            # dL/dW at the surviving positions only (the layer's input was damped: d g h^T),
            # and dL/db
            scale = np.float32(damping if i > 0 else 1.0)
            kernels.weight_grad(self.np_crow[i], self.np_col[i], g.numpy(), inputs[i].numpy(), scale,
                                self.np_grad_values[i], self.np_grad_biases[i])
            if i == 0:  # the first layer's input is the data
                break
            # dL/dh = (d W)^T g, the forward pass's damped values in W^T's CSR order.
            # Additive noise does not change the gradient.
            grad_a = _csr_matmul(p.t_col, p.t_offsets, weights[i].index_select(0, p.perm), g)
            # times the activation's derivative, in place: 1 - a^2 for tanh; for ReLU, 1 where active
            if tanh:
                g = torch.ops.aten.tanh_backward.grad_input(grad_a, acts[i - 1], grad_input=grad_a)
            else:
                kernels.relu_backward(grad_a.numpy(), acts[i - 1].numpy())
                g = grad_a
        return loss

    def after_step(self) -> None:
        pass

    def write_back(self) -> None:
        self.net.weights = [p.scatter(v.clone()) for p, v in zip(self.patterns, self.values)]
        self.net.biases = [b.clone() for b in self.biases]
