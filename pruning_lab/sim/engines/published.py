"""The replay's engine: the dense engine's bits, the work on the survivors alone.

The published code trains full weight matrices with torch's products and Adam and masks them
after each step. Every number a survivor sees is the same when the products are MKL's block
sums over the survivors (blocks.py) and Adam runs on the survivors' values only: Adam is
elementwise, and a pruned weight never reaches a survivor (masked after every step, it only
ever enters a product as an exact zero). Layers the block sums do not cover (the narrow first
and last layers, a shape whose blocks this CPU's MKL does not follow, a layer below 90%
sparsity) use torch's product on the scattered matrix, so autograd and the bits are the dense
engine's there too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ... import numerics
from ..network import Network, forward
from . import blocks
from .sparse import Pattern

# measured here against the dense engine: training only the survivors (Adam on fewer values, a
# scattered matrix for torch's products) was level with it at 47.5% sparsity and 20% faster at
# 77.4%; block sums were level with torch's products on a layer at 90% and slower at 85%
SURVIVORS_FROM = 0.6
BLOCKS_FROM = 0.9
BLOCKS_WIDTH = 64  # and on layers at least this wide both ways


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
        self.blocked = [min(m.shape) >= BLOCKS_WIDTH and sparsity >= BLOCKS_FROM
                        for m, sparsity in zip(net.masks, net.layer_sparsity())]
        self.linears = [lambda h, i=i: self._linear(i, h) for i in range(len(self.values))]

    @staticmethod
    def serves(net: Network) -> bool:
        """Whether ``net`` gains: under torch's own products (numerics=native), once it is sparse enough."""
        return numerics.mode() == "native" and net.sparsity() >= SURVIVORS_FROM

    def _linear(self, i: int, h: torch.Tensor) -> torch.Tensor:
        p, v, b = self.patterns[i], self.values[i], self.biases[i]
        plan = blocks.plan(*p.shape, h.shape[0]) if self.blocked[i] else None
        if plan is None:  # torch's product, on the layout the dense engine gives it
            return F.linear(h.contiguous(), p.scatter(v), b)
        return blocks.linear(h, v, b, p, plan)

    def parameters(self) -> list[torch.Tensor]:
        return [self.flat]

    def __call__(self, x, sigma, draws):
        return forward(x, self.linears, damping=self.net.damping, activation=self.net.activation,
                       sigma=sigma, draws=draws)

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
