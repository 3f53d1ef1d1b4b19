"""The feed-forward network: masked weight matrices, internal noise, damping and activation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import torch

from . import products
from ..config import ModelConfig
from .rng import Draws

ACTIVATION = {"relu": torch.relu, "tanh": torch.tanh}


@dataclass
class Network:
    """Weights are (out, in); a False in ``masks`` is a pruned synapse whose weight is exactly 0."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    masks: list[torch.Tensor]
    damping: float = 1.0
    activation: str = "relu"

    @property
    def modulated(self) -> bool:
        return self.damping != 1.0 or self.activation != "relu"

    def unmodulated(self) -> "Network":
        """Same synapses with tonic inhibition withdrawn ("off drug"); shares the tensors."""
        return replace(self, damping=1.0, activation="relu")

    def clone(self) -> "Network":
        return Network(
            [w.clone() for w in self.weights], [b.clone() for b in self.biases],
            [m.clone() for m in self.masks], self.damping, self.activation,
        )

    def sparsity(self, published: bool = False) -> float:
        """Share of pruned weights over all weight matrices (biases excluded).

        ``published``: pruned / total, as the published code divides; 1 - kept / total rounds
        otherwise in the last bit for some counts.
        """
        total = sum(m.numel() for m in self.masks)
        kept = sum(int(m.sum()) for m in self.masks)
        return (total - kept) / total if published else 1.0 - kept / total

    def layer_sparsity(self) -> list[float]:
        return [1.0 - int(m.sum()) / m.numel() for m in self.masks]

    def state(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for i, (w, b, m) in enumerate(zip(self.weights, self.biases, self.masks)):
            out[f"weight{i}"], out[f"bias{i}"], out[f"mask{i}"] = w, b, m
        return out

    @staticmethod
    def from_state(state: dict[str, torch.Tensor]) -> "Network":
        n = sum(1 for k in state if k.startswith("weight"))
        return Network(
            [state[f"weight{i}"] for i in range(n)], [state[f"bias{i}"] for i in range(n)],
            [state[f"mask{i}"].bool() for i in range(n)],
        )


def init(cfg: ModelConfig, generator: torch.Generator) -> Network:
    """Dense network with PyTorch's default nn.Linear initialisation: U(-1/sqrt(fan_in), +)."""
    sizes = [cfg.inputs, *cfg.hidden, cfg.classes]
    weights, biases = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        # kaiming_uniform_(a=sqrt(5)) on the weight reduces to this same bound
        weights.append(torch.empty(fan_out, fan_in).uniform_(-bound, bound, generator=generator))
        biases.append(torch.empty(fan_out).uniform_(-bound, bound, generator=generator))
    masks = [torch.ones_like(w, dtype=torch.bool) for w in weights]
    return Network(weights, biases, masks)


Linear = Callable[[torch.Tensor], torch.Tensor]


def forward(
    x: torch.Tensor,
    linears: Sequence[Linear],
    *,
    damping: float = 1.0,
    activation: str = "relu",
    sigma: float = 0.0,
    draws: Draws | None = None,
) -> torch.Tensor:
    """Logits. Hidden layers: act(Wh+b), then + N(0, sigma^2) if sigma > 0, then * damping."""
    h = x
    last = len(linears) - 1
    for i, linear in enumerate(linears):
        h = linear(h)
        if i == last:
            break
        h = hidden(h, damping=damping, activation=activation, sigma=sigma, draws=draws)
    return h


def hidden(z: torch.Tensor, *, damping: float, activation: str, sigma: float, draws: Draws | None) -> torch.Tensor:
    """A hidden layer's output from its weighted sums: act(z), then + N(0, sigma^2) if sigma > 0, then * damping."""
    h = ACTIVATION[activation](z)
    if sigma > 0:
        h = draws.noise(h, sigma)
    if damping != 1.0:
        h = h * damping
    return h


def dense_linears(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]) -> list[Linear]:
    linear = products.linear()
    return [lambda h, w=w, b=b: linear(h, w, b) for w, b in zip(weights, biases)]


@torch.no_grad()
def logits(net: Network, x: torch.Tensor, sigma: float = 0.0, draws: Draws | None = None) -> torch.Tensor:
    """Inference with the network's own modulation state; internal noise (sigma > 0) from ``draws``."""
    return forward(x, dense_linears(net.weights, net.biases), damping=net.damping,
                   activation=net.activation, sigma=sigma, draws=draws)
