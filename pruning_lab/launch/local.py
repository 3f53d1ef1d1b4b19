"""Jobs on this machine's cores, in joblib's worker processes (the loky executor joblib ships).

Each worker is a one-process loky executor of its own, handed one job at a time. A loky
executor whose worker dies (``kill -9``, the kernel's out-of-memory killer) breaks as a whole
and fails every job it holds; one worker per executor makes that exactly the dead worker's job,
and the sweep goes on with a fresh worker. Workers start with the stop signals held back, then
ignore them: a Ctrl-C in the terminal reaches the whole process group, and it is the launcher's
to handle (it kills the workers, marks their jobs interrupted and reports the sweep). Each
worker also watches its parent, so a launcher killed outright does not leave it computing.

loky's and multiprocessing's resource trackers (processes that unlink the workers' semaphores
if their owner dies) are started with the stop signals held back too, and keep SIGHUP held for
good: they ignore only SIGINT and SIGTERM themselves, and one killed by a closed terminal's SIGHUP
would be restarted amid the cleanup, with a warning and a traceback for each semaphore.
"""

from __future__ import annotations

import multiprocessing.resource_tracker
import os
import re
import signal
import threading
import time
from collections import deque

from ..config import ConfigError
from . import signals
from .job import execute, failure, settle
from .launcher import PlanLauncher
from .plan import PlannedJob
from .progress import Progress
from .status import JobStatus


def workers(n_jobs: object) -> int:
    """joblib's meaning of ``n_jobs``: a count, or -1 for every core, -2 for all but one..."""
    import joblib

    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise ConfigError(f"hydra.launcher.n_jobs must be a non-zero integer (-1: every core), got {n_jobs!r}")
    return joblib.effective_n_jobs(n_jobs)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _worker_starts(parent: int) -> None:
    signals.ignore()
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()


def death(error: BaseException) -> str:
    """Why a worker ended, in words, from loky's report of its exit code ("{SIGKILL(-9)}")."""
    m = re.search(r"\{\w+\((-?\d+)\)", str(error))
    if m is None:
        return "its worker process died"
    code = int(m[1])
    if code < 0:
        name = signal.Signals(-code).name
        return f"its worker process was killed by {name}{' (out of memory?)' if name == 'SIGKILL' else ''}"
    return f"its worker process exited with status {code}"


# the resource trackers' own warnings, off: the only one they give is that they cleaned up after
# a launcher killed outright (SIGKILL), which is their work done, and would reach the terminal
# after the shell prompt. A semaphore they fail to unlink still gets its traceback.
TRACKER_WARNINGS = "ignore::UserWarning:joblib.externals.loky.backend.resource_tracker"


def trackers() -> None:
    """Start loky's and multiprocessing's resource trackers, if they are not running, with the
    stop signals held: they keep SIGHUP held (they set SIGINT and SIGTERM to ignored themselves)."""
    # loky's tracker is public in its backend only (joblib re-exports none); the workers need it
    from joblib.externals.loky.backend import resource_tracker as loky_tracker

    previous = os.environ.get("PYTHONWARNINGS")
    with signals.held():
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [previous, TRACKER_WARNINGS]))
        try:
            # multiprocessing's unblocks SIGINT and SIGTERM in this thread as it ends (Python 3.11):
            # started before a worker, it leaves the block in ``submit`` alone
            multiprocessing.resource_tracker.ensure_running()
            loky_tracker.ensure_running()
        finally:
            if previous is None:
                del os.environ["PYTHONWARNINGS"]
            else:
                os.environ["PYTHONWARNINGS"] = previous


def worker():
    """A one-process loky executor: a worker of its own."""
    from joblib.externals.loky import ProcessPoolExecutor

    trackers()  # before the executor's semaphores register with loky's
    return ProcessPoolExecutor(1, initializer=_worker_starts, initargs=(os.getpid(),))


def submit(executor, fn, *args):
    """``executor.submit``, its worker (spawned by the first submit) started with the stop signals held back."""
    with signals.held():
        return executor.submit(fn, *args)


class LocalLauncher(PlanLauncher):
    """``n_jobs`` worker processes on this machine, counted as joblib counts them (-1: every core)."""

    def __init__(self, n_jobs: object = -1) -> None:
        self.n_jobs = n_jobs
        self.idle: list = []  # workers between jobs, kept for the next batch (a study runs many)

    def setup(self, *, hydra_context, task_function, config) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.n_jobs = workers(self.n_jobs)  # refused here, in one line (Hydra wraps what __init__ raises)

    def workers(self) -> int:
        return self.n_jobs

    def start(self, todo: list[PlannedJob], states: dict[int, JobStatus], progress: Progress) -> None:
        from joblib.externals.loky import FIRST_COMPLETED, BrokenProcessPool, wait

        queue = deque(todo)
        idle = self.idle
        running: dict = {}  # future -> (job, its executor)
        handed = None  # (job, executor) being handed to a worker: a signal may land before its future is kept
        try:
            while queue or running:
                while queue and len(running) < self.n_jobs:
                    job = queue.popleft()
                    handed = (job, idle.pop() if idle else worker())
                    running[submit(handed[1], execute, job)] = handed
                    handed = None
                progress.set_running(len(running))
                signals.check()
                done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    job, executor = running.pop(future)
                    try:
                        status = future.result()
                        idle.append(executor)
                    except BrokenProcessPool as e:
                        status = job.status("failed", error=death(e))
                        status.write(job.dir)
                        executor.shutdown(wait=False, kill_workers=True)
                    except Exception as e:  # the harness failed around the job (it reports its own failures)
                        status = job.status("failed", error=failure(e))
                        status.write(job.dir)
                        idle.append(executor)
                    states[job.num] = status
                    progress.ended(status)
        except BaseException:
            stopping = list(running.values())
            if handed is not None and handed not in stopping:
                stopping.append(handed)
            for job, executor in stopping:
                executor.shutdown(wait=True, kill_workers=True)
            # a job that stored its result before it could report it has ended: as a rerun would reuse it
            ended = {job.num: st for job, _ in stopping if (st := settle(job)) is not None}
            states.update(ended)
            self.stopped([job for job, _ in stopping if job.num not in ended], states)
            self.close()
            raise

    def close(self) -> None:
        """Stop the idle workers, waiting for each to exit (so that loky releases its locks)."""
        while self.idle:
            self.idle.pop().shutdown(wait=True)
