"""The dense engine: full weight matrices, as torch multiplies them."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..network import Network, dense_linears, forward


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

    def __call__(self, x, sigma, draws):
        return forward(x, self.linears, damping=self.net.damping, activation=self.net.activation,
                       sigma=sigma, draws=draws)

    def step(self, x, y, sigma, draws):
        loss = F.cross_entropy(self(x, sigma, draws), y)
        for p in self.parameters():
            p.grad = None
        loss.backward()
        return loss.detach()

    @torch.no_grad()
    def after_step(self) -> None:
        for w, m in self.pruned:
            w.mul_(m)

    def write_back(self) -> None:
        self.net.weights = [w.detach() for w in self.weights]
        self.net.biases = [b.detach() for b in self.biases]

