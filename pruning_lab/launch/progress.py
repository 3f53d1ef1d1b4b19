"""A sweep's progress: one live display in a terminal, else a plain line now and then.

Jobs found in the store are counted at once; the ETA comes from the jobs that ran.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s // 60 % 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Counts of a sweep's jobs: ``done`` of ``total``, of which ``reused`` came from the store."""

    EVERY = 10.0  # seconds between plain lines

    def __init__(self, total: int, reused: int, failed: int = 0, live: bool | None = None) -> None:
        self.total, self.reused, self.failed, self.ran, self.running = total, reused, failed, 0, 0
        self.started = time.monotonic()
        self.to_run = total - reused - failed
        self.live = sys.stdout.isatty() if live is None else live
        self._last = 0.0
        self._display = None
        if self.live and self.to_run:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn, \
                TimeRemainingColumn

            self._display = Bar(TextColumn("[bold]pruning-lab[/]"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.description}"), TimeElapsedColumn(), TextColumn("ETA"),
                                TimeRemainingColumn(), transient=True)
            self._task = self._display.add_task(self._counts(), total=total, completed=reused + failed)
            self._display.start()

    def _counts(self) -> str:
        failed = f", failed {self.failed}" if self.failed else ""
        return f"ran {self.ran}, reused {self.reused}{failed}, running {self.running}"

    def eta(self) -> float | None:
        finished = self.ran + self.failed
        left = self.total - self.reused - finished
        if not finished or not left:
            return None if left else 0.0
        return (time.monotonic() - self.started) / finished * left

    def update(self, *, ran: int = 0, failed: int = 0, running: int | None = None) -> None:
        self.ran += ran
        self.failed += failed
        if running is not None:
            self.running = running
        done = self.ran + self.reused + self.failed
        if self._display is not None:
            self._display.update(self._task, completed=done, description=self._counts())
        elif not self.live and (ran or failed):
            now = time.monotonic()
            if now - self._last >= self.EVERY or done == self.total:
                self._last = now
                eta = self.eta()
                print(f"pruning-lab: {done}/{self.total} done ({self._counts()}), "
                      f"{_clock(now - self.started)} elapsed, ETA {_clock(eta) if eta is not None else '?'}",
                      flush=True)

    def close(self) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None
