"""The grid sweep (``hydra/sweeper=grid``): expand the overrides, plan every job, launch the plan, report.

Hydra calls the sweeper with the command line's overrides. Every job is composed and validated
before anything is written (``plan``), so a typo in the tenth value does not leave nine
finished jobs behind; the sweep directory is then locked for the sweep's lifetime (a second
sweep into it is refused, so each summary and ``sweep.status`` is one sweep's own), and the
plan goes to the launcher. At the end, or when a signal stops the sweep, the summary is
printed ("30 jobs: ran 4, reused 26") and written to ``sweep.status``.
"""

from __future__ import annotations

import os
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Mapping, Sequence

from filelock import FileLock, Timeout
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from ..config import ConfigError
from . import signals
from .launcher import PlanLauncher
from .overrides import expand
from .plan import PlannedJob, Planner, new_token
from .status import JobStatus, write_sweep_status

SWEEP_LOCK = ".sweep.lock"
# the sweep's token, for jobs that another launcher runs through the task function
SWEEP_ENV = "PRUNING_LAB_SWEEP"


class SweepFailed(SystemExit):
    """A sweep in which a job failed: exit status 1, its summary having named the job."""

    def __init__(self) -> None:
        super().__init__(1)


@contextmanager
def taken(sweep_dir: Path):
    """The sweep directory, locked for this sweep; ``ConfigError`` if another sweep holds it."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(sweep_dir / SWEEP_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(f"another sweep is running in {sweep_dir}; wait for it to end or give this one "
                          f"its own hydra.sweep.dir") from None
    try:
        yield
    finally:
        lock.release()


def say(line: str) -> None:
    try:
        print(f"pruning-lab: {line}", flush=True)
    except OSError:  # the terminal is gone (SIGHUP)
        pass


def rows(jobs: list[PlannedJob], states: Mapping[int, JobStatus], finished: bool) -> list[JobStatus]:
    """Every job's status, in job order; a job with none never started (or, at the end, never reported)."""
    out = []
    for j in jobs:
        st = states.get(j.num)
        if st is None:
            st = j.status("not started" if not finished else "no report")
        elif not finished and st.state == "running":
            st = j.status("interrupted")
        out.append(st)
    return out


class GridSweeper(Sweeper):
    """Hydra's basic sweep syntax (lists, ``range()``, ``choice()``, ``glob()``), planned before launch.

    ``jobs``: every job's overrides, given instead of expanded from ``params`` and the command
    line (the Python API's sweep, ``api.run_sweep``).
    """

    def __init__(self, params: Mapping[str, Any] | None, jobs: Sequence[Sequence[str]] | None = None) -> None:
        self.params, self.jobs = dict(params or {}), jobs

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: Sequence[str]) -> None:
        """Plan every job, then, in the locked sweep directory, launch them and report; ``SweepFailed``
        if one failed. Stopped (a signal, an error), it reports what it did and re-raises."""
        loader = self.hydra_context.config_loader
        planner = Planner(self.config, loader, new_token())
        overrides = self.jobs if self.jobs is not None else expand(arguments, self.params, loader)
        jobs = [planner.plan(num, list(o)) for num, o in enumerate(overrides)]
        signals.check()  # a Ctrl-C that a library swallowed while the sweep was planned
        self.dir = planner.sweep_dir
        states: dict[int, JobStatus] = {}
        with taken(self.dir):
            OmegaConf.save(self.config, self.dir / "multirun.yaml")
            say(f"{len(jobs)} jobs into {self.dir}")
            try:
                if isinstance(self.launcher, PlanLauncher):
                    with closing(self.launcher):
                        self.launcher.launch_plan(jobs, states)
                else:  # another launcher (Hydra's basic one, say) runs each job through the task function
                    os.environ[SWEEP_ENV] = jobs[0].sweep
                    try:
                        self.launcher.launch([list(j.overrides) for j in jobs], initial_job_idx=0)
                    finally:
                        states.update({j.num: st for j in jobs if (st := JobStatus.read(j.dir)) is not None
                                       and st.sweep == j.sweep and st.num == j.num})
            except BaseException:
                signals.settle()  # a second Ctrl-C must not cut the summary short
                write_sweep_status(self.dir, rows(jobs, states, finished=False), finished=False)
                say(f"results in {self.dir}")
                raise
            # the ending is decided before the summary: a signal after it neither cuts it short
            # nor changes the exit status
            signals.settle()
            final = rows(jobs, states, finished=True)
            write_sweep_status(self.dir, final, finished=True)
            say(f"results in {self.dir}")
        if not all(r.state in ("ran", "reused") for r in final):
            raise SweepFailed()
