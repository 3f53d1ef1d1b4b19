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
from .config import ConfigError, Job, resolve, shown, validate

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


def _overrides(overrides: Any, name: str = "overrides") -> list[str]:
    """``overrides`` as a list of strings; ``TypeError`` naming ``name`` (or its item) if it is not one."""
    if isinstance(overrides, (str, bytes, Mapping)) or not isinstance(overrides, Iterable):
        raise TypeError(f"{name} must be a list of strings, e.g. ['treatment=ssri', 'seed=3'], got {shown(overrides)}")
    out = list(overrides)
    for i, o in enumerate(out):
        if not isinstance(o, str):
            raise TypeError(f"{name}[{i}] must be a string such as 'seed=3', got {shown(o)}")
    return out


def compose(overrides: Sequence[str]):
    """The config the CLI composes for ``overrides``, not yet checked; ``ConfigError`` if Hydra refuses them."""
    from hydra import compose as hydra_compose
    from hydra.errors import HydraException

    from .launch.overrides import check_parsable, closest_key, one_line

    overrides = _overrides(overrides)
    check_parsable(overrides)
    with _hydra(overrides):
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
    if store is not None:
        store = _directory(store, "store", existing_read_only=True)
    checked = validate(*resolve(compose(overrides)), typed=_overrides(overrides))
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
        if not grid:  # a product over no axis would be one job of the defaults, a grid given by mistake
            raise ConfigError("grid has no keys: give it at least one, e.g. {'seed': [0, 1, 2]} (or [[]] for the "
                              "default job alone)")
        axes = [_axis(k, vs) for k, vs in grid.items()]
        return [list(job) for job in itertools.product(*axes)]
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Iterable):
        raise TypeError(f"grid must be a mapping {{'key': [values]}} or a list of override lists "
                        f"[['key=value', ...], ...], got {shown(grid)}")
    jobs = [_overrides(j, f"grid[{i}]") for i, j in enumerate(grid)]
    if not jobs:
        raise ConfigError("grid has no jobs: give it at least one override list")
    return jobs


def _axis(key: Any, values: Any) -> list[str]:
    """One key of a grid: its overrides, one per value; ``ConfigError`` for an empty one."""
    from .launch.overrides import override_value as value  # Hydra's parser: loaded on first use, not on import

    if not isinstance(key, str) or not key.strip():
        raise TypeError(f"grid's keys must be config keys such as 'seed', got {shown(key)}")
    values = list(values) if isinstance(values, Iterable) and not isinstance(values, (str, bytes, Mapping)) else [values]
    if not values:
        raise ConfigError(f"grid[{key!r}] is empty: the sweep would have no jobs")
    from .launch.overrides import override_value

    try:
        return [f"{key}={override_value(v)}" for v in values]
    except ValueError as e:  # an integer too long to write out
        raise ConfigError(f"grid[{key!r}] has a value that cannot be an override: {e}") from None


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

    jobs = grid_overrides(grid)
    overrides = _overrides(overrides)
    store = _directory(store, "store", existing_read_only=True)
    if sweep_dir is not None:
        sweep_dir = _directory(sweep_dir, "sweep_dir")
    _check_launch(n_jobs, launcher)
    where = run_sweep(jobs, overrides=overrides, store=store, sweep_dir=sweep_dir, n_jobs=n_jobs, launcher=launcher)
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
    from .launch.overrides import check_parsable, one_job

    for job in jobs:
        one_job([*_overrides(overrides), *job])

    check_parsable([*_overrides(overrides), *(o for job in jobs for o in job)])
    _study_chosen(list(overrides), jobs)
    fixed = [*_overrides(overrides), f"paths.store={_quoted(store, 'store')}", f"hydra/launcher={launcher}"]
    if sweep_dir is not None:
        fixed.append(f"hydra.sweep.dir={_quoted(sweep_dir, 'sweep_dir')}")
    if launcher == "local":
        fixed.append(f"hydra.launcher.n_jobs={n_jobs}")
    setup_globals()  # Hydra's resolvers (${now:...}), as its main registers them
    with _hydra(fixed) as loader:
        master = loader.load_configuration("config", overrides=fixed, run_mode=RunMode.MULTIRUN)
        _study_preset(loader, master, list(overrides), jobs)
        jobs = _with_params(master, loader, fixed, jobs)
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


# -- the arguments: each refused in one line naming it, before anything is written or run ---------


def _directory(path: Any, name: str, existing_read_only: bool = False) -> Path:
    """The directory ``path`` names for argument ``name`` (``TypeError`` if it is no path,
    ``ConfigError`` if no directory can be written there)."""
    from .store import check_dir

    if not isinstance(path, (str, Path)):
        raise TypeError(f"{name} must be a path (a str or a pathlib.Path), got {shown(path)}")
    return check_dir(path, name, existing_read_only)


def _quoted(path: str | Path, name: str) -> str:
    """``path`` as an override value that reads back as itself: quoted (spaces, commas, ``=``,
    non-ASCII letters), ``${`` escaped; ``ConfigError`` for a backslash, which Hydra reads as one
    escape here and as none there."""
    text = str(path)
    if "\\" in text:
        raise ConfigError(f"{name} must not hold a backslash (an override reads it as an escape), got {text!r}")
    return "'" + text.replace("'", "\\'").replace("${", "\\${") + "'"


def _check_launch(n_jobs: Any, launcher: Any) -> None:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int):
        raise TypeError(f"n_jobs must be an integer (-1: every core), got {shown(n_jobs)}")
    if n_jobs == 0:
        raise ConfigError("n_jobs must be a non-zero integer (-1: every core, -2: all but one), got 0")
    launchers = sorted(p.stem for p in (CONF / "hydra" / "launcher").glob("*.yaml"))
    if not isinstance(launcher, str):
        raise TypeError(f"launcher must be one of {', '.join(launchers)}, got {shown(launcher)}")
    if launcher not in launchers:
        raise ConfigError(f"launcher must be one of {', '.join(launchers)}, got {shown(launcher)}")


def _study_chosen(overrides: list[str], jobs: list[list[str]]) -> None:
    """``ConfigError`` if an override chooses a study (``hydra/sweeper=search``): ``sweep`` runs
    grids, the command line runs studies; the message gives its command."""
    for o in dict.fromkeys(o for job in [overrides, *jobs] for o in job):
        key, _, kind = o.lstrip("+~").partition("=")
        if key in ("hydra/sweeper", "hydra.sweeper.study") and kind != "grid":
            _refuse_study(kind, o, overrides, jobs)


def _study_preset(loader, master, overrides: list[str], jobs: list[list[str]]) -> None:
    """``ConfigError`` if a preset chooses a study (``experiment=search_regrowth``), for every job or for some."""
    from hydra.types import RunMode

    kind = master.hydra.runtime.choices.get("hydra/sweeper")
    if kind != "grid":
        _refuse_study(kind, " ".join(o for o in overrides if o.startswith("experiment=")), overrides, jobs)
    chosen = {tuple(o for o in job if o.lstrip("+~").startswith("experiment=")) for job in jobs}
    for presets in sorted(c for c in chosen if c):
        cfg = loader.load_configuration("config", overrides=[*overrides, *presets], run_mode=RunMode.MULTIRUN)
        kind = cfg.hydra.runtime.choices.get("hydra/sweeper")
        if kind != "grid":
            _refuse_study(kind, " ".join(presets), overrides, jobs)


def _refuse_study(kind: str, chosen: str, overrides: list[str], jobs: list[list[str]]) -> None:
    from .launch.overrides import as_line

    line = as_line(f"hydra/sweeper={o.partition('=')[2]}" if o.lstrip("+~").startswith("hydra.sweeper.study=") else o
                   for o in [*overrides, *_declared(jobs)])
    what = f"hydra/sweeper={kind}" if not chosen or chosen.startswith("hydra") else f"{chosen} (hydra/sweeper={kind})"
    raise ConfigError(f"{what} is a study, which sweep() does not run (it runs grids); run it from the command line: "
                      f"python -m pruning_lab.run -m {line}")


def _with_params(master, loader, fixed: list[str], jobs: list[list[str]]) -> list[list[str]]:
    """``jobs`` swept over the keys of a preset's ``hydra.sweeper.params`` (``experiment=paper2``:
    treatment, seed) that neither they nor ``fixed`` set, as the command line sweeps them."""
    from .launch.overrides import expand

    given = {o.lstrip("+~").partition("=")[0] for job in [fixed, *jobs] for o in job}
    params = {k: v for k, v in (master.hydra.sweeper.get("params") or {}).items() if k not in given}
    if not params:
        return jobs
    return [[*outer, *job] for outer in expand([], params, loader) for job in jobs]
