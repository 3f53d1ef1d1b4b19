"""Random-stream policies (config key ``rng``): where each stage of a job draws from.

The protocol asks a policy for a stage's draws (``draws``) and for a scoring's (``scores``);
the stages are the same under every policy, only the source of their numbers differs.
"""

from __future__ import annotations

from ..config import Job
from .evaluation import Scores
from .network import Network
from .notebook import Notebook
from .rng import Draws, draws


class Named:
    """rng=named: each purpose has a stream of its own, a pure function of (seed, name) (rng.py)."""

    published = False

    def __init__(self, seed: int):
        self.seed = seed
        self._course: Draws | None = None

    def draws(self, stage: str, cycle: int = 0) -> Draws:
        """Stream ``baseline`` or ``treatment``; every cycle's maintenance continues stream ``longitudinal``."""
        if stage != "maintenance":
            return draws(self.seed, stage)
        if self._course is None:
            self._course = draws(self.seed, "longitudinal")
        return self._course

    def scores(self, stage: str, cycle: int = 0) -> Scores:
        """Every scoring draws each condition from stream ``eval/<condition>``: common random numbers."""
        return Scores(self.seed)

    def pathology(self, pruned: Network) -> None:
        pass


def for_job(job: Job) -> Named | Notebook:
    """The policy ``job.rng`` names, for this job."""
    return Notebook(job) if job.rng == "notebook" else Named(job.seed)
