"""How a run ends on Ctrl-C, SIGTERM or SIGHUP (a closed terminal): the same way at any moment.

A signal raises ``Interrupted`` in the main thread; the launch path cleans up on its way out
(workers stopped, statuses written, the summary printed) and the CLI exits 128 + the signal's
number. Where a library swallows the exception (Hydra turns one that lands while it composes
into another error), the launch path's own checkpoints (``check``) raise it again. The CLI's last
line says whether the run keeps any result (``kept``): a job that ran, or one reused from the store.
"""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_received: int | None = None  # the first signal; the process ends by it, whatever comes after
_installed = False  # this process's stop signals are ours (the CLI), not a notebook's or a test's
_armed = False  # raise at once, or (while the CLI's modules load) only remember
_kept = False  # a job of this run has ended with its result stored (ran, or reused)
_deferred = False  # inside ``held``: ``Interrupted`` waits for the block's end
_pending = False  # a signal came inside ``held``


class Interrupted(KeyboardInterrupt):
    """What a stop signal raises. Not KeyboardInterrupt itself: when one of those passes
    through code that exec() runs (dataclasses make their methods so), Python run with ``-m``
    ends itself by SIGINT at exit, however it was caught (status -2, no message)."""


def _on_signal(signum: int, frame) -> None:
    global _received, _pending
    if _received is None:
        _received = signum
    # raised once per cleanup: a second Ctrl-C does not cut the first one's cleanup short
    if _armed and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
        if _deferred:
            _pending = True
        else:
            raise Interrupted


def install(armed: bool) -> None:
    """Catch the stop signals; ``armed``: raise ``Interrupted`` (else only remember them)."""
    global _armed, _installed
    _armed, _installed = armed, True
    for s in SIGNALS:
        signal.signal(s, _on_signal)


def received() -> int | None:
    """The stop signal this process received, if any."""
    return _received


def kept(states) -> None:
    """Note the jobs of ``states`` (statuses) that ended with a stored result: stopped now, the run keeps them."""
    global _kept
    _kept = _kept or any(s.state in ("ran", "reused") for s in states)


def any_kept() -> bool:
    """Whether a job of this run ended with its result stored."""
    return _kept


def check() -> None:
    """Raise ``Interrupted`` if a stop signal came (a library may have swallowed the first)."""
    if _received is not None:
        raise Interrupted


def settle() -> None:
    """The run's ending is decided: from now on the stop signals are ignored. Ignored, not just
    remembered: Python's own teardown gives a signal with a Python handler back its default
    action, so one that came then would kill the process by the signal (status -2, no message).
    Only where ``install`` made the signals the run's: a notebook's Ctrl-C stays its own after a sweep."""
    global _armed
    if not _installed:
        return
    _armed = False
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


@contextmanager
def held():
    """Hold the stop signals back in the main thread until the block ends: a process or thread
    started meanwhile inherits the mask, and ``Interrupted`` is raised at the end, not halfway.
    Not only the mask: a signal that another thread takes has its handler run in this one,
    which would cut short what the block does (a worker spawned, its start-up data not yet sent)."""
    global _deferred, _pending
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    outer, _deferred = _deferred, True
    try:
        yield
    finally:
        _deferred = outer
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    if _pending and not outer:
        _pending = False
        raise Interrupted


def ignore() -> None:
    """For worker processes: a Ctrl-C in the terminal reaches them too, and it is the launcher's
    to handle (it stops them)."""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def exit_code(signum: int) -> int:
    return 128 + signum
