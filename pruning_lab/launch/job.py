"""One planned job in its directory: reused from the store or run, its result copied, its status kept.

``execute`` is what a worker process, a cluster task or a single run calls; ``settle`` is the
launcher's way to finish a job whose result is already stored without launching it.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from ..store import Corrupt, ReadOnlyStore, ResultStore, Store, atomic_write, clear_temporaries, dump_json, writable
from .plan import PlannedJob
from .status import JobStatus

log = logging.getLogger("pruning_lab")

LOG = "run.log"  # a job's log, in its directory (as Hydra names a job's log for `python -m pruning_lab.run`)
FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"  # Hydra's job log format


def failure(e: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _fresh(job_dir: Path) -> None:
    """Clear what an earlier sweep (or a kill mid-write) left in the job's directory."""
    job_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("result.json", "traceback.txt"):
        (job_dir / stale).unlink(missing_ok=True)
        clear_temporaries(job_dir / stale)


def settle(p: PlannedJob) -> JobStatus | None:
    """A stored job finished here (its directory, result copy and status); None if it must run.

    ``repaired`` of the status it would run with lists a corrupt stored result found here.
    """
    if p.force:
        return None
    results = ResultStore(p.store)
    try:
        if results.check(p.hash) is None:
            return None if writable(p.store) else _refused(p)
    except Corrupt as e:
        return None if writable(p.store) else _refused(p, [f"{results.path(p.hash)}: {e}"])
    _fresh(p.dir)
    # the store's file is the checksummed JSON the job dir's copy would be, byte for byte
    blob = results.path(p.hash).read_bytes()
    atomic_write(p.dir / "result.json", blob, durable=False)
    status = p.status("reused", seconds=json.loads(blob).get("wall_seconds"))
    status.write(p.dir)
    return status


def _refused(p: PlannedJob, repaired: list[str] | None = None) -> JobStatus:
    _fresh(p.dir)
    status = p.status("failed", error=f"the store {p.store} is read-only and does not hold this job's result",
                      repaired=repaired or [])
    status.write(p.dir)
    return status


@contextmanager
def _logged(job_dir: Path):
    """The job's log lines into ``run.log`` in its directory, while it runs."""
    handler = logging.FileHandler(job_dir / LOG)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def execute(p: PlannedJob, log_file: bool = True) -> JobStatus:
    """Reuse or run the job; its status, written in its directory (a failure is one, not an exception).

    ``log_file``: write the job's log to its directory (Hydra does that itself for a job it runs).
    """
    _fresh(p.dir)
    status = p.status("running")
    status.write(p.dir)
    store = Store(p.store)
    started = time.monotonic()
    try:
        with _logged(p.dir) if log_file else _nothing():
            result, reused = store.result_of(p.job, force=p.force, knobs=p.knobs, isa=p.portable_isa)
        atomic_write(p.dir / "result.json", dump_json(result), durable=False)
    except Exception as e:  # one job's failure must not take the sweep's other results with it
        error = str(e) if isinstance(e, ReadOnlyStore) else failure(e)
        trace = p.dir / "traceback.txt"
        trace.write_text(traceback.format_exc())
        log.error("job failed: %s (traceback in %s)", error, trace)
        status = p.status("failed", error=error, repaired=store.repaired, seconds=time.monotonic() - started)
    else:
        if reused:
            log.info("[%s seed %d] reused stored result %s", p.job.treatment.name, p.job.seed, p.hash)
        status = p.status("reused" if reused else "ran", repaired=store.repaired, seconds=time.monotonic() - started)
    status.write(p.dir)
    return status


@contextmanager
def _nothing():
    yield
