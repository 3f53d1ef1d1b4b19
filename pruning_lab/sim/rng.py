"""Named, independent random streams: a generator is a pure function of (seed, stream name)."""

from __future__ import annotations

import zlib

import numpy as np
import torch

from . import noise
from .data import Split


def generator(seed: int, stream: str) -> torch.Generator:
    """A torch generator for ``stream`` of run ``seed``, independent of every other stream.

    Streams are keyed by name rather than drawn one after another, so adding a phase or a
    metric never shifts the random numbers another part of the protocol sees.
    """
    key = zlib.crc32(stream.encode())  # stable across processes, unlike hash()
    state = np.random.SeedSequence([seed, key]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


class Draws:
    """The kinds of random draw a phase makes, here from one generator (rng=named).

    rng=notebook (notebook.py) makes the same kinds the published code's way; the phases
    call only these methods, so the policy decides where their numbers come from.
    ``published``: the phases also round as the published code does where that changes a
    bit (docs/reproducibility.md lists where), as a replay of it must.
    """

    def __init__(self, generator: torch.Generator, published: bool = False):
        self.generator, self.published = generator, published

    def order(self, n: int) -> torch.Tensor:
        """One epoch's order of ``n`` training samples."""
        return torch.randperm(n, generator=self.generator)

    def noise(self, h: torch.Tensor, sigma: float) -> torch.Tensor:
        """``h`` + N(0, sigma^2) for a (batch, features) activation, as a new tensor."""
        return noise.add(h, sigma, self.generator)

    def normal(self, shape: tuple[int, ...] | int) -> torch.Tensor:
        """Standard normal numbers (regrown weights, input noise)."""
        return torch.randn(shape, generator=self.generator)

    def passes(self, split: Split):
        """The (inputs, labels) batches of one scoring pass: here the whole set at once."""
        return [(split.x, split.y)]

    def percent(self, hits: torch.Tensor) -> float:
        """Accuracy (%) of a pass's hits (bool): 100 x the mean, or 100 x correct / total as published."""
        if self.published:
            return 100.0 * int(hits.sum()) / hits.numel()
        return 100.0 * hits.double().mean().item()


def draws(seed: int, stream: str, published: bool = False) -> Draws:
    """The draws of stream ``stream`` of run ``seed``."""
    return Draws(generator(seed, stream), published)
