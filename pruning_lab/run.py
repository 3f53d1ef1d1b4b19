"""CLI: ``python -m pruning_lab.run [-m] [overrides...]`` runs one job per (seed, treatment).

The result goes to the content-addressed store (``paths.store``) and, as ``result.json``,
into Hydra's job directory. A job whose valid result is already stored is not recomputed.
Every refusal or failure is reported in one line: a bad config exits 2, a failed job 1, an
interrupted sweep 130 (143 if stopped by SIGTERM); finished results stay in the store and a
rerun picks up from there.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading

_stopped_by: int | None = None
_armed = False  # raise at once (in main) or only remember (while the imports below run)


class Interrupted(KeyboardInterrupt):
    """What a Ctrl-C or SIGTERM raises. Not KeyboardInterrupt itself: when one of those passes
    through code that exec() runs (dataclasses make their methods so), Python run with ``-m``
    ends itself by SIGINT at exit, however it was caught (status -2, no message)."""


def _on_signal(signum, frame) -> None:
    global _stopped_by
    if _stopped_by is None:
        _stopped_by = signum
    if not _armed:
        return
    # a library may turn the interrupt into another error and swallow that (Hydra does, while it
    # composes the config): until main has caught it, the signal comes again every second
    again = threading.Timer(1.0, _thread.interrupt_main, (signum,))
    again.daemon = True
    again.start()
    if not isinstance(sys.exc_info()[1], KeyboardInterrupt):  # its own cleanup is not cut short
        raise Interrupted


# first, before the imports below take their second: a Ctrl-C at any moment ends the same way
if __name__ == "__main__":
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

import os  # noqa: E402

import hydra  # noqa: E402
from hydra._internal.utils import get_args_parser  # noqa: E402
from hydra.errors import HydraException, OverrideParseException  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from omegaconf.errors import OmegaConfBaseException  # noqa: E402

from . import hydra_callbacks  # noqa: E402
from .jobs import Refused  # noqa: E402
from .overrides import name_unparsable  # noqa: E402
from .task import JobFailed, describe, task  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def app(cfg: DictConfig) -> dict:
    return task(cfg)


def _check_arguments() -> None:
    """Refuse unknown flags in one line (argparse would print its usage first)."""
    parser = get_args_parser()
    parser.error = lambda message: hydra_callbacks.refuse(f"{message} (see --help)")  # type: ignore[method-assign]
    parser.parse_args()


def _bad_override(e: BaseException) -> str:
    """The parse error, naming the override it is about (Hydra's message may not)."""
    return name_unparsable(hydra_callbacks.one_line(e), get_args_parser().parse_args().overrides)


def _quiet_about_interrupts() -> None:
    """Say nothing of a Ctrl-C that lands in a finalizer ("Exception ignored ... Traceback")."""
    hook = sys.unraisablehook

    def quiet(unraisable) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    sys.unraisablehook = quiet


def _ignore_signals() -> None:
    """The run's ending is decided: a later Ctrl-C or SIGTERM must not cut it short. Ignored, not
    just remembered: Python's own teardown gives a signal with a Python handler back its default
    action, so one that came then would kill the process by the signal (status -2, no message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _stop(code: int, message: str, sweep_report: bool) -> None:
    _ignore_signals()  # a second Ctrl-C while the summary is written must not cut it short
    if sweep_report and (sweep := hydra_callbacks.current_sweep()) is not None:
        hydra_callbacks.report(sweep, finished=False)
    print(f"pruning-lab: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def main() -> None:
    """The CLI: Hydra's, with its errors (bad overrides, unknown options) in one line, no traceback."""
    full_trace = os.environ.get("HYDRA_FULL_ERROR") == "1"
    # Hydra re-raises instead of printing a multi-line report; the one line is printed below
    os.environ["HYDRA_FULL_ERROR"] = "1"
    global _armed
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    _quiet_about_interrupts()
    try:
        _armed = True
        if _stopped_by is not None:
            raise Interrupted
        _check_arguments()
        app()
        _ignore_signals()  # raises here, inside the try, for a signal that came before it
    except BaseException as e:
        _armed = False  # a signal from here on is only remembered: the ending below runs whole
        if _stopped_by is not None:  # whatever the signal interrupted, it ends the same way
            code = 143 if _stopped_by == signal.SIGTERM else 130
            what = "terminated" if code == 143 else "interrupted"
            _stop(code, f"{what}; finished results are kept, run the same command to resume", sweep_report=True)
        if isinstance(e, SystemExit):
            _ignore_signals()
            raise
        if isinstance(e, JobFailed):
            _stop(1, f"error: {e}", sweep_report=False)
        if full_trace:
            _ignore_signals()
            raise
        config_error = isinstance(e, (HydraException, OmegaConfBaseException, Refused))
        message = _bad_override(e) if isinstance(e, OverrideParseException) else \
            hydra_callbacks.one_line(e) if config_error else describe(e)
        _stop(2 if config_error else 1, f"error: {message}", sweep_report=not config_error)


if __name__ == "__main__":
    main()
