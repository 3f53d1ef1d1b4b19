"""Named, independent random streams: a generator is a pure function of (seed, stream name)."""

from __future__ import annotations

import zlib

import numpy as np
import torch


def generator(seed: int, stream: str) -> torch.Generator:
    """A torch generator for ``stream`` of run ``seed``, independent of every other stream.

    Streams are keyed by name rather than drawn one after another, so adding a phase or a
    metric never shifts the random numbers another part of the protocol sees.
    """
    key = zlib.crc32(stream.encode())  # stable across processes, unlike hash()
    state = np.random.SeedSequence([seed, key]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))
