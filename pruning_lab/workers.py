"""Worker processes for a sweep on one machine: one job at a time each, a dead one replaced.

A pool that loses a worker (``kill -9``, the kernel's out-of-memory killer) must lose only that
worker's job, so each worker is its own process with its own pipe rather than one of a shared
executor that breaks as a whole. Workers are started with SIGINT and SIGTERM blocked: a Ctrl-C
in the terminal reaches the whole process group, and it is the launcher's to handle (it stops
the workers); a worker that catches it half-started would only print a traceback. Each worker
also watches its parent, so a launcher killed outright does not leave it computing.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from multiprocessing import resource_tracker
from multiprocessing.connection import wait
from typing import Any, Callable

_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def signals_blocked():
    """Hold SIGINT and SIGTERM back (a child started meanwhile inherits the mask; the parent
    receives them when the block ends)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(0.5)


def _serve(conn, parent: int, setup: Callable[..., Any], setup_args: tuple) -> None:
    for s in _SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    state = setup(*setup_args)
    while True:
        try:
            work, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send((True, work(state, *args)))
        except Exception as e:  # the task reports its own failures; this is the harness failing
            conn.send((False, f"{type(e).__name__}: {e}".splitlines()[0] + "\n" + traceback.format_exc()))


class Worker:
    def __init__(self, setup: Callable[..., Any], setup_args: tuple) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        # started by the first process start, multiprocessing's resource tracker unblocks SIGINT
        # and SIGTERM after its own start, inside the block below: that worker would be
        # interruptible while it starts; started beforehand, the tracker leaves the block alone
        resource_tracker.ensure_running()
        with signals_blocked():
            self.process = ctx.Process(target=_serve, args=(child, os.getpid(), setup, setup_args), daemon=True)
            self.process.start()
        child.close()
        self.key: Any = None  # the job it is running

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


def death(exitcode: int | None) -> str:
    """Why a worker process ended, in words."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"its worker process was killed by {name}{hint}"
    return f"its worker process exited with status {exitcode}"


class Pool:
    """``n`` workers; ``submit`` hands a free one a job, ``results`` waits for ends."""

    def __init__(self, n: int, setup: Callable[..., Any], setup_args: tuple = ()) -> None:
        self.n = n
        self.setup, self.setup_args = setup, setup_args
        self.workers: list[Worker] = []

    def free(self) -> int:
        return self.n - sum(w.key is not None for w in self.workers)

    def running(self) -> list[Any]:
        return [w.key for w in self.workers if w.key is not None]

    def submit(self, key: Any, work: Callable[..., Any], *args: Any) -> None:
        worker = next((w for w in self.workers if w.key is None), None)
        if worker is None:
            worker = Worker(self.setup, self.setup_args)
            self.workers.append(worker)
        worker.key = key
        worker.conn.send((work, args))

    def results(self, timeout: float) -> list[tuple[Any, bool, Any]]:
        """(key, ok, value) for each job that ended within ``timeout`` s; a dead worker's job
        ends not ok, with the reason, and the worker is replaced on the next ``submit``."""
        busy = [w for w in self.workers if w.key is not None]
        if not busy:
            return []
        ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
        out = []
        for w in busy:
            if w.conn in ready:
                try:
                    ok, value = w.conn.recv()
                except (EOFError, OSError):
                    pass  # died while answering: reported below as dead
                else:
                    out.append((w.key, ok, value))
                    w.key = None
                    continue
            if w.process.sentinel in ready or not w.process.is_alive():
                w.process.join(1)
                out.append((w.key, False, death(w.process.exitcode)))
                w.key = None
                w.stop()
                self.workers.remove(w)
        return out

    def stop(self) -> None:
        for w in self.workers:
            if w.process.is_alive():
                w.process.kill()
        for w in self.workers:
            w.stop()
        self.workers.clear()
