"""What pruning-lab's launchers share: Hydra's Launcher interface over a sweep's planned jobs.

The sweeper hands a launcher the plan (``launch_plan``): the launcher settles the stored jobs at once,
runs the others on its engine (joblib's loky workers, or submitit) with one progress display,
and records every outcome in ``states`` as it comes, so that an interrupted sweep still knows
what it did. Launched by another sweeper (Hydra's ``launch``), it plans the jobs itself.
"""

from __future__ import annotations

from typing import Sequence

from hydra.core.utils import JobReturn, JobStatus as HydraJobStatus
from hydra.plugins.launcher import Launcher

from . import signals
from .job import settle
from .plan import PlannedJob, Planner, new_token
from .progress import Progress
from .status import JobStatus


class PlanLauncher(Launcher):
    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.config = hydra_context, config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Hydra's entry for a sweeper of its own: the batch planned here, then run."""
        planner = Planner(self.config, self.hydra_context.config_loader, new_token())
        jobs = [planner.plan(initial_job_idx + i, o) for i, o in enumerate(job_overrides)]
        states: dict[int, JobStatus] = {}
        self.launch_plan(jobs, states)
        returns = []
        for j in jobs:
            r = JobReturn(overrides=list(j.overrides), status=HydraJobStatus.COMPLETED)
            r.return_value = states.get(j.num)
            returns.append(r)
        return returns

    def launch_plan(self, jobs: list[PlannedJob], states: dict[int, JobStatus]) -> None:
        """Run ``jobs``, recording each one's outcome in ``states`` (by job number) as it comes."""
        todo = []
        for j in jobs:
            stored = settle(j)
            if stored is None:
                todo.append(j)
            else:
                states[j.num] = stored
        progress = Progress(len(jobs), [states[j.num] for j in jobs if j.num in states], self.workers())
        try:
            if todo:
                self.start(todo, states, progress)
        finally:
            progress.close()
            signals.kept(states.values())

    def close(self) -> None:
        """Let go of what the engine keeps between batches (a study's workers)."""

    def workers(self) -> int:
        """How many jobs run at once (for the ETA)."""
        return 1

    def start(self, todo: list[PlannedJob], states: dict[int, JobStatus], progress: Progress) -> None:
        """Run the jobs that are not stored: the engine's part."""
        raise NotImplementedError

    @staticmethod
    def stopped(running: list[PlannedJob], states: dict[int, JobStatus]) -> None:
        """The sweep was stopped: the jobs still running are marked interrupted, in their directories
        too; a job that wrote its ending before the stop keeps it (it ended, unseen yet)."""
        for j in running:
            states[j.num] = j.written(ended=True) or j.status("interrupted")
            if states[j.num].state == "interrupted":
                states[j.num].write(j.dir)
