"""Onset: the treatment's time course, scored while it trains, and the epoch of response.

The papers score each treatment once, after it; here the network is also scored at treatment
epoch 0 and every ``onset.every`` epochs, counted over all the treatment's training phases
together, so a multi-phase regimen has one continuous curve. The point at epoch ``e`` is the
network just before its epoch ``e + 1`` trains: a regrow or modulate phase that comes before
that epoch is in it (epoch 0 is after the regrowth, or with the drug on), and a modulated
network is scored with modulation on. The last point, at the total number of training epochs
(always scored), is the treated network, scored as ``metrics.treated`` is (the same common
random numbers), so it equals those values exactly. A treatment without training has that
one point, at epoch 0.
"""

from __future__ import annotations

from typing import Callable

from ..config import StressConfig
from .data import Datasets
from .evaluation import accuracy, combined, internal
from .network import Network

MEASURES = ("combined", "standard", "extreme")


def point(net: Network, data: Datasets, stress: StressConfig, seed: int) -> dict[str, float]:
    """Combined-stress, standard and extreme-noise accuracy (%), exactly as ``evaluate`` scores them."""
    return {"combined": combined(net, data, stress, seed),
            "standard": accuracy(net, data.standard),
            "extreme": internal(net, data, stress.extreme_sigma, seed)}


class Course:
    """Collects the curve: ``before_epoch`` goes to the training loop, ``finish`` after the phases.

    ``score`` scores the network as it is when called; the course counts the epochs itself, so
    it must see every training epoch of the treatment.
    """

    def __init__(self, every: int, score: Callable[[], dict[str, float]]):
        if every < 1:
            raise ValueError(f"onset interval must be >= 1 epoch, got {every}")
        self.every, self.score = every, score
        self.epochs = 0  # training epochs run (or about to run) so far
        self.curve: dict[str, list] = {"epoch": [], **{m: [] for m in MEASURES}}

    def _record(self) -> None:
        self.curve["epoch"].append(self.epochs)
        for m, v in self.score().items():
            self.curve[m].append(v)

    def before_epoch(self, sync: Callable[[], None]) -> None:
        """For ``train``: score the network before this epoch if it is due (``sync`` brings it up to date)."""
        if self.epochs % self.every == 0:
            sync()
            self._record()
        self.epochs += 1

    def finish(self) -> dict[str, list]:
        """The curve, ending with the network as the treatment leaves it."""
        self._record()
        return self.curve


def response(curve: dict[str, list], threshold: float) -> dict:
    """The first scored epoch whose combined-stress accuracy reaches ``threshold``, i.e. is >= it.

    ``epoch`` is None when no point of the curve reaches it: the job never responds.
    """
    epoch = next((e for e, a in zip(curve["epoch"], curve["combined"]) if a >= threshold), None)
    return {"threshold": threshold, "epoch": epoch}
