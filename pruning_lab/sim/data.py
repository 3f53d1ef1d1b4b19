"""The four-cluster task: train, standard-test and clean-test sets from NumPy generators."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import DataConfig


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # float32, (n, 2)
    y: torch.Tensor  # int64, (n,)

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Datasets:
    train: Split
    standard: Split
    clean: Split


def clusters(n: int, spread: float, centres: np.ndarray, rs: np.random.RandomState) -> Split:
    """Labels uniform over the clusters, then centre + N(0, spread^2) per coordinate."""
    y = rs.randint(0, len(centres), size=n)
    x = centres[y].astype(np.float64)
    if spread > 0:
        x = x + rs.normal(0.0, spread, size=x.shape)
    return Split(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64))


def load(cfg: DataConfig) -> Datasets:
    """The three sets of data seed ``cfg.seed``; their generators are independent of the model's."""
    centres = np.asarray(cfg.centres, dtype=np.float64)
    base = 1000 * cfg.seed
    return Datasets(
        train=clusters(cfg.train_size, cfg.spread, centres, np.random.RandomState(base + 100)),
        standard=clusters(cfg.test_size, cfg.spread, centres, np.random.RandomState(base + 200)),
        clean=clusters(cfg.clean_size, 0.0, centres, np.random.RandomState(base + 300)),
    )
