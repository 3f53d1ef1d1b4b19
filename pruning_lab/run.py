"""CLI: ``python -m pruning_lab.run [-m] [overrides...]`` runs one job per (seed, treatment).

The result goes to the content-addressed store (``paths.store``) and, as ``result.json``,
into Hydra's job directory. A job whose valid result is already stored is not recomputed.
Every refusal or failure is reported in one line: a bad config exits 2, a failed job 1, an
interrupted sweep 130; finished results stay in the store and a rerun picks up from there.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path

import hydra
from hydra._internal.utils import get_args_parser
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from . import hydra_callbacks
from .config import Job, flag
from .overrides import name_unparsable
from .store import ResultStore, atomic_write, clear_temporaries, dump_json, take_repairs

log = logging.getLogger("pruning_lab")


class JobFailed(RuntimeError):
    """A job raised; the message is one line and names the traceback file."""


def execute(job: Job, store: Path, force: bool = False) -> tuple[dict, bool]:
    """The job's result, from the store when a valid one is there (reused=True), else computed.

    The job's lock is held while it is computed, so a concurrent sweep that reaches the same
    job waits and then reuses the result instead of computing it twice.
    """
    from .protocol import run  # here, so that a refused command line never waits for torch to load

    results = ResultStore(store)
    with results.lock(job.hash):
        if not force and (stored := results.load(job.hash)) is not None:
            return stored, True
        clear_temporaries(results.path(job.hash))  # a write cut short by a kill
        result = run(job, store)
        results.save(result)
        return result, False


def describe(e: BaseException) -> str:
    first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _status(out: Path, status: dict) -> None:
    atomic_write(out / hydra_callbacks.STATUS, (json.dumps(status, indent=1) + "\n").encode())


# set by main(); a process that inherited it but has another pid is a sweep worker
LAUNCHER_PID_ENV = "PRUNING_LAB_LAUNCHER_PID"


def _in_worker() -> bool:
    launcher = os.environ.get(LAUNCHER_PID_ENV)
    return launcher is not None and launcher != str(os.getpid()) and \
        threading.current_thread() is threading.main_thread()


@contextmanager
def _interruptible_while_running():
    """In a sweep worker, Ctrl-C stops a running job; between jobs it is ignored.

    Workers get the terminal's SIGINT too. Raised between jobs, it lands in the worker pool's
    own loop (in a garbage collection, say) and prints a traceback; the launcher stops the
    sweep and its workers either way.
    """
    worker = _in_worker()
    if worker:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if worker:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


if _in_worker():  # a worker importing this module for its first job: not in a job yet
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def task(cfg: DictConfig) -> dict:
    """One job under Hydra: reuse or run it, copy its result into the job dir, record its status."""
    _quiet_about_interrupts()
    with _interruptible_while_running():
        return _task(cfg)


def _task(cfg: DictConfig) -> dict:
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    status = {"sweep": os.environ.get(hydra_callbacks.SWEEP_ENV) if multirun else None,
              "num": hc.job.num if multirun else None, "overrides": list(hc.overrides.task),
              "pid": os.getpid(), "state": "running"}
    _status(out, status)
    for stale in ("result.json", "traceback.txt"):  # left by an earlier sweep in the same directory
        (out / stale).unlink(missing_ok=True)
    take_repairs()
    try:
        job = Job.from_config(cfg)
        status.update(config_hash=job.hash, treatment=job.treatment.name, seed=job.seed)
        result, reused = execute(job, Path(cfg.paths.store), force=flag(cfg, "force"))
        atomic_write(out / "result.json", dump_json(result))
    except Exception as e:  # one job's failure must not take the sweep's other results with it
        error = describe(e)
        trace = out / "traceback.txt"
        trace.write_text(traceback.format_exc())
        log.error("job failed: %s (traceback in %s)", error, trace)
        _status(out, {**status, "state": "failed", "error": error, "repaired": take_repairs()})
        if multirun:
            return {"state": "failed", "error": error}
        raise JobFailed(f"job failed: {error} (traceback in {trace})") from None
    if reused:
        log.info("[%s seed %d] reused stored result %s", job.treatment.name, job.seed, job.hash)
    state = "reused" if reused else "ran"
    _status(out, {**status, "state": state, "repaired": take_repairs()})
    return {"config_hash": job.hash, "state": state}


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


_interrupted = False


def _on_interrupt(signum, frame) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def _quiet_about_interrupts() -> None:
    """Say nothing of a Ctrl-C that lands in a finalizer ("Exception ignored ... Traceback").

    The sweep stops anyway; installed in the launcher and in every worker process, which gets
    the terminal's SIGINT too but never runs ``main``.
    """
    hook = sys.unraisablehook
    if getattr(hook, "quiet_about_interrupts", False):
        return

    def quiet(unraisable) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    quiet.quiet_about_interrupts = True  # type: ignore[attr-defined]
    sys.unraisablehook = quiet


def _stop(code: int, message: str, sweep_report: bool) -> None:
    if sweep_report and (sweep := hydra_callbacks.current_sweep()) is not None:
        hydra_callbacks.report(sweep, finished=False)
    print(f"pruning-lab: {message}", file=sys.stderr)
    sys.exit(code)


def main() -> None:
    """The CLI: Hydra's, with its errors (bad overrides, unknown options) in one line, no traceback."""
    full_trace = os.environ.get("HYDRA_FULL_ERROR") == "1"
    # Hydra re-raises instead of printing a multi-line report; the one line is printed below
    os.environ["HYDRA_FULL_ERROR"] = "1"
    os.environ[LAUNCHER_PID_ENV] = str(os.getpid())
    signal.signal(signal.SIGINT, _on_interrupt)
    _quiet_about_interrupts()
    interrupted = "interrupted; finished results are kept, run the same command to resume"
    try:
        _check_arguments()
        app()
    except KeyboardInterrupt:
        _stop(130, interrupted, sweep_report=True)
    except Exception as e:
        if _interrupted:  # a worker's end reported as an error of its own while the sweep stops
            _stop(130, interrupted, sweep_report=True)
        if full_trace:
            raise
        config_error = isinstance(e, (HydraException, OmegaConfBaseException))
        message = _bad_override(e) if isinstance(e, OverrideParseException) else \
            hydra_callbacks.one_line(e) if config_error else str(e) if isinstance(e, JobFailed) else describe(e)
        _stop(2 if config_error else 1, f"error: {message}", sweep_report=not config_error)


if __name__ == "__main__":
    main()
