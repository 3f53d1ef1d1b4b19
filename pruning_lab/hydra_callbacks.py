"""Hydra callbacks: refuse a bad config before anything is written; report what a sweep did.

Hydra creates run and sweep directories before the task function runs, so validation has to
happen in the run/multirun start callbacks. For a multirun every job of the sweep is composed
(once per distinct combination of config groups, ``jobs.Composer``) and checked up front, so
a typo in the tenth value does not leave nine finished jobs behind; the launcher then runs
exactly these configs. The sweep directory is locked for the sweep's lifetime: a second sweep
into the same directory is refused, so each summary and ``sweep.status`` is one sweep's own.

Each job records its outcome in ``job.status`` in its own directory; at the end of the sweep
``ReportSweep`` prints one line ("30 jobs: ran 4, reused 26"), plus one line per failed job,
and exits non-zero if any job failed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from filelock import FileLock, Timeout

from .config import ConfigError, Job
from .jobs import Composer, Planned, Refused, workers
from .overrides import sweep_arguments
from .store import BadStore, atomic_write, check_root
from .task import STATUS, SWEEP_ENV

SWEEP_STATUS = "sweep.status"
SWEEP_LOCK = ".sweep.lock"


def refuse(message: str) -> None:
    print(f"pruning-lab: error: {message}", file=sys.stderr)
    sys.exit(2)


def _sweep_arguments(config: DictConfig) -> list:
    """The sweep's overrides, parsed: the command line's and the preset's ``hydra.sweeper.params``."""
    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    # the loader lets glob() list a group's options
    return sweep_arguments(task, config.hydra.sweeper.get("params"), GlobalHydra.instance().config_loader())


def sweep_overrides(config: DictConfig) -> list[list[str]]:
    """Every job's overrides, expanded as Hydra's basic sweeper does."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return [list(job) for batch in BasicSweeper.split_arguments(_sweep_arguments(config), None) for job in batch]


def empty_sweeps(config: DictConfig) -> list[str]:
    """The sweep overrides that expand to no value at all (``seed='range(1,0)'``)."""
    empty = []
    for o in _sweep_arguments(config):
        if o.is_sweep_override() and not list(o.sweep_string_iterator()):
            empty.append(o.input_line or f"{o.key_or_group}={o.get_value_element_as_str()}")
    return empty


_NOISE = ("See https://", "Set the environment variable", "full_key:", "object_type=", "reference_type=",
          "provider=", "Config search path")


def one_line(e: BaseException) -> str:
    """A Hydra, OmegaConf or config error as one line, without the advice to read a traceback."""
    text = str(e).strip() or type(e).__name__
    cause = e.__cause__
    if cause is not None and type(cause).__module__.startswith("omegaconf"):
        text += "\n" + str(cause)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    cut = next((i for i, ln in enumerate(lines) if ln.startswith("Config search path")), len(lines))
    lines = [ln for ln in lines[:cut] if not ln.startswith(_NOISE)]
    # a missing group option: Hydra lists the choices on the lines after "Available options"
    at = next((i for i, ln in enumerate(lines) if ln.startswith("Available options")), None)
    if at is not None:
        head = re.sub(r"^In '[^']*': ", "", " ".join(lines[:at]))
        return f"{head}; choose from: {', '.join(lines[at + 1:])}"
    if not lines:
        return type(e).__name__
    return " ".join(ln if i == len(lines) - 1 or ln[-1] in ".:;?!" else ln + ";" for i, ln in enumerate(lines))


# -- what this process's sweep is --------------------------------------------------------------


@dataclass
class Sweep:
    """The sweep launched by this process: its directory, its jobs, its status token."""

    dir: Path
    config_id: int = 0
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    started: float = field(default_factory=time.time)
    jobs: list[tuple[list[str], str]] | None = None  # (overrides, config hash) in job order
    planned: list[Planned] | None = None
    composer: Composer | None = None
    # each job's outcome, kept by pruning-lab's launchers (None: another launcher, read job.status files)
    states: dict[int, dict] | None = None
    lock: FileLock | None = None


_sweep: Sweep | None = None


def current_sweep(config: DictConfig | None = None) -> Sweep | None:
    """The sweep this process launched (created from ``config`` on first use)."""
    global _sweep
    if config is not None and (_sweep is None or _sweep.config_id != id(config)):
        _sweep = Sweep(Path(str(config.hydra.sweep.dir)), id(config))
        os.environ[SWEEP_ENV] = _sweep.token  # inherited by joblib workers and submitit jobs
    return _sweep


def plan_job(config: DictConfig, num: int, overrides: list[str]) -> Planned:
    """Job ``num`` of this process's sweep, composed and validated; refused in one line if bad."""
    sweep = current_sweep(config)
    if sweep.composer is None:
        sweep.composer = Composer(config, GlobalHydra.instance().config_loader())
    try:
        return sweep.composer.plan(num, overrides)
    except BadStore as e:
        refuse(str(e))
    except ConfigError as e:
        refuse(f"{e} (job {' '.join(overrides)})")
    except Exception as e:  # unknown group option, bad override syntax, ...
        refuse(f"{one_line(e)} (job {' '.join(overrides)})")


def _take_sweep_dir(sweep: Sweep) -> None:
    """Lock the sweep directory, or refuse it if another sweep holds it."""
    sweep.dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(sweep.dir / SWEEP_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        refuse(f"another sweep is running in {sweep.dir}; wait for it to end or give this one its own "
               f"hydra.sweep.dir")
    sweep.lock = lock


class ValidateConfig(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            Job.from_config(config)
            check_root(OmegaConf.select(config, "paths.store"))
        except (ConfigError, BadStore) as e:
            refuse(str(e))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            jobs = sweep_overrides(config)
            str(config.hydra.sweep.dir)  # resolved once here: every job's ${now:...} is this one
            if "n_jobs" in config.hydra.launcher:
                workers(config.hydra.launcher.n_jobs)
        except Refused as e:
            refuse(str(e))
        except Exception as e:
            message = one_line(e)
            if "INTERVAL_SWEEP" in message:
                message = "interval() needs a sweeper that samples (Optuna, Nevergrad); this one takes lists, " \
                          "range(), choice() and glob()"
            refuse(message)
        if not jobs:
            refuse(f"the sweep has no jobs: {', '.join(empty_sweeps(config)) or 'a swept value'} is empty")
        sweep = current_sweep(config)
        sweep.planned = [plan_job(config, num, overrides) for num, overrides in enumerate(jobs)]
        sweep.jobs = [(p.overrides, p.config_hash) for p in sweep.planned]
        _take_sweep_dir(sweep)


# -- the end-of-sweep report --------------------------------------------------------------------


def read_statuses(sweep: Sweep) -> dict[int, dict]:
    """This sweep's job statuses by job number (statuses of earlier sweeps are ignored)."""
    found: dict[int, dict] = {}
    if not sweep.dir.is_dir():
        return found
    for path in sweep.dir.rglob(STATUS):
        try:
            st = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(st, dict) or not isinstance(st.get("num"), int):
            continue
        # a job that did not inherit the token (a cluster that does not pass the environment
        # on) counts if it wrote its status after this sweep started
        ours = st.get("sweep") == sweep.token or (st.get("sweep") is None and path.stat().st_mtime >= sweep.started - 60)
        if ours:
            st["dir"] = str(path.parent)
            found[st["num"]] = st
    return found


def summarize(sweep: Sweep, finished: bool = True) -> tuple[str, list[str], list[dict]]:
    """One summary line, one line per failed (or, if not ``finished``, interrupted) job, and every job's row."""
    statuses = sweep.states if sweep.states is not None else read_statuses(sweep)
    if sweep.jobs is not None:
        rows = []
        for num, (overrides, config_hash) in enumerate(sweep.jobs):
            st = dict(statuses.get(num) or {"state": "not started" if not finished else "no report"})
            if not finished and st["state"] == "running":
                st["state"] = "interrupted"
            rows.append({"num": num, "overrides": overrides, "config_hash": config_hash, **st})
    else:
        rows = [statuses[n] for n in sorted(statuses)]
    count = {s: sum(r.get("state") == s for r in rows) for s in ("ran", "reused", "failed")}
    # a corrupt file is counted once its job has recomputed it
    repaired = [line for r in rows if r.get("state") == "ran" for line in r.get("repaired", [])]
    parts = [f"ran {count['ran']}", f"reused {count['reused']}"]
    if count["failed"]:
        parts.append(f"failed {count['failed']}")
    for state in sorted({r.get("state") for r in rows} - set(count)):
        parts.append(f"{state} {sum(r.get('state') == state for r in rows)}")
    line = f"{len(rows)} jobs: {', '.join(parts)}"
    if repaired:
        line += f"; found {len(repaired)} corrupt store file(s) and recomputed them"
    # name a job by what tells it apart from the sweep's other jobs
    common = set.intersection(*(set(r.get("overrides", [])) for r in rows)) if len(rows) > 1 else set()
    problems = []
    for r in rows:
        # jobs that never started are counted in the summary line and listed in sweep.status:
        # one line each would bury the interrupted and failed ones in a large sweep
        if r.get("state") in ("ran", "reused", "not started"):
            continue
        what = " ".join([f"#{r.get('num')}"] + [o for o in r.get("overrides", []) if o not in common])
        if r.get("state") == "failed":
            problems.append(f"failed: {what}: {r.get('error')}")
        else:
            problems.append(f"{r.get('state')}: {what}")
    return line, problems, rows


def report(sweep: Sweep, finished: bool) -> bool:
    """Print the sweep's summary (and write ``sweep.status``); True if every job succeeded."""
    line, problems, rows = summarize(sweep, finished)
    print(f"pruning-lab: {line}", flush=True)
    for p in problems:
        print(f"pruning-lab: {p}", file=sys.stderr, flush=True)
    if sweep.dir.is_dir():
        atomic_write(sweep.dir / SWEEP_STATUS, (json.dumps(
            {"summary": line, "finished": finished, "jobs": rows}, indent=1) + "\n").encode())
    return not problems


class ReportSweep(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        current_sweep(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = current_sweep()
        if sweep is not None and not report(sweep, finished=True):
            sys.exit(1)


class WatchSlurmQueue(Callback):
    """SLURM sweeps: read job states from ``squeue`` where ``sacct`` has no accounting to read."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if str(config.hydra.launcher.get("_target_", "")).endswith("SlurmLauncher"):
            from .slurm_queue import watch_the_queue  # submitit is needed by SLURM sweeps only

            watch_the_queue()
