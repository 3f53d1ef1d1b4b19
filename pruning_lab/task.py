"""One job under Hydra: reuse or run it, copy its result into the job dir, record its status."""

from __future__ import annotations

import json
import logging
import os
import traceback
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .config import Job, flag
from .store import ReadOnlyStore, Store, atomic_write, dump_json

log = logging.getLogger("pruning_lab")

# set by the sweep for its jobs, so a status left in a reused sweep directory by an earlier
# sweep is never counted as this one's
SWEEP_ENV = "PRUNING_LAB_SWEEP"
STATUS = "job.status"


class JobFailed(BaseException):
    """A single run's job raised; the message is one line and names the traceback file.

    Not an ``Exception``: Hydra would catch that and print a line of its own before ours.
    """


def describe(e: BaseException) -> str:
    first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def write_status(out: Path, status: dict) -> None:
    atomic_write(out / STATUS, (json.dumps(status, indent=1) + "\n").encode(), durable=False)


def _console_quiet(cfg_verbose) -> None:
    """In a sweep, per-phase lines go to the job's log file only (``hydra.verbose`` keeps them)."""
    if cfg_verbose:
        return
    root = logging.getLogger()
    for h in list(root.handlers):
        if type(h) is logging.StreamHandler:
            root.removeHandler(h)


def task(cfg: DictConfig) -> dict:
    """Reuse or run the job of ``cfg``; its outcome as a status dict (a single run raises ``JobFailed``)."""
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    if multirun:
        _console_quiet(hc.verbose)
    status = {"sweep": os.environ.get(SWEEP_ENV) if multirun else None,
              "num": hc.job.num if multirun else None, "overrides": list(hc.overrides.task),
              "pid": os.getpid(), "state": "running"}
    write_status(out, status)
    for stale in ("result.json", "traceback.txt"):  # left by an earlier sweep in the same directory
        (out / stale).unlink(missing_ok=True)
    store = Store(cfg.paths.store)
    try:
        job = Job.from_config(cfg)
        status.update(config_hash=job.hash, treatment=job.treatment.name, seed=job.seed)
        result, reused = store.result_of(job, force=flag(cfg, "force"))
        atomic_write(out / "result.json", dump_json(result))
    except Exception as e:  # one job's failure must not take the sweep's other results with it
        error = describe(e) if not isinstance(e, ReadOnlyStore) else str(e)
        trace = out / "traceback.txt"
        trace.write_text(traceback.format_exc())
        log.error("job failed: %s (traceback in %s)", error, trace)
        status = {**status, "state": "failed", "error": error, "repaired": store.repaired}
        write_status(out, status)
        if multirun:
            return status
        raise JobFailed(f"job failed: {error} (traceback in {trace})") from None
    if reused:
        log.info("[%s seed %d] reused stored result %s", job.treatment.name, job.seed, job.hash)
    status = {**status, "state": "reused" if reused else "ran", "repaired": store.repaired}
    write_status(out, status)
    return status
