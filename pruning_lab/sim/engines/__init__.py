"""Engines: how a phase's trainable parameters are laid out and multiplied.

Every engine computes the same function (the masked network); they differ only in which
kernels do the work. ``dense`` keeps full matrices and re-applies the masks after each step;
the work it does is independent of sparsity. ``sparse`` keeps only the surviving weight
values, so its work is proportional to them (bench/bench.py measures both).
"""

from __future__ import annotations

from typing import Protocol

import torch

from ...config import ENGINES
from ..network import Network
from ..rng import Draws
from .dense import Dense
from .published import Published
from .sparse import Sparse

__all__ = ["ENGINES", "Dense", "Published", "Sparse", "Trainable", "bind", "choose"]


class Trainable(Protocol):
    def parameters(self) -> list[torch.Tensor]: ...
    def step(self, x: torch.Tensor, y: torch.Tensor, sigma: float, draws: Draws) -> torch.Tensor | float:
        """Forward pass and mean cross-entropy loss; leaves the gradients in parameters()' .grad."""
        ...
    def after_step(self) -> None: ...
    def write_back(self) -> None: ...



def choose(engine: str, sparsity: float, sparse_from: float) -> str:
    """The engine a phase runs on: ``auto`` goes sparse once the network is sparse enough."""
    if engine != "auto":
        return engine
    return "sparse" if sparsity >= sparse_from else "dense"


def bind(net: Network, engine: str, published: bool = False) -> Trainable:
    """``net`` laid out for training on ``engine`` (one of config.ENGINES).

    ``published`` (rng=notebook): the dense engine's bits are torch's products', which the
    Published engine gives on the survivors alone wherever it can (engines/published.py).
    """
    if engine == "dense" and published and Published.serves(net):
        return Published(net)
    return {"dense": Dense, "sparse": Sparse}[engine](net)
