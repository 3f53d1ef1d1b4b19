"""A job's status (``job.status`` in its directory) and a sweep's summary (``sweep.status``).

One type, written and read here only. A job writes "running" when it starts and its ending
("ran", "reused" or "failed") when it ends; the launcher writes "failed" for a job whose
worker died and "interrupted" for one it stopped. A status names the sweep that wrote it, so
a status left in a reused sweep directory by an earlier sweep is never counted as this one's.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..store import atomic_write, clear_temporaries

STATUS = "job.status"
SWEEP_STATUS = "sweep.status"
ENDED = ("ran", "reused", "failed")


@dataclass
class JobStatus:
    """Where one job of a sweep stands."""

    num: int | None
    overrides: list[str]
    state: str  # running | ran | reused | failed | interrupted | not started
    sweep: str | None = None  # the token of the sweep that wrote it
    pid: int | None = None
    hash: str | None = None  # the job's hash (Job.hash): its result's name in the store
    treatment: str | None = None
    seed: int | None = None
    error: str | None = None
    repaired: list[str] = field(default_factory=list)  # corrupt store files found and rebuilt
    seconds: float | None = None  # the job's own time (for a reused job, the stored result's)

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def write(self, job_dir: Path) -> None:
        clear_temporaries(job_dir / STATUS)  # a write cut short by a kill
        atomic_write(job_dir / STATUS, (json.dumps(asdict(self), indent=1) + "\n").encode(), durable=False)

    @staticmethod
    def read(job_dir: Path) -> JobStatus | None:
        """The status in ``job_dir``, or None if there is none (or it is being replaced)."""
        try:
            d = json.loads((job_dir / STATUS).read_text())
        except (OSError, ValueError):
            return None
        names = {f.name for f in fields(JobStatus)}
        if not isinstance(d, dict) or not isinstance(d.get("num"), int):
            return None
        return JobStatus(**{k: v for k, v in d.items() if k in names})


def summarize(rows: list[JobStatus]) -> tuple[str, list[str]]:
    """One summary line ("30 jobs: ran 4, reused 26") and one line per failed or interrupted job."""
    count = {s: sum(r.state == s for r in rows) for s in ("ran", "reused", "failed")}
    # a corrupt file is counted once its job has recomputed it
    repaired = [line for r in rows if r.state == "ran" for line in r.repaired]
    parts = [f"ran {count['ran']}", f"reused {count['reused']}"]
    if count["failed"]:
        parts.append(f"failed {count['failed']}")
    for state in sorted({r.state for r in rows} - set(count)):
        parts.append(f"{state} {sum(r.state == state for r in rows)}")
    line = f"{len(rows)} jobs: {', '.join(parts)}"
    if repaired:
        line += f"; found {len(repaired)} corrupt store file(s) and recomputed them"
    # name a job by what tells it apart from the sweep's other jobs
    common = set.intersection(*(set(r.overrides) for r in rows)) if len(rows) > 1 else set()
    problems = []
    for r in rows:
        # jobs that never started are counted in the summary line and listed in sweep.status:
        # one line each would bury the interrupted and failed ones in a large sweep
        if r.state in ("ran", "reused", "not started"):
            continue
        what = " ".join([f"#{r.num}"] + [o for o in r.overrides if o not in common])
        problems.append(f"failed: {what}: {r.error}" if r.state == "failed" else f"{r.state}: {what}")
    return line, problems


def write_sweep_status(sweep_dir: Path, rows: list[JobStatus], finished: bool) -> None:
    """Write ``sweep.status`` and print the summary."""
    line, problems = summarize(rows)
    if sweep_dir.is_dir():
        atomic_write(sweep_dir / SWEEP_STATUS, (json.dumps(
            {"summary": line, "finished": finished, "jobs": [asdict(r) for r in rows]}, indent=1) + "\n").encode())
    try:  # after a closed terminal (SIGHUP) there may be nowhere left to print
        print(f"pruning-lab: {line}", flush=True)
        for p in problems:
            print(f"pruning-lab: {p}", file=sys.stderr, flush=True)
    except OSError:
        pass
