"""Engines: how a phase's trainable parameters are laid out and multiplied.

Every engine computes the same function (the masked network); they differ only in which
kernels do the work. ``dense`` keeps full matrices and re-applies the masks after each step;
the work it does is independent of sparsity. ``sparse`` keeps only the surviving weight
values, so its work is proportional to them (bench/bench.py measures both).
"""

from __future__ import annotations

import warnings
from typing import Protocol

import torch
import torch.nn.functional as F

from .network import Network, dense_linears, forward

# torch warns, once per process, that sparse CSR support is "beta": spend that warning here,
# silently, rather than in every job's log. The one CSR operation used (sampled_addmm) is
# checked against the dense engine by tests/test_engines.py.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.sparse_csr_tensor(torch.tensor([0, 1]), torch.tensor([0]), torch.ones(1), (1, 1))


class Trainable(Protocol):
    def parameters(self) -> list[torch.Tensor]: ...
    def __call__(self, x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor: ...
    def after_step(self) -> None: ...
    def write_back(self) -> None: ...


class Dense:
    """Full weight matrices; pruned entries are zeroed again after every optimizer step."""

    def __init__(self, net: Network):
        self.net = net
        self.weights = [w.detach().clone().requires_grad_(True) for w in net.weights]
        self.biases = [b.detach().clone().requires_grad_(True) for b in net.biases]
        # a layer without pruned synapses (the whole network at baseline) has nothing to re-zero
        self.pruned = [(w, m.to(w.dtype)) for w, m in zip(self.weights, net.masks) if not bool(m.all())]
        self.linears = dense_linears(self.weights, self.biases)

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    def __call__(self, x, sigma, generator):
        return forward(x, self.linears, damping=self.net.damping, activation=self.net.activation,
                       sigma=sigma, generator=generator)

    @torch.no_grad()
    def after_step(self) -> None:
        for w, m in self.pruned:
            w.mul_(m)

    def write_back(self) -> None:
        self.net.weights = [w.detach() for w in self.weights]
        self.net.biases = [b.detach() for b in self.biases]


class Pattern:
    """One layer's surviving synapses, in CSR order of W (out x in) and of its transpose.

    ``values[k]`` is the weight at (row[k], col[k]), row-major. ``offsets``/``col`` are W's CSR
    row pointers and column indices; ``perm`` reorders the values into the CSR order of W^T,
    whose row pointers and column indices are ``t_offsets``/``t_col``.
    """

    def __init__(self, mask: torch.Tensor):
        n_out, n_in = mask.shape
        self.shape = (n_out, n_in)
        self.flat = mask.flatten().nonzero().squeeze(1)  # row-major = CSR order
        row, self.col = self.flat // n_in, self.flat % n_in
        self.crow = F.pad(mask.sum(1).cumsum(0), (1, 0))
        self.offsets = self.crow[:-1]
        self.perm = torch.argsort(self.col * n_out + row)
        self.t_col = row[self.perm]
        self.t_offsets = F.pad(mask.sum(0).cumsum(0), (1, 0))[:-1]

    def scatter(self, values: torch.Tensor) -> torch.Tensor:
        """The dense (out, in) matrix: ``values`` at the survivors, exactly 0 elsewhere."""
        return values.new_zeros(self.shape[0] * self.shape[1]).index_copy_(0, self.flat, values).view(self.shape)


def _csr_matmul(col: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """(CSR matrix) @ dense, the matrix given by column indices, row offsets and values.

    embedding_bag's weighted sum is exactly this product (row r sums values[k] * dense[col[k]]
    over its bag); its kernel measured ~1.5x faster than torch.mm on a CSR tensor (MKL) at
    these sizes and gives bit-identical results (bench/bench.py --kernels).
    """
    return F.embedding_bag(col, dense, offsets, mode="sum", per_sample_weights=values)


class _SparseLinear(torch.autograd.Function):
    """h @ W^T + b with W given by its surviving values; gradients only for those values.

    Activations live feature-major ((features, batch) contiguous, handed on as a transposed
    view), the layout the sparse kernels need: consecutive layers and the elementwise steps
    between them then never copy. Mixing layouts is what costs (a transposing copy per op).
    """

    @staticmethod
    def forward(ctx, h, values, bias, pattern: Pattern):
        h_t = h.t().contiguous()  # a no-op for the output of a previous sparse layer
        out = _csr_matmul(pattern.col, pattern.offsets, values, h_t).add_(bias.unsqueeze(1))
        ctx.save_for_backward(h_t, values)
        ctx.pattern = pattern
        return out.t()

    @staticmethod
    def backward(ctx, grad):
        h_t, values = ctx.saved_tensors
        p: Pattern = ctx.pattern
        g_t = grad.t().contiguous()  # (out, batch)
        grad_h = None
        if ctx.needs_input_grad[0]:  # not for the first layer, whose input is the data
            grad_h = _csr_matmul(p.t_col, p.t_offsets, values.index_select(0, p.perm), g_t).t()
        # dL/dW at the surviving positions only: (g^T h) sampled at W's pattern
        # the pattern was built from a mask, so the CSR invariants hold by construction
        w = torch.sparse_csr_tensor(p.crow, p.col, values, p.shape, check_invariants=False)
        grad_values = torch.sparse.sampled_addmm(w, g_t, h_t.t(), beta=0.0).values()
        return grad_h, grad_values, g_t.sum(1), None


class Sparse:
    """Trains only the surviving weight values (Adam keeps state for those alone).

    Pruned weights are not parameters at all, so they stay exactly zero without re-masking.
    The forward pass is network.forward itself (same noise draws, same order); only the
    linear maps differ.
    """

    def __init__(self, net: Network):
        self.net = net
        self.patterns = [Pattern(m) for m in net.masks]
        self.values = [w.detach().flatten()[p.flat].clone().requires_grad_(True)
                       for w, p in zip(net.weights, self.patterns)]
        self.biases = [b.detach().clone().requires_grad_(True) for b in net.biases]
        self.linears = [lambda h, v=v, b=b, p=p: _SparseLinear.apply(h, v, b, p)
                        for v, b, p in zip(self.values, self.biases, self.patterns)]

    def parameters(self) -> list[torch.Tensor]:
        return [*self.values, *self.biases]

    def __call__(self, x, sigma, generator):
        return forward(x, self.linears, damping=self.net.damping, activation=self.net.activation,
                       sigma=sigma, generator=generator)

    def after_step(self) -> None:
        pass

    def write_back(self) -> None:
        self.net.weights = [p.scatter(v.detach()) for p, v in zip(self.patterns, self.values)]
        self.net.biases = [b.detach() for b in self.biases]


ENGINES: dict[str, type] = {"dense": Dense, "sparse": Sparse}


def choose(engine: str, sparsity: float, sparse_from: float) -> str:
    """The engine a phase runs on: ``auto`` goes sparse once the network is sparse enough."""
    if engine != "auto":
        return engine
    return "sparse" if sparsity >= sparse_from and "sparse" in ENGINES else "dense"


def bind(net: Network, engine: str) -> Trainable:
    return ENGINES[engine](net)
