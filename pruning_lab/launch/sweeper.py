"""The sweep: expand the overrides, plan every job, then launch the plan and report what it did.

Hydra calls the sweeper with the command line's overrides. Every job is composed and validated
before anything is written (``plan``), so a typo in the tenth value does not leave nine
finished jobs behind; the sweep directory is then locked for the sweep's lifetime (a second
sweep into it is refused, so each summary and ``sweep.status`` is one sweep's own), and the
plan goes to the launcher. At the end, or when a signal stops the sweep, the summary is
printed ("30 jobs: ran 4, reused 26") and written to ``sweep.status``.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from filelock import FileLock, Timeout
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from ..config import ConfigError
from . import signals
from .launcher import PlanLauncher
from .overrides import expand
from .plan import PlannedJob, Planner, new_token
from .status import JobStatus, report

SWEEP_LOCK = ".sweep.lock"
# the sweep's token, for jobs that another launcher runs through the task function
SWEEP_ENV = "PRUNING_LAB_SWEEP"


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


def run_plan(config, sweep_dir: Path, jobs: list[PlannedJob], launch: Callable, on_end: Callable = lambda: None
             ) -> list[JobStatus]:
    """A planned sweep, run: its directory locked and its config recorded (``multirun.yaml``), its
    jobs launched (``launch(jobs, states)``), its summary printed and written, after ``on_end()``
    however it ends; every job's status. Stopped (a signal, an error), it reports what it did and re-raises."""
    with taken(sweep_dir):
        OmegaConf.save(config, sweep_dir / "multirun.yaml")
        say(f"{len(jobs)} jobs into {sweep_dir}")
        states: dict[int, JobStatus] = {}
        try:
            launch(jobs, states)
        except BaseException:
            on_end()
            report(sweep_dir, rows(jobs, states, finished=False), finished=False)
            say(f"results in {sweep_dir}")
            raise
        on_end()
        final = rows(jobs, states, finished=True)
        report(sweep_dir, final, finished=True)
        say(f"results in {sweep_dir}")
        return final


class PlanningSweeper(Sweeper):
    """Hydra's basic sweep syntax (lists, ``range()``, ``choice()``, ``glob()``), planned before launch."""

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self.params = dict(params or {})

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: Sequence[str]) -> None:
        loader = self.hydra_context.config_loader
        planner = Planner(self.config, loader, new_token())
        jobs = [planner.plan(num, overrides) for num, overrides in enumerate(expand(arguments, self.params, loader))]
        signals.check()  # a Ctrl-C that a library swallowed while the sweep was planned
        # the ending is decided before the summary: a signal after it neither cuts it short nor
        # changes the exit status
        if not all(r.state in ("ran", "reused") for r in run_plan(self.config, planner.sweep_dir, jobs, self.launch,
                                                                  on_end=signals.settle)):
            sys.exit(1)

    def launch(self, jobs: list[PlannedJob], states: dict[int, JobStatus]) -> None:
        if isinstance(self.launcher, PlanLauncher):
            try:
                self.launcher.launch_plan(jobs, states)
            finally:
                self.launcher.close()
            return
        # another launcher (Hydra's basic one, say) runs each job through the task function
        os.environ[SWEEP_ENV] = jobs[0].sweep
        try:
            self.launcher.launch([list(j.overrides) for j in jobs], initial_job_idx=0)
        finally:
            for j in jobs:
                st = JobStatus.read(j.dir)
                if st is not None and st.sweep == j.sweep and st.num == j.num:
                    states[j.num] = st
