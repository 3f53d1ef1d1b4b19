"""Accuracy (%) under the papers' named conditions, with common random numbers.

Each condition's noise comes from a generator seeded by (seed, condition) alone, so every
treatment of a seed, and every cycle, is scored on the very same noise draws. Under
rng=notebook a scoring may be handed the published code's draws instead (``scores``).
"""

from __future__ import annotations

import torch

from ..config import StressConfig
from .data import Datasets, Split
from .network import Network, logits
from .rng import Draws, draws as named_draws


class Scores:
    """Where each scoring pass draws from: stream ``eval/<condition>`` of ``seed``, fresh each pass."""

    def __init__(self, seed: int, published: bool = False):
        self.seed, self.published = seed, published

    def __call__(self, condition: str) -> Draws:
        return named_draws(self.seed, f"eval/{condition}", self.published)


def accuracy(net: Network, split: Split, *, sigma: float = 0.0, input_sigma: float = 0.0,
             seed: int = 0, condition: str = "", draws: Draws | None = None) -> float:
    """Percentage correct; noise (if any) from ``draws``, by default stream ``eval/<condition>`` of ``seed``."""
    draws = draws or Scores(seed)(condition)
    hits = []
    for x, y in draws.passes(split):
        if input_sigma > 0:
            x = x + input_sigma * draws.normal(x.shape)
        hits.append(logits(net, x, sigma=sigma, draws=draws).argmax(1) == y)
    return draws.percent(torch.cat(hits))


def combined(net: Network, data: Datasets, stress: StressConfig, seed: int, scores: Scores | None = None) -> float:
    """Standard test set with input noise and internal noise together."""
    return accuracy(net, data.standard, sigma=stress.internal_sigma, input_sigma=stress.input_sigma,
                    draws=(scores or Scores(seed))("combined"))


def internal(net: Network, data: Datasets, sigma: float, seed: int, scores: Scores | None = None) -> float:
    """Standard test set under internal noise ``sigma`` alone (a stress-profile condition)."""
    return accuracy(net, data.standard, sigma=sigma, draws=(scores or Scores(seed))(f"internal/{sigma:g}"))


def evaluate(net: Network, data: Datasets, stress: StressConfig, seed: int, scores: Scores | None = None) -> dict:
    """All the papers' measures of one network, plus its sparsity overall and per layer."""
    scores = scores or Scores(seed)
    return {
        "sparsity": 100.0 * net.sparsity(scores.published),
        "layer_sparsity": [100.0 * s for s in net.layer_sparsity()],
        "clean": accuracy(net, data.clean, draws=scores("clean")),
        "standard": accuracy(net, data.standard, draws=scores("standard")),
        "combined": combined(net, data, stress, seed, scores),
        "profile": {f"{s:g}": internal(net, data, s, seed, scores) for s in stress.profile},
    }
