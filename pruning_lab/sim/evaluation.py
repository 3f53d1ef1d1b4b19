"""Accuracy (%) under the papers' named conditions, with common random numbers.

Each condition's noise comes from a generator seeded by (seed, condition) alone, so every
treatment of a seed, and every cycle, is scored on the very same noise draws.
"""

from __future__ import annotations

import torch

from ..config import StressConfig
from .data import Datasets, Split
from .network import Network, logits
from .rng import generator


def accuracy(net: Network, split: Split, *, sigma: float = 0.0, input_sigma: float = 0.0,
             seed: int = 0, condition: str = "") -> float:
    """Percentage correct; noise (if any) drawn from stream ``eval/<condition>`` of ``seed``."""
    g = generator(seed, f"eval/{condition}")
    x = split.x
    if input_sigma > 0:
        x = x + input_sigma * torch.randn(x.shape, generator=g)
    pred = logits(net, x, sigma=sigma, generator=g).argmax(1)
    return 100.0 * (pred == split.y).double().mean().item()


def combined(net: Network, data: Datasets, stress: StressConfig, seed: int) -> float:
    """Standard test set with input noise and internal noise together."""
    return accuracy(net, data.standard, sigma=stress.internal_sigma, input_sigma=stress.input_sigma,
                    seed=seed, condition="combined")


def internal(net: Network, data: Datasets, sigma: float, seed: int) -> float:
    """Standard test set under internal noise ``sigma`` alone (a stress-profile condition)."""
    return accuracy(net, data.standard, sigma=sigma, seed=seed, condition=f"internal/{sigma:g}")


def evaluate(net: Network, data: Datasets, stress: StressConfig, seed: int) -> dict:
    """All the papers' measures of one network, plus its sparsity overall and per layer."""
    return {
        "sparsity": 100.0 * net.sparsity(),
        "layer_sparsity": [100.0 * s for s in net.layer_sparsity()],
        "clean": accuracy(net, data.clean),
        "standard": accuracy(net, data.standard),
        "combined": combined(net, data, stress, seed),
        "profile": {f"{s:g}": internal(net, data, s, seed) for s in stress.profile},
    }
