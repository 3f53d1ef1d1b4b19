"""The equivalence margin of a difference of accuracies, by the rule of experiments/paper2's
``margins.csv``: 2 pp where every accuracy it involves lies within 3 pp of its Bayes ceiling (or
of chance), 5 pp elsewhere. A drop involves the two accuracies it is the difference of."""

from __future__ import annotations

import math
from typing import Iterable

NEAR = 3.0   # pp from the ceiling (or chance) within which an accuracy is "near" it
TIGHT = 2.0  # the margin near a bound, where the room left is small
WIDE = 5.0   # the margin elsewhere


def accuracy_margin(accuracies: Iterable[float], ceiling: float, chance: float | None = None) -> float:
    """The margin (pp) of a comparison whose sides involve ``accuracies`` (%), against ``ceiling``."""
    acc = [float(a) for a in accuracies if a is not None and not math.isnan(a)]
    if not acc:
        return WIDE
    if not math.isnan(ceiling) and all(a >= ceiling - NEAR for a in acc):
        return TIGHT
    if chance is not None and all(abs(a - chance) <= NEAR for a in acc):
        return TIGHT
    return WIDE
