"""The phase vocabulary treatments are written in, applied to a network in place."""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

from ..config import Job, Modulate, Phase, Regrow, Train
from .data import Split
from .engines import choose
from .network import Network
from .regrowth import regrow
from .rng import Draws
from .training import train

log = logging.getLogger(__name__)


def apply(phase: Phase, net: Network, data: Split, job: Job, draws: Draws, label: str,
          before_epoch: Callable[[Callable[[], None]], None] | None = None) -> None:
    if isinstance(phase, Regrow):
        regrow(net, phase, data, job.data.batch_size, draws)
    elif isinstance(phase, Train):
        engine = choose(job.engine, net.sparsity(), job.engine_sparse_from)
        train(net, phase, data, job.data.batch_size, draws, engine=engine, label=label,
              before_epoch=before_epoch)
    elif isinstance(phase, Modulate):
        net.damping, net.activation = phase.damping, phase.activation
    else:  # pragma: no cover - config validation admits only the kinds above
        raise TypeError(f"unknown phase {phase!r}")


def run_phases(phases: Sequence[Phase], net: Network, data: Split, job: Job, draws: Draws,
               stage: str, timings: dict[str, float] | None = None,
               before_epoch: Callable[[Callable[[], None]], None] | None = None) -> None:
    """Apply ``phases`` in order, logging (and recording) each one's wall time.

    ``before_epoch`` is called before every training epoch of every phase (see ``train``).
    """
    for i, phase in enumerate(phases):
        label = f"{stage}/{i}:{phase.kind}"
        start = time.perf_counter()
        apply(phase, net, data, job, draws, label, before_epoch)
        seconds = time.perf_counter() - start
        if timings is not None:
            timings[label] = timings.get(label, 0.0) + seconds
        log.log(logging.INFO if stage != "maintenance" else logging.DEBUG,
                "%s %s done in %.2fs (sparsity %.1f%%)", label, _describe(phase), seconds, 100 * net.sparsity())


def _describe(phase: Phase) -> str:
    if isinstance(phase, Train):
        noise = f", sigma {phase.noise_start:g}->{phase.noise_end:g}" if phase.noise_start or phase.noise_end else ""
        return f"({phase.epochs} epochs, lr {phase.lr:g}{noise})"
    if isinstance(phase, Regrow):
        return f"({phase.score}, fraction {phase.fraction:g})"
    return f"(damping {phase.damping:g}, {phase.activation})"
