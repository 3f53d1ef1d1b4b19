"""Jobs on a SLURM cluster through submitit (the ``cluster`` extra), or on submitit's local stand-in.

The queue settings are hydra-submitit-launcher's (``conf/hydra/launcher/slurm.yaml`` builds on
its ``submitit_slurm`` schema); the jobs that are not stored go as one submitit array, each
task running ``job.execute`` on its planned job. A job's end is read from its own status file
(it writes one when it ends); a task that ends without writing one (``scancel``, out of memory,
a lost node) is found in ``squeue``, which knows every job until ``MinJobAge`` after its end
(``--states=all``), or has forgotten it, which means it ended too. ``sacct`` is not needed: a
cluster without accounting storage runs sweeps like any other.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import time
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

from .job import execute, settle
from .launcher import PlanLauncher
from .plan import PlannedJob
from .progress import Progress
from .status import JobStatus

# squeue states of a job that no longer runs (the others: pending, running, completing, ...)
QUEUE_ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE",
         "PREEMPTED"}
POLL = 1.0  # seconds between looks at the jobs' status files
QUEUE_POLL = 10.0  # seconds between calls of squeue


def queue_states(job_ids: list[str]) -> dict[str, str] | None:
    """Each job's squeue state ("GONE" once squeue has forgotten it); None if squeue cannot answer now."""
    if not job_ids:
        return {}
    command = ["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T",
               f"--jobs={','.join(sorted({j.split('_')[0] for j in job_ids}))}"]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    # squeue refuses the whole call when none of the ids is known any more
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        return None  # the controller is busy or unreachable: ask again later
    listed = dict(ln.split("|", 1) for ln in out.stdout.splitlines() if "|" in ln) if out.returncode == 0 else {}
    return {j: listed.get(j, "GONE").strip() for j in job_ids}


class Task:
    """``job.execute`` as a cluster task: one stopped at its time limit is requeued by submitit
    (``max_num_timeout`` times) and starts its job afresh."""

    def __call__(self, job: PlannedJob) -> JobStatus:
        return execute(job)

    def checkpoint(self, job: PlannedJob):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, job)


class SubmititLauncher(PlanLauncher):
    """submitit's executor ``cluster`` ("slurm" or "local") with the queue settings ``params``."""

    cluster = "slurm"

    def __init__(self, **params) -> None:
        self.params = params

    def workers(self) -> int:
        return int(self.params.get("array_parallelism") or 1) if self.cluster == "slurm" else 1 << 30

    def _executor(self):
        import submitit
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

        params = dict(self.params)
        folder = params.pop("submitit_folder")
        retries = {f"{self.cluster}_max_num_timeout": params.pop("max_num_timeout")} if "max_num_timeout" in params else {}
        executor = submitit.AutoExecutor(folder=folder, cluster=self.cluster, **retries)
        shared = {f.name for f in fields(BaseQueueConf)}
        executor.update_parameters(**{k if k in shared else f"{self.cluster}_{k}": v for k, v in params.items()})
        return executor

    def start(self, todo: list[PlannedJob], states: dict[int, JobStatus], progress: Progress) -> None:
        executor = self._executor()
        with _stderr_to(Path(todo[0].dir).parent / ".submitit" / "controllers.err", self.cluster == "local"):
            tasks = executor.map_array(Task(), todo)
        pending = dict(zip(tasks, todo))
        ended_in_queue: set[str] = set()
        asked = 0.0
        try:
            while pending:
                if self.cluster == "slurm" and time.monotonic() - asked >= QUEUE_POLL:
                    asked = time.monotonic()
                    queue = queue_states([t.job_id for t in pending]) or {}
                else:
                    queue = None
                for task in list(pending):
                    status = self._ended(task, pending[task], queue, ended_in_queue)
                    if status is not None:
                        states[pending.pop(task).num] = status
                        progress.ended(status)
                progress.set_running(sum(j.written() is not None for j in pending.values()))
                if pending:
                    time.sleep(POLL)
        except BaseException:
            for task in pending:
                task.cancel(check=False)
            # a job that stored its result before it could report it has ended: as a rerun would reuse it
            ended = {job.num: st for job in pending.values() if (st := settle(job)) is not None}
            states.update(ended)
            self.stopped([j for j in pending.values() if j.num not in ended and j.written() is not None], states)
            raise

    def _ended(self, task, job: PlannedJob, queue: dict | None, ended_in_queue: set[str]) -> JobStatus | None:
        """The job's end, if it has ended: its own status, or why it has none."""
        ended = job.written(ended=True)
        if ended is not None:
            return ended
        if self.cluster == "local":
            if not task.done():
                return None
            try:
                task.result()
                return job.written(ended=True) or _failed(job, "ended without a result")
            except Exception as e:  # submitit's report of a job that died or raised
                return _failed(job, _submitit_error(e))
        if queue is None or queue.get(task.job_id) not in QUEUE_ENDED | {"GONE"}:
            return None
        # seen ended twice, a poll apart: a status file written at the end may take a moment to appear
        if task.job_id not in ended_in_queue:
            ended_in_queue.add(task.job_id)
            return None
        state = queue[task.job_id]
        return _failed(job, _pickled_error(task) or
                       "ended without a result" + (f" (state {state})" if state != "GONE" else ""))


class SlurmLauncher(SubmititLauncher):
    cluster = "slurm"


class SubmititLocalLauncher(SubmititLauncher):
    cluster = "local"


def _failed(job: PlannedJob, error: str) -> JobStatus:
    status = job.status("failed", error=error)
    status.write(job.dir)
    return status


def _pickled_error(task) -> str | None:
    """The last line of the error a task handed back (submitit's own, a time limit reached too
    often), if it handed one back. Read from the task's result file, which submitit writes as
    (outcome, value): its reader, Job.result, waits on sacct, which a cluster may not have."""
    try:
        outcome, value = pickle.loads(Path(task.paths.result_pickle).read_bytes())
    except Exception:  # none, or not readable: the task handed nothing back
        return None
    lines = [ln.strip() for ln in str(value).splitlines() if ln.strip()]
    return lines[-1] if outcome == "error" and lines else None


def _submitit_error(e: Exception) -> str:
    # a job that died without handing a result back (killed, out of memory): its state says why,
    # the tail of its log (submitit's next lines) seldom does
    ended = re.search(r"has not produced any output \(state: ([A-Z_]+)", str(e))
    if ended:
        return f"ended without a result (state {ended.group(1)})"
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    last = next((ln for ln in reversed(lines) if not ln.startswith(("File ", "^", "raise", "Traceback"))), "")
    return f"{type(e).__name__}: {last or (lines[0] if lines else '')}"


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
