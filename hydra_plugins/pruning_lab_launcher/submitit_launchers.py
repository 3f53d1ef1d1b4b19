"""pruning-lab's launchers on submitit's engine (the ``cluster`` extra): SLURM, and its local stand-in."""

from __future__ import annotations

from typing import Sequence

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher


class _Submitit(BaseSubmititLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from pruning_lab.launcher import launch_submitit

        return launch_submitit(self, job_overrides, initial_job_idx)

    def __call__(self, base: int, overrides: list[str], values: list[str], num: int) -> dict:  # type: ignore[override]
        from pruning_lab.launcher import run_planned, worker_setup

        return run_planned(worker_setup(self.hydra_context, self.singleton_state, self.bases), base, overrides,
                           values, num)


class SubmititLocalLauncher(_Submitit):
    _EXECUTOR = "local"


class SubmititSlurmLauncher(_Submitit):
    _EXECUTOR = "slurm"
