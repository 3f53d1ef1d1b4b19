"""What the studies share (the regimen search, the sensitivity analysis): they are sweepers that
generate their jobs as they go and run them on the normal launch path.

Every job a study asks for is planned and validated as a sweep's job, run by the sweep's
launcher (its workers, or SLURM), reused from the store when it is there, and shown with the
same progress; a study reads back only the metrics it steers by (``metrics``). Its settings
(``hydra.sweeper.search``, ``hydra.sweeper.sensitivity``) are checked by the config schema.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Mapping, Sequence

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from ..config import ConfigError, checked
from ..launch import signals
from ..launch.grid import rows, say
from ..launch.launcher import PlanLauncher
from ..launch.plan import PlannedJob, Planner, new_token
from ..launch.status import JobStatus, summarize
from ..store import read_json
from . import metrics


class StudySweeper(Sweeper):
    """A study over the knobs of ``params`` (and the command line's), with its settings ``given``
    at ``hydra.sweeper.<key>``, checked as ``schema``."""

    def __init__(self, params: Mapping | None, key: str, schema: type, given: Any) -> None:
        self.params, self.key, self.schema, self.given = dict(params or {}), key, schema, given

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.config = hydra_context, config
        # checked here, where a refusal reaches the command line as it is (Hydra wraps what __init__ raises)
        given = OmegaConf.to_container(self.given, resolve=True) if OmegaConf.is_config(self.given) else self.given
        self.settings = checked(self.schema, given, prefix=f"hydra.sweeper.{self.key}")
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)
        if not isinstance(self.launcher, PlanLauncher):
            raise ConfigError("a study runs on pruning-lab's launchers: hydra/launcher=local, slurm or slurm_local")
        self.dir = Path(str(config.hydra.sweep.dir))

    def planner(self, under: str) -> Planner:
        """Plans jobs into ``under`` of the study's directory."""
        return Planner(self.config, self.hydra_context.config_loader, new_token(), under)

    def run(self, jobs: list[PlannedJob], what: str) -> dict[int, JobStatus]:
        """Run ``jobs`` (a batch of the study) to their end; each one's status. Stopped, it prints
        what the batch did and re-raises."""
        states: dict[int, JobStatus] = {}
        try:
            self.launcher.launch_plan(jobs, states)
        except BaseException:
            signals.settle()
            say(f"{what}: {summarize(rows(jobs, states, finished=False))[0]}")
            raise
        line, problems = summarize(rows(jobs, states, finished=True))
        say(f"{what}: {line}")
        for p in problems:
            say(p)
        return states


def result(job: PlannedJob, states: dict[int, JobStatus]) -> dict | None:
    """The job's result, if it ended with one (its copy in the job's directory)."""
    st = states.get(job.num)
    if st is None or st.state not in ("ran", "reused"):
        return None
    return read_json(job.dir / "result.json")


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def trial_list(numbers) -> str:
    """Trials by number: "trial 19", "trials 19, 31 and 32", "no trial"."""
    numbers = [str(n) for n in numbers]
    if not numbers:
        return "no trial"
    return f"trial {numbers[0]}" if len(numbers) == 1 else f"trials {', '.join(numbers[:-1])} and {numbers[-1]}"


def check_metrics(names: Sequence[str], probe: PlannedJob, what: str = "objective") -> None:
    for name in names:
        metrics.check(name, probe.job, what)


def append_line(path: Path, obj: dict) -> None:
    """One JSON line appended (and flushed to disk) to a study's ledger."""
    import os

    with open(path, "a") as f:
        f.write(json.dumps(obj, sort_keys=True, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_json(path: Path, obj: dict) -> None:
    from ..store import atomic_write

    atomic_write(path, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode())
