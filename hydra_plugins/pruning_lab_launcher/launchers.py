"""pruning-lab's Hydra launchers: Hydra finds launcher plugins only in this namespace.

Each takes its engine's settings as the plugin it builds on does (joblib's ``n_jobs``,
submitit's queue parameters) and hands the sweep to ``pruning_lab.launcher``, which skips the
stored jobs and runs the others from their validated configs.
"""

from __future__ import annotations

from typing import Any, Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class LocalLauncher(Launcher):
    """Worker processes on this machine (``n_jobs`` as joblib reads it); joblib's other keys are accepted and unused."""

    def __init__(self, n_jobs: Any = -1, **joblib: Any) -> None:
        self.n_jobs = n_jobs
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from pruning_lab.launcher import launch_local

        return launch_local(self, job_overrides, initial_job_idx)
