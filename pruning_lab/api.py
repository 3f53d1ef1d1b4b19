"""The library from Python: jobs and sweeps composed, checked, run and stored as the command line does.

``job`` and ``simulate`` compose the package's ``conf/`` with Hydra's compose API, so a notebook
and the CLI read the same defaults and refuse the same overrides (a ``ConfigError`` holding the
CLI's one-line message, raised before anything is written). ``sweep`` runs many jobs on the
command line's own launch path: planned and validated first, then run in parallel worker
processes with the same store, reuse, progress and summary, and returned as a tidy frame.
"""

from __future__ import annotations

import itertools
import json
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from . import numerics
from .config import ConfigError, Job, resolve, validate
from .launch.overrides import override_value as value

if TYPE_CHECKING:
    import pandas as pd

# the package is installed editable, beside the conf/ the CLI's @hydra.main reads
CONF = Path(__file__).resolve().parent.parent / "conf"


@contextmanager
def _hydra(overrides: Sequence[str] = ()):
    """Hydra's global state for the package's conf/ (a caller's own is set aside, then given back);
    Hydra's and OmegaConf's errors as ``ConfigError`` (naming the one of ``overrides`` that does not parse)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    from .launch.overrides import name_unparsable, one_line

    held = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            yield GlobalHydra.instance().config_loader()
    except OverrideParseException as e:
        raise ConfigError(name_unparsable(one_line(e), overrides)) from None
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(one_line(e)) from None
    finally:
        if held is not None:
            GlobalHydra.instance().initialize(held)


def _overrides(overrides: Any) -> list[str]:
    if isinstance(overrides, str):
        raise TypeError("overrides must be a list of strings, e.g. ['treatment=ssri', 'seed=3']")
    return list(overrides)


def compose(overrides: Sequence[str]):
    """The config the CLI composes for ``overrides``, not yet checked; ``ConfigError`` if Hydra refuses them."""
    from hydra import compose as hydra_compose
    from hydra.errors import HydraException

    from .launch.overrides import closest_key, one_line

    with _hydra(_overrides(overrides)):
        try:
            return hydra_compose("config", overrides=list(overrides))
        except HydraException as e:  # a key the config lacks: the closest one it has
            message = closest_key(one_line(e), list(overrides), lambda rest: hydra_compose("config", overrides=rest))
            if message == one_line(e):
                raise
            raise ConfigError(message) from None


def job(overrides: Sequence[str] = ()) -> Job:
    """The validated Job the command line would run for ``overrides`` (``ConfigError`` if refused)."""
    return validate(*resolve(compose(overrides)), typed=overrides).job


def simulate(overrides: Sequence[str] = (), store: str | Path | None = None) -> dict:
    """Run one job (``["treatment=ssri", "seed=3"]``, as on the command line) and return its result.

    ``store``: a result store (the CLI's ``paths.store``, checked as it is): a valid stored
    result for the same config is returned without recomputing (``force=true`` recomputes), a
    new one is stored; a read-only store serves its results. Without it the job is computed in
    memory and nothing is written.
    """
    checked = validate(*resolve(compose(overrides)), typed=overrides)
    if store is not None:
        from .store import BadStore, check_root

        try:
            store = check_root(str(store))
        except BadStore as e:
            raise ConfigError(str(e)) from None
    # before this process first loads torch and numba, if it has not
    numerics.prepare(checked.job.numerics, checked.portable_isa)

    import torch

    threads = torch.get_num_threads()  # a job pins torch to one thread; the caller's setting comes back
    try:
        if store is None:
            from .sim.protocol import run
            from .store import labelled

            result = labelled(run(checked.job), checked.job, checked.knobs)
        else:
            from .store import Store

            result, _ = Store(store).result_of(checked.job, force=checked.force, knobs=checked.knobs)
    finally:
        torch.set_num_threads(threads)
    return json.loads(json.dumps(result))  # the plain JSON types a stored result reads back as


def grid_overrides(grid: Mapping[str, Iterable] | Sequence[Sequence[str]]) -> list[list[str]]:
    """Every job's overrides: the cartesian product of a grid's values (its last key varying
    fastest, as on the command line), or the given list of override lists."""
    if isinstance(grid, Mapping):
        axes = [[f"{k}={value(v)}" for v in (vs if isinstance(vs, Iterable) and not isinstance(vs, str) else [vs])]
                for k, vs in grid.items()]
        return [list(job) for job in itertools.product(*axes)]
    jobs = [_overrides(j) for j in grid]
    if not all(isinstance(o, str) for j in jobs for o in j):
        raise TypeError("a sweep is a grid {'key': [values]} or a list of override lists [['key=value', ...], ...]")
    return jobs


def sweep(grid: Mapping[str, Iterable] | Sequence[Sequence[str]], *, overrides: Sequence[str] = (),
          store: str | Path = "outputs/store", sweep_dir: str | Path | None = None, n_jobs: int = -1,
          launcher: str = "local") -> pd.DataFrame:
    """Run a sweep as ``python -m pruning_lab.run -m`` does, and return its results as a tidy frame.

    ``grid``: ``{"treatment": ["ketamine", "ssri"], "seed": range(10)}`` (every combination), or
    a list of override lists. ``overrides`` apply to every job (``["model.hidden=[64,64]"]``).
    Jobs whose results ``store`` holds are reused; the others run in ``n_jobs`` worker processes
    (joblib's count: -1, every core), or on ``launcher`` (a ``hydra/launcher`` option:
    ``slurm``, ``slurm_local``). ``sweep_dir`` gets one directory per job (default: a new one
    under ``outputs/multirun/``); the frame holds this sweep's jobs only. Every job is checked
    before any runs (``ConfigError``); a job that fails is named in the summary and missing
    from the frame.
    """
    from .analysis.load import load_results

    where = run_sweep(grid_overrides(grid), overrides=overrides, store=store, sweep_dir=sweep_dir, n_jobs=n_jobs,
                      launcher=launcher)
    return load_results(where)


def run_sweep(jobs: list[list[str]], *, overrides: Sequence[str] = (), store: str | Path = "outputs/store",
              sweep_dir: str | Path | None = None, n_jobs: int = -1, launcher: str = "local") -> Path:
    """The sweep of ``jobs`` (override lists), run by the command line's grid sweeper; its directory."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import setup_globals
    from hydra.types import HydraContext, RunMode
    from omegaconf import open_dict

    from .launch.grid import GridSweeper, SweepFailed
    from .launch.launcher import PlanLauncher
    from .launch.overrides import one_job

    for job in jobs:
        one_job([*_overrides(overrides), *job])

    fixed = [*_overrides(overrides), f"paths.store={value(str(store))}", f"hydra/launcher={launcher}"]
    if sweep_dir is not None:
        fixed.append(f"hydra.sweep.dir={value(str(sweep_dir))}")
    if launcher == "local":
        fixed.append(f"hydra.launcher.n_jobs={n_jobs}")
    setup_globals()  # Hydra's resolvers (${now:...}), as its main registers them
    with _hydra(fixed) as loader:
        master = loader.load_configuration("config", overrides=fixed, run_mode=RunMode.MULTIRUN)
        with open_dict(master.hydra):
            master.hydra.overrides.task = fixed + _declared(jobs)
        HydraConfig.instance().set_config(master)
        sweeper = GridSweeper(params=None, jobs=[fixed + job for job in jobs])
        # no callbacks and no task function: the project's launchers call neither
        sweeper.setup(hydra_context=HydraContext(config_loader=loader, callbacks=None), task_function=None,
                      config=master)
        if not isinstance(sweeper.launcher, PlanLauncher):
            raise ConfigError(f"hydra/launcher={launcher} cannot run a sweep from Python; use local, slurm or "
                              f"slurm_local")
        try:
            sweeper.sweep([])
        except SweepFailed:  # named in the summary; the frame lacks its jobs
            pass
        return sweeper.dir


def _declared(jobs: list[list[str]]) -> list[str]:
    """The sweep's axes in Hydra's sweep syntax (``seed=0,1,2``), as ``multirun.yaml`` records a
    command line's, so that its reader finds the grid asked for."""
    axes: dict[str, list[str]] = {}
    for job in jobs:
        for o in job:
            key, _, v = o.partition("=")
            if v not in axes.setdefault(key, []):
                axes[key].append(v)
    return [f"{k}={','.join(vs)}" for k, vs in axes.items()]
