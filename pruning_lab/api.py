"""The library from Python: one job composed, checked, run and stored as the command line does it.

``simulate`` composes the package's ``conf/`` with Hydra's compose API, so a notebook and the
CLI read the same defaults and refuse the same overrides (a ``ConfigError`` holding the CLI's
one-line message, raised before anything is written). With a store it reuses a valid stored
result or stores the new one, through the same function as a CLI job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from . import numerics
from .config import ConfigError, Job, resolve, validate

# the package is installed editable, beside the conf/ the CLI's @hydra.main reads
CONF = Path(__file__).resolve().parent.parent / "conf"


def compose(overrides: Sequence[str]):
    """The config the CLI composes for ``overrides``, not yet checked; ``ConfigError`` if Hydra refuses them."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    from .launch.overrides import name_unparsable, one_line

    # a caller may hold Hydra's global state (a notebook composing its own configs): set it
    # aside, and give it back afterwards
    held = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return hydra_compose("config", overrides=list(overrides))
    except OverrideParseException as e:
        raise ConfigError(name_unparsable(one_line(e), overrides)) from None
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(one_line(e)) from None
    finally:
        if held is not None:
            GlobalHydra.instance().initialize(held)


def job(overrides: Sequence[str] = ()) -> Job:
    """The validated Job the command line would run for ``overrides`` (``ConfigError`` if refused)."""
    if isinstance(overrides, str):
        raise TypeError("overrides must be a list of strings, e.g. ['treatment=ssri', 'seed=3']")
    return validate(*resolve(compose(overrides))).job


def simulate(overrides: Sequence[str] = (), store: str | Path | None = None) -> dict:
    """Run one job (``["treatment=ssri", "seed=3"]``, as on the command line) and return its result.

    ``store``: a result store (the CLI's ``paths.store``, checked as it is): a valid stored
    result for the same config is returned without recomputing (``force=true`` recomputes), a
    new one is stored; a read-only store serves its results. Without it the job is computed in
    memory and nothing is written.
    """
    if isinstance(overrides, str):
        raise TypeError("overrides must be a list of strings, e.g. ['treatment=ssri', 'seed=3']")
    checked = validate(*resolve(compose(overrides)))
    job, force = checked.job, checked.force
    if store is not None:
        from .store import BadStore, check_root

        try:
            store = check_root(str(store))
        except BadStore as e:
            raise ConfigError(str(e)) from None
    numerics.prepare(job.numerics)  # before this process first loads torch and numba, if it has not

    import torch

    threads = torch.get_num_threads()  # a job pins torch to one thread; the caller's setting comes back
    try:
        if store is None:
            from .sim.protocol import run

            result = run(job)
        else:
            from .store import Store

            result, _ = Store(store).result_of(job, force=force)
    finally:
        torch.set_num_threads(threads)
    return json.loads(json.dumps(result))  # the plain JSON types a stored result reads back as
