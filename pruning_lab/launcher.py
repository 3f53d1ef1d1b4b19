"""What a sweep launches: only the jobs whose results are not stored, each with its validated config.

Hydra's sweeper expands the overrides and calls a launcher; pruning-lab's launchers (in
``hydra_plugins/pruning_lab_launcher``, where Hydra finds them) hand the work to this module.
The jobs were composed and validated before anything was written (``hydra_callbacks``); here
a job whose valid result is in the store gets its directory, ``job.status`` and ``result.json``
at once and is not launched; the others run in worker processes (``workers``) or as submitit
jobs, with one progress display. Each job's outcome is kept here, in this process, so the
summary is this sweep's own even when another sweep writes to the same directory.
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

import cloudpickle
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, run_job, setup_globals
from omegaconf import DictConfig

from . import hydra_callbacks
from .jobs import Planned, job_config, workers
from .progress import Progress
from .store import Corrupt, ResultStore, atomic_write, writable
from .task import STATUS, SWEEP_ENV, task, write_status


def _planned(config: DictConfig, job_overrides: Sequence[Sequence[str]], initial: int) -> list[Planned]:
    sweep = hydra_callbacks.current_sweep()
    plans = sweep.planned if sweep is not None and sweep.planned is not None else []
    out = []
    for i, overrides in enumerate(job_overrides):
        num = initial + i
        if num < len(plans) and plans[num].overrides == list(overrides):
            out.append(plans[num])
        else:  # a sweeper that proposes jobs as it goes: validate each as it comes
            out.append(hydra_callbacks.plan_job(config, num, list(overrides)))
    return out


def _status(p: Planned, state: str, **extra: Any) -> dict:
    return {"sweep": os.environ.get(SWEEP_ENV), "num": p.num, "overrides": p.overrides, "pid": os.getpid(),
            "state": state, "config_hash": p.config_hash, "treatment": p.job.treatment.name, "seed": p.job.seed,
            **extra}


def _settle_stored(p: Planned) -> dict | None:
    """A stored job's directory, status and result copy, written here; its status, or None if it must run."""
    if p.force:
        return None
    results = ResultStore(p.store)
    try:
        if results.check(p.config_hash) is None:
            return None
    except Corrupt as e:
        p.repaired.append(f"{results.path(p.config_hash)}: {e}")
        return None
    p.output_dir.mkdir(parents=True, exist_ok=True)
    (p.output_dir / "traceback.txt").unlink(missing_ok=True)
    # the store's file is the checksummed JSON the job dir's copy would be, byte for byte
    atomic_write(p.output_dir / "result.json", results.path(p.config_hash).read_bytes(), durable=False)
    status = _status(p, "reused", repaired=[])
    write_status(p.output_dir, status)
    return status


def _fail(p: Planned, error: str) -> dict:
    status = _status(p, "failed", error=error, repaired=p.repaired)
    p.output_dir.mkdir(parents=True, exist_ok=True)
    write_status(p.output_dir, status)
    return status


def _returns(plans: list[Planned], states: dict[int, dict]) -> list[JobReturn]:
    out = []
    for p in plans:
        r = JobReturn()
        r.overrides, r.status, r.return_value = p.overrides, JobStatus.COMPLETED, states.get(p.num)
        out.append(r)
    return out


class Run:
    """One batch of a sweep: settles stored jobs, runs the others, keeps every outcome."""

    def __init__(self, config: DictConfig, job_overrides: Sequence[Sequence[str]], initial: int) -> None:
        self.config = config
        self.plans = _planned(config, job_overrides, initial)
        sweep = hydra_callbacks.current_sweep(config)
        if sweep.states is None:
            sweep.states = {}
        self.states = sweep.states
        Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        self.todo: list[Planned] = []
        for p in self.plans:
            stored = _settle_stored(p)
            if stored is not None:
                self.states[p.num] = stored
            elif not writable(p.store):
                self.states[p.num] = _fail(p, f"the store {p.store} is read-only and does not hold this job's result")
            else:
                self.todo.append(p)
        reused = sum(self.states[p.num]["state"] == "reused" for p in self.plans if p.num in self.states)
        self.progress = Progress(len(self.plans), reused, failed=len(self.plans) - reused - len(self.todo))

    def ended(self, p: Planned, ok: bool, value: Any, running: int | None = None) -> None:
        """Record a job's end (``value``: its status, or why it has none)."""
        if ok and isinstance(value, dict) and value.get("state") in ("ran", "reused", "failed"):
            state = dict(value)
            if p.repaired and state["state"] == "ran":
                # the job found the file corrupt again under its lock: one file, one line
                state["repaired"] = list(dict.fromkeys(p.repaired + state.get("repaired", [])))
        else:  # the worker died, or the harness around the task failed
            first = str(value).splitlines()[0] if value else "no result"
            state = _fail(p, first)
        self.states[p.num] = state
        self.progress.update(ran=int(state["state"] in ("ran", "reused")), failed=int(state["state"] == "failed"),
                             running=running)

    def stopped(self, running: list[Planned]) -> None:
        """Interrupted: the running jobs are, the queued ones were never started."""
        for p in running:
            self.states[p.num] = _status(p, "interrupted")
        self.progress.close()

    def returns(self) -> list[JobReturn]:
        self.progress.close()
        return _returns(self.plans, self.states)


# -- in worker processes ------------------------------------------------------------------


def worker_setup(hydra_context, singleton_state: dict, bases: list[DictConfig]) -> tuple:
    if isinstance(hydra_context, bytes):  # cloudpickled: Hydra's state holds closures
        hydra_context, singleton_state, bases = cloudpickle.loads(hydra_context)
    setup_globals()
    Singleton.set_state(singleton_state)
    return hydra_context, bases


def run_planned(state: tuple, base: int, overrides: list[str], values: list[str], num: int) -> dict:
    """Run one job from its combination's validated config (conf/ is not read again)."""
    hydra_context, bases = state
    cfg = job_config(bases[base], overrides, values, num)
    HydraConfig.instance().set_config(cfg)
    ret = run_job(hydra_context=hydra_context, task_function=task, config=cfg,
                  job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    if ret.status != JobStatus.COMPLETED:
        e = ret._return_value
        raise RuntimeError(f"{type(e).__name__}: {e}")
    return ret.return_value


# -- the engines ----------------------------------------------------------------------------


def launch_local(launcher, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Run the batch in ``n_jobs`` worker processes on this machine."""
    from .workers import Pool

    n = workers(launcher.n_jobs)
    run = Run(launcher.config, job_overrides, initial_job_idx)
    bases = hydra_callbacks.current_sweep().composer.bases
    state = cloudpickle.dumps((launcher.hydra_context, Singleton.get_state(), bases))
    size = min(n, max(1, len(run.todo)))
    pool = Pool(size, worker_setup, (state, None, None))
    queue = list(run.todo)
    by_num = {p.num: p for p in run.todo}
    try:
        while queue or pool.running():
            while queue and pool.free():
                p = queue.pop(0)
                pool.submit(p.num, run_planned, p.base, p.overrides, p.values, p.num)
            run.progress.update(running=len(pool.running()))
            for num, ok, value in pool.results(timeout=1.0):
                # reported as running: the jobs still at work plus those about to take the freed workers
                run.ended(by_num[num], ok, value, running=min(size, len(pool.running()) + len(queue)))
    except BaseException:
        running = [by_num[k] for k in pool.running()]
        pool.stop()
        run.stopped(running)
        raise
    pool.stop()
    return run.returns()


def launch_submitit(launcher, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Submit the batch's jobs that must run as one submitit array, and follow them."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    run = Run(launcher.config, job_overrides, initial_job_idx)
    if not run.todo:
        return run.returns()
    params = launcher.params
    specific = {"max_num_timeout"}
    executor = submitit.AutoExecutor(cluster=launcher._EXECUTOR, folder=params["submitit_folder"],
                                     **{f"{launcher._EXECUTOR}_{k}": v for k, v in params.items() if k in specific})
    base_keys = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base_keys else f"{launcher._EXECUTOR}_{k}": v
                                  for k, v in params.items() if k not in specific | {"submitit_folder"}})
    launcher.bases = hydra_callbacks.current_sweep().composer.bases
    launcher.singleton_state = Singleton.get_state()
    with _stderr_to(Path(str(launcher.config.hydra.sweep.dir)) / ".submitit" / "controllers.err",
                    launcher._EXECUTOR == "local"):
        jobs = executor.map_array(launcher, *zip(*[(p.base, p.overrides, p.values, p.num) for p in run.todo]))
    pending = dict(zip(jobs, run.todo))
    def collect() -> None:
        for job in [j for j in pending if j.done()]:
            p = pending.pop(job)
            try:
                run.ended(p, True, job.result())
            except Exception as e:  # submitit's report of a job that died or raised
                run.ended(p, False, _submitit_error(e))

    try:
        while pending:
            collect()
            run.progress.update(running=sum(j.state in ("RUNNING", "COMPLETING") for j in pending))
            if pending:
                time.sleep(1.0)
    except BaseException:
        collect()  # what ended before the signal counts as done
        for job in list(pending):
            job.cancel(check=False)
            # a job that had recorded its end when the signal stopped its process has ended
            if (st := _own_status(pending[job])) is not None:
                run.ended(pending.pop(job), True, st)
        run.stopped([p for j, p in pending.items() if j.state in ("RUNNING", "COMPLETING", "UNKNOWN")])
        raise
    return run.returns()


def _own_status(p: Planned) -> dict | None:
    try:
        st = json.loads((p.output_dir / STATUS).read_text())
    except (OSError, ValueError):
        return None
    ended = st.get("state") in ("ran", "reused", "failed")
    return st if ended and st.get("sweep") == os.environ.get(SWEEP_ENV) and st.get("num") == p.num else None


@contextmanager
def _stderr_to(path: Path, redirect: bool):
    """Start child processes with their stderr in ``path``: submitit's local controllers inherit
    the terminal and print a traceback there when a Ctrl-C stops them."""
    if not redirect:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = os.dup(2)
    with open(path, "ab") as f:
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _submitit_error(e: Exception) -> str:
    # a job that died without handing a result back (scancel, SIGKILL, out of memory): its state
    # says why, the tail of its log (submitit's next lines) seldom does
    ended = re.search(r"has not produced any output \(state: ([A-Z_]+)", str(e))
    if ended:
        return f"ended without a result (state {ended.group(1)})"
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    last = next((ln for ln in reversed(lines) if not ln.startswith(("File ", "^", "raise", "Traceback"))), "")
    return f"{type(e).__name__}: {last or (lines[0] if lines else '')}"
