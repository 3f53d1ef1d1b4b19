"""Engines: how a phase's trainable parameters are laid out and multiplied.

Every engine computes the same function (the masked network); they differ only in which
kernels do the work. ``dense`` keeps full matrices and re-applies the masks after each step;
the work it does is independent of sparsity.
"""

from __future__ import annotations

from typing import Protocol

import torch

from .network import Network, dense_linears, forward


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
        self.masks = [m.to(w.dtype) for m, w in zip(net.masks, net.weights)]
        self.linears = dense_linears(self.weights, self.biases)

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    def __call__(self, x, sigma, generator):
        return forward(x, self.linears, damping=self.net.damping, activation=self.net.activation,
                       sigma=sigma, generator=generator)

    @torch.no_grad()
    def after_step(self) -> None:
        for w, m in zip(self.weights, self.masks):
            w.mul_(m)

    def write_back(self) -> None:
        self.net.weights = [w.detach() for w in self.weights]
        self.net.biases = [b.detach() for b in self.biases]


ENGINES: dict[str, type] = {"dense": Dense}


def choose(engine: str, sparsity: float, sparse_from: float) -> str:
    """The engine a phase runs on: ``auto`` goes sparse once the network is sparse enough."""
    if engine != "auto":
        return engine
    return "sparse" if sparsity >= sparse_from and "sparse" in ENGINES else "dense"


def bind(net: Network, engine: str) -> Trainable:
    return ENGINES[engine](net)
