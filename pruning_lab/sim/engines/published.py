"""The replay's engine: the dense engine's bits, the work on the survivors alone.

The published code trains full weight matrices with torch's products and Adam and masks them
after each step. Every number a survivor sees is the same when the products are MKL's block
sums over the survivors (blocks.py) and Adam runs on the survivors' values only: Adam is
elementwise, and a pruned weight never reaches a survivor (masked after every step, it only
ever enters a product as an exact zero). Consecutive hidden layers the block sums cover run as
one stretch (stretch.py); the others (the narrow first and last layers, a shape whose blocks
this CPU's MKL does not follow, a layer below 90% sparsity) use torch's product on the
scattered matrix and torch's elementwise operations, so autograd and the bits are the dense
engine's there too.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ... import numerics
from ..network import Network, hidden
from . import blocks
from .sparse import Pattern
from .stretch import WIDTH_MULTIPLE, Layers, Stretch

# measured here against the dense engine: training only the survivors (Adam on fewer values, a
# scattered matrix for torch's products) was level with it at 47.5% sparsity and 20% faster at
# 77.4%; block sums were level with torch's products on a layer at 90% and slower at 85%
SURVIVORS_FROM = 0.6
BLOCKS_FROM = 0.9
BLOCKS_WIDTH = 64  # and on layers at least this wide both ways (and a multiple of stretch.WIDTH_MULTIPLE)


@functools.lru_cache(maxsize=None)
def column_major(n_out: int, n_in: int, batch: int) -> bool:
    """Whether a layer of this shape holds its dense matrix column-major: for a narrow input,
    where autograd's weight gradient is then (h^T g)^T, which MKL computes 8x faster than the
    g^T h it takes for a row-major one, if forward and gradient keep their bits here (checked)."""
    if n_in >= BLOCKS_WIDTH:
        return False
    gen = torch.Generator().manual_seed(0)
    h, g = torch.randn(batch, n_in, generator=gen), torch.randn(batch, n_out, generator=gen)
    w, b = torch.randn(n_out, n_in, generator=gen), torch.randn(n_out, generator=gen)
    rows, cols = w.clone().requires_grad_(True), w.t().contiguous().requires_grad_(True)
    z_rows, z_cols = F.linear(h, rows, b), F.linear(h, cols.t(), b)
    z_rows.backward(g)
    z_cols.backward(g)
    return torch.equal(z_rows, z_cols) and torch.equal(rows.grad, cols.grad.t())


class Published:
    """Each layer's surviving weight values and its bias; the products as the dense engine's.

    All of them live in one flat tensor, the optimizer's one parameter, so torch.optim.Adam's
    step is one call of each of its elementwise operations rather than one per tensor; the
    per-layer tensors autograd fills are views into it.
    """

    def __init__(self, net: Network):
        self.net = net
        self.patterns = [Pattern(m) for m in net.masks]
        pieces = [w.detach().flatten()[p.flat] for w, p in zip(net.weights, self.patterns)]
        pieces += [b.detach() for b in net.biases]
        self.flat = torch.cat(pieces)
        # leaves of autograd's graph that share the flat tensor's memory: Adam's update of it
        # is what the next forward pass reads
        leaves = [t.requires_grad_(True) for t in self.flat.split([t.numel() for t in pieces])]
        self.values, self.biases = leaves[:len(net.weights)], leaves[len(net.weights):]
        last = len(net.masks) - 1
        # block sums in stretches between torch's layers: never the first or the last layer
        self.blocked = [0 < i < last and min(m.shape) >= BLOCKS_WIDTH and sparsity >= BLOCKS_FROM
                        and all(n % WIDTH_MULTIPLE == 0 for n in m.shape)
                        for i, (m, sparsity) in enumerate(zip(net.masks, net.layer_sparsity()))]

    @staticmethod
    def serves(net: Network) -> bool:
        """Whether ``net`` gains: under torch's own products (numerics=native), once it is sparse enough."""
        return numerics.mode() == "native" and net.sparsity() >= SURVIVORS_FROM

    def _plans(self, batch: int) -> list[blocks.Plan | None]:
        """Each layer's block cuts for this batch size, None where torch's product serves."""
        return [blocks.plan(*p.shape, batch) if on else None for p, on in zip(self.patterns, self.blocked)]

    def parameters(self) -> list[torch.Tensor]:
        return [self.flat]

    def __call__(self, x, sigma, draws):
        net, plans = self.net, self._plans(x.shape[0])
        h, i, last = x, 0, len(self.values) - 1
        while True:
            # layer i on torch's product, on the layout the dense engine gives it
            pattern, h = self.patterns[i], h.contiguous()
            w = pattern.scatter(self.values[i], column_major=column_major(*pattern.shape, h.shape[0]))
            z = F.linear(h, w, self.biases[i])
            if i == last:
                return z
            j = i + 1
            while plans[j] is not None:
                j += 1
            if j == i + 1:
                h = hidden(z, damping=net.damping, activation=net.activation, sigma=sigma, draws=draws)
            else:  # layers i + 1 .. j - 1 on block sums, from z to the hidden output of j - 1
                layers = Layers(self.patterns[i + 1:j], plans[i + 1:j], net.activation, sigma, net.damping, draws)
                params = [t for k in range(i + 1, j) for t in (self.values[k], self.biases[k])]
                h = Stretch.apply(z, layers, *params)
            i = j

    def step(self, x, y, sigma, draws):
        loss = F.cross_entropy(self(x, sigma, draws), y)
        leaves = [*self.values, *self.biases]
        for p in leaves:
            p.grad = None
        loss.backward()
        self.flat.grad = torch.cat([p.grad for p in leaves])
        return loss.detach()

    def after_step(self) -> None:
        pass  # pruned weights are not parameters: nothing to re-zero

    def write_back(self) -> None:
        self.net.weights = [p.scatter(v.detach().clone()) for p, v in zip(self.patterns, self.values)]
        self.net.biases = [b.detach().clone() for b in self.biases]
