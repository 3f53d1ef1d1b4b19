"""A sweep's plan: every job composed, validated and given its directory before anything runs.

Hydra composes a job in two steps: the defaults list (chosen by group overrides such as
``treatment=ssri``) is merged into a config, then the value overrides (``seed=3``) are applied
to it. Jobs that differ only in plain values share the first step, so Hydra composes it once per
combination (``ConfigLoader.load_sweep_config``), and each job's values are applied to that
config as Hydra applies them (``OmegaConf.update``), its interpolations resolved by OmegaConf.
The job is then validated once (``config.validate``) and frozen into a ``PlannedJob``: what a
worker runs, without reading ``conf/`` again.
"""

from __future__ import annotations

import copy
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from ..config import ConfigError, Job, validate
from ..store import BadStore, check_root
from .overrides import one_line
from .status import JobStatus


@dataclass(frozen=True)
class PlannedJob:
    """One job as it will run: its number and overrides, its validated Job, where it writes."""

    num: int
    overrides: tuple[str, ...]
    job: Job
    hash: str  # the job's hash (Job.hash), computed once
    dir: Path  # its job directory
    store: Path
    force: bool
    sweep: str | None = None  # the token of its sweep (None: a single run)

    def status(self, state: str, **extra: Any) -> JobStatus:
        return JobStatus(self.num, list(self.overrides), state, sweep=self.sweep, pid=os.getpid(),
                         hash=self.hash, treatment=self.job.treatment.name, seed=self.job.seed, **extra)


def new_token() -> str:
    """A sweep's token, which every status it writes carries."""
    return uuid.uuid4().hex[:16]


def planned(cfg: DictConfig, overrides: Sequence[str], job_dir: Path, num: int | None = None,
            sweep: str | None = None) -> PlannedJob:
    """The PlannedJob of a job's config as Hydra composed it (a single run, or another launcher's job)."""
    resolved, raw = _own(cfg)
    return _freeze(num, tuple(overrides), resolved, raw, job_dir, sweep, {})


def _own(cfg: DictConfig) -> tuple[dict, dict]:
    """The job's own config (Hydra's node left out), resolved and as written."""
    keys = [k for k in cfg if k != "hydra"]
    try:
        resolved = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
                    for k in keys}
    except Exception as e:  # an interpolation that does not resolve
        raise ConfigError(str(e).splitlines()[0]) from None
    raw = OmegaConf.to_container(cfg, resolve=False)
    return resolved, {k: raw[k] for k in keys}


def _freeze(num, overrides, resolved, raw, job_dir, sweep, stores: dict) -> PlannedJob:
    checked = validate(resolved, raw)
    store = checked.store
    if store not in stores:  # once per sweep, not once per job
        try:
            stores[store] = check_root(store)
        except BadStore as e:
            raise ConfigError(str(e)) from None
    return PlannedJob(num, overrides, checked.job, checked.job.hash, job_dir, stores[store], checked.force, sweep)


class Planner:
    """Plans the jobs of one sweep against its master config (``hydra_context.config_loader``)."""

    def __init__(self, master: DictConfig, loader, token: str):
        self.master, self.loader, self.token = master, loader, token
        self.sweep_dir = Path(str(master.hydra.sweep.dir))  # resolved once: every job's ${now:...} is this one
        self.groups = set(master.hydra.runtime.choices)
        self.parser = OverridesParser.create()
        self.combinations: dict[tuple, _Combination] = {}
        self.stores: dict[Any, Path] = {}

    def _value(self, o: Override) -> bool:
        """A plain ``key=value`` of a scalar: applied after composition, the same way for every combination."""
        return (o.type == OverrideType.CHANGE and o.package is None and not o.is_hydra_override()
                and not o.is_sweep_override() and not isinstance(o.value(), (dict, list))
                and o.key_or_group not in self.groups)

    def plan(self, num: int, overrides: Sequence[str]) -> PlannedJob:
        """Job ``num``, composed and validated; ``ConfigError`` naming the job if it cannot run."""
        try:
            parsed = self.parser.parse_overrides(list(overrides))
            values = [o for o in parsed if self._value(o)]
            keys = [o.key_or_group for o in values]
            if any(a != b and b.startswith(a + ".") for a in keys for b in keys):
                values = []  # one value inside another: Hydra applies them in order
            combination = tuple(("value", o.key_or_group) if o in values else ("other", o.input_line) for o in parsed)
            at = self.combinations.get(combination)
            if at is None or not at.takes(values):
                at = _Combination(self.loader.load_sweep_config(self.master, list(overrides)))
                if at.takes(values):
                    self.combinations[combination] = at
                else:
                    values = []  # a value Hydra may refuse (an unknown key) or one that replaces a node
            resolved, raw, subdir = at.job(values, [o for o in parsed if not o.is_hydra_override()], num)
            return _freeze(num, tuple(overrides), resolved, raw, self.sweep_dir / subdir, self.token, self.stores)
        except ConfigError as e:
            if str(e).startswith("paths.store"):
                raise
            raise ConfigError(f"{e} (job {' '.join(overrides)})") from None
        except Exception as e:  # unknown group option, bad override syntax, ...
            raise ConfigError(f"{one_line(e)} (job {' '.join(overrides)})") from None


_ABSENT = object()


class _Combination:
    """One combination's config, composed by Hydra; each job's values are applied to it in turn."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.resolved, self.raw = _own(cfg)
        # the leaves whose value comes from elsewhere: resolved again for every job
        self.interpolated = [key for key, v in _leaves(self.raw) if isinstance(v, str) and "${" in v]

    def takes(self, values: list[Override]) -> bool:
        """Whether each value sets an existing leaf (anything else is Hydra's to compose, or refuse)."""
        for o in values:
            node = OmegaConf.select(self.cfg, o.key_or_group, default=_ABSENT, throw_on_resolution_failure=False)
            if node is _ABSENT or isinstance(node, (DictConfig, ListConfig)):
                return False
        return True

    def job(self, values: list[Override], task: list[Override], num: int) -> tuple[dict, dict, str]:
        """The job's own config, resolved and as written, and its directory under the sweep's."""
        cfg = self.cfg
        for o in values:
            OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
        with read_write(cfg.hydra), open_dict(cfg.hydra):
            # what Hydra's launchers set for each job, and the overrides it records for it
            cfg.hydra.job.num, cfg.hydra.job.id = num, f"{cfg.hydra.job.name}_{num}"
            cfg.hydra.overrides.task = [o.input_line for o in task]
            dirname = cfg.hydra.job.config.override_dirname
            lines = sorted(o.input_line for o in task if o.key_or_group not in dirname.exclude_keys)
            cfg.hydra.job.override_dirname = re.sub("[=]", dirname.kv_sep, dirname.item_sep.join(lines))
        resolved, raw = copy.deepcopy(self.resolved), copy.deepcopy(self.raw)
        try:
            for key in [o.key_or_group for o in values] + self.interpolated:
                v = OmegaConf.select(cfg, key)
                _set(resolved, key, OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v)
        except Exception as e:  # an interpolation that does not resolve
            raise ConfigError(str(e).splitlines()[0]) from None
        for o in values:
            _set(raw, o.key_or_group, o.value())
        return resolved, raw, str(cfg.hydra.sweep.subdir)


def _leaves(node: Any, prefix: str = ""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}{k}.")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{prefix}{i}.")
    else:
        yield prefix[:-1], node


def _set(tree: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for k in parents:
        tree = tree[int(k) if isinstance(tree, list) else k]
    tree[int(last) if isinstance(tree, list) else last] = value
