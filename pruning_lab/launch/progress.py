"""A sweep's progress: one live display in a terminal, else a plain line now and then.

Jobs found in the store are counted at once. The ETA is the jobs left times the mean time of a
job, over the workers: the jobs that ran in this sweep give that mean from the first one to
end; before that, the stored results this sweep reused (its jobs' own timings) give it.
"""

from __future__ import annotations

import statistics
import sys
import time

from .status import JobStatus


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s // 60 % 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Counts of a sweep's jobs as they end, shown while it runs."""

    EVERY = 10.0  # seconds between plain lines

    def __init__(self, total: int, settled: list[JobStatus], workers: int, live: bool | None = None) -> None:
        self.total, self.workers = total, max(1, workers)
        self.count = {s: sum(st.state == s for st in settled) for s in ("ran", "reused", "failed")}
        self.running = 0
        self.prior = [st.seconds for st in settled if st.seconds]  # stored jobs' own timings
        self.seconds: list[float] = []  # this sweep's jobs'
        self.started = time.monotonic()
        self.live = sys.stdout.isatty() if live is None else live
        self._last = 0.0
        self._display = None
        if self.live and total > len(settled):
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

            self._display = Bar(TextColumn("[bold]pruning-lab[/]"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.description}"), TimeElapsedColumn(),
                                TextColumn("ETA {task.fields[eta]}"), transient=True)
            self._task = self._display.add_task(self._counts(), total=total, completed=len(settled), eta=self._eta())
            self._display.start()

    def _counts(self) -> str:
        failed = f", failed {self.count['failed']}" if self.count["failed"] else ""
        return f"ran {self.count['ran']}, reused {self.count['reused']}{failed}, running {self.running}"

    def eta(self) -> float | None:
        """Seconds left, or None while nothing tells how long a job takes."""
        left = self.total - sum(self.count.values())
        if not left:
            return 0.0
        per_job = statistics.mean(self.seconds or self.prior) if (self.seconds or self.prior) else None
        return None if per_job is None else per_job * left / min(self.workers, left)

    def _eta(self) -> str:
        eta = self.eta()
        return _clock(eta) if eta is not None else "?"

    def ended(self, status: JobStatus) -> None:
        """A job ended (ran, reused from another sweep's store entry, or failed)."""
        self.count[status.state] = self.count.get(status.state, 0) + 1
        # at work: the jobs still running and those about to take the freed workers
        self.running = min(self.running, self.total - sum(self.count.values()))
        if status.state == "ran" and status.seconds:
            self.seconds.append(status.seconds)
        self._show(ended=True)

    def set_running(self, n: int) -> None:
        self.running = n
        self._show(ended=False)

    def _show(self, ended: bool) -> None:
        done = sum(self.count.values())
        if self._display is not None:
            self._display.update(self._task, completed=done, description=self._counts(), eta=self._eta())
        elif not self.live and ended:
            now = time.monotonic()
            if now - self._last >= self.EVERY or done == self.total:
                self._last = now
                print(f"pruning-lab: {done}/{self.total} done ({self._counts()}), "
                      f"{_clock(now - self.started)} elapsed, ETA {self._eta()}", flush=True)

    def close(self) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None
