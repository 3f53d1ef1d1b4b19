"""The command line: Hydra's, with every refusal and failure in one line and a clean end on any signal.

``python -m pruning_lab.run [-m] [overrides...]``. A single run is planned (resolved, validated,
its store checked) before Hydra writes its directory (``CheckRun``) and runs in this process; a
multirun goes through the sweeper ``hydra/sweeper`` chooses (grid, search or sensitivity: plan,
launch, report). Exit status: 0 done, 1 a job failed, 2 a refused config, 128 + the signal's
number when stopped (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, OverrideParseException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from ..config import ConfigError
from ..store import check_dir
from . import signals
from .grid import SWEEP_ENV
from .job import execute, failure
from .overrides import check_parsable, closest_key, name_unparsable, one_line
from .plan import PlannedJob, planned
from .status import JobStatus

# the package is installed editable, beside the conf/ it reads
CONF = str(Path(__file__).resolve().parents[2] / "conf")
ENDINGS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}


class JobFailed(BaseException):
    """A single run's job failed; the message is one line and names the traceback file.

    Not an ``Exception``: Hydra would catch that and print a line of its own before ours.
    """


class Refused(BaseException):
    """A config refused where Hydra turns an ``Exception`` into a warning (its callbacks)."""


# The single run CheckRun planned, for the task function Hydra calls next in this process: Hydra
# gives a callback no way to hand its work to the task function.
_single: list[PlannedJob] = []


def _moved(study: Any) -> Refused:
    return Refused(f"hydra.sweeper.study={study} is now hydra/sweeper={study}")


class CheckRun(Callback):
    """A single run, planned (resolved, validated, its store checked) before Hydra creates its
    directory: a refused config leaves nothing behind. A multirun's preset that chooses its
    study the old way is refused before Hydra builds the sweeper."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:  # in the directory Hydra names next (``now`` resolves once per config)
            run_dir = Path(os.path.abspath(check_dir(str(config.hydra.run.dir), "hydra.run.dir")))
            _single[:] = [planned(config, list(config.hydra.overrides.task), run_dir)]
        except (ConfigError, OmegaConfBaseException) as e:
            raise Refused(one_line(e)) from None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if "study" in config.hydra.sweeper:
            raise _moved(config.hydra.sweeper.study)


def task(cfg: DictConfig) -> JobStatus:
    """The job of ``cfg`` in Hydra's job directory: a single run's, or one of another launcher's sweep."""
    signals.check()
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    if multirun and not hc.verbose:  # per-phase lines go to the job's log file only
        root = logging.getLogger()
        for h in [h for h in root.handlers if type(h) is logging.StreamHandler]:
            root.removeHandler(h)
    if _single and not multirun:
        job = _single.pop()
    else:  # a job of another launcher's sweep (or a run whose config left CheckRun out)
        job = planned(cfg, list(hc.overrides.task), Path(hc.runtime.output_dir), hc.job.num if multirun else None,
                      os.environ.get(SWEEP_ENV) if multirun else None)
    status = execute(job, log_file=False)  # Hydra writes the job's log itself
    signals.kept([status])
    if status.state == "failed" and not multirun:
        raise JobFailed(f"job failed: {status.error} (traceback in {job.dir / 'traceback.txt'})")
    return status


# Hydra's main: it reads the command line, composes the config and runs ``task`` (a single run) or
# the sweeper (a multirun)
app = hydra.main(version_base="1.3", config_path=CONF, config_name="config")(task)


def _check_arguments() -> None:
    """Refuse unknown flags in one line (argparse would print its usage first), and the study
    chosen the old way (``hydra.sweeper.study=search``)."""
    # Hydra's own parser: no public API gives the flags @hydra.main accepts
    from hydra._internal.utils import get_args_parser

    def refuse(message: str) -> None:
        raise ConfigError(f"{message} (see --help)")

    parser = get_args_parser()
    parser.error = refuse  # type: ignore[method-assign]
    overrides = parser.parse_args().overrides
    for override in overrides:
        key, _, study = override.lstrip("+~").partition("=")
        if key == "hydra.sweeper.study":  # Hydra would refuse it as a key the sweeper does not have
            raise _moved(study)
    check_parsable(overrides)


def _typed() -> list[str]:
    """The command line's overrides."""
    from hydra._internal.utils import get_args_parser  # as in _check_arguments

    try:
        return list(get_args_parser().parse_args().overrides)
    except SystemExit:
        return []


def _compose(overrides: list[str]) -> DictConfig:
    """The config of a single run of ``overrides``, composed as the command line composes it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=overrides)


def _quiet_about_interrupts() -> None:
    """Say nothing of a Ctrl-C that lands in a finalizer ("Exception ignored ... Traceback")."""
    hook = sys.unraisablehook

    def quiet(unraisable) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    sys.unraisablehook = quiet


def _ending(e: BaseException, full_trace: bool) -> tuple[int, str] | None:
    """The exit status and one line for ``e``; None to let it through (exits, full traces)."""
    stopped = signals.received()
    if stopped is not None:  # whatever the signal interrupted, it ends the same way
        what = ENDINGS[stopped]
        return signals.exit_code(stopped), (f"{what}; finished results are kept, run the same command to resume"
                                            if signals.any_kept() else f"{what} before any result; nothing to keep")
    if isinstance(e, SystemExit) or (full_trace and not isinstance(e, JobFailed)):
        return None
    if isinstance(e, JobFailed):
        return 1, f"error: {e}"
    if isinstance(e, OverrideParseException):
        return 2, f"error: {name_unparsable(one_line(e), [a for a in sys.argv[1:] if not a.startswith('-')])}"
    if isinstance(e, HydraException):
        return 2, f"error: {closest_key(one_line(e), _typed(), _compose)}"
    if isinstance(e, (OmegaConfBaseException, ConfigError, Refused)):
        return 2, f"error: {one_line(e)}"
    return 1, f"error: {failure(e)}"


def main() -> None:
    """The CLI's entry: Hydra's main, its errors in one line, a clean end on any signal."""
    full_trace = os.environ.get("HYDRA_FULL_ERROR") == "1"
    # Hydra re-raises instead of printing a multi-line report; the one line is printed below
    os.environ["HYDRA_FULL_ERROR"] = "1"
    signals.install(armed=True)
    _quiet_about_interrupts()
    try:
        signals.check()  # a signal that came while the modules loaded
        _check_arguments()
        app()
        signals.check()  # one that a library swallowed on the way
        signals.settle()
    except BaseException as e:
        signals.settle()  # the ending is decided: a later signal must not cut it short
        ending = _ending(e, full_trace)
        if ending is None:
            raise
        code, message = ending
        try:
            print(f"pruning-lab: {message}", file=sys.stderr, flush=True)
        except OSError:  # the terminal is gone (SIGHUP)
            pass
        sys.exit(code)
