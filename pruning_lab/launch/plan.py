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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from ..config import ConfigError, Job, resolve, validate
from ..store import check_dir, check_root
from ..tree import REFERENCE, leaves, references
from .overrides import as_line, closest_key, one_line
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
    knobs: dict = field(default_factory=dict)  # the treatment's knobs as typed (config.Config.knobs)
    portable_isa: str = "auto"  # the portable products' tiles (config.Config.portable_isa)

    def status(self, state: str, **extra: Any) -> JobStatus:
        return JobStatus(self.num, list(self.overrides), state, sweep=self.sweep, pid=os.getpid(),
                         hash=self.hash, treatment=self.job.treatment.name, seed=self.job.seed, **extra)

    def written(self, ended: bool = False) -> JobStatus | None:
        """The status this job (of this sweep) wrote in its directory, if it has written one
        (``ended``: only the one it writes when it ends)."""
        st = JobStatus.read(self.dir)
        mine = st is not None and st.sweep == self.sweep and st.num == self.num
        return st if mine and (st.ended or not ended) else None


def new_token() -> str:
    """A sweep's token, which every status it writes carries."""
    return uuid.uuid4().hex[:16]


def planned(cfg: DictConfig, overrides: Sequence[str], job_dir: Path, num: int | None = None,
            sweep: str | None = None) -> PlannedJob:
    """The PlannedJob of a job's config as Hydra composed it (a single run, or another launcher's job)."""
    resolved, raw = resolve(cfg)
    return _freeze(num, tuple(overrides), validate(resolved, raw, typed=overrides), job_dir, sweep, {})


def _freeze(num, overrides, checked, job_dir, sweep, stores: dict) -> PlannedJob:
    store = checked.store
    if store not in stores:  # once per sweep, not once per job
        stores[store] = check_root(store)
    return PlannedJob(num, overrides, checked.job, checked.job.hash, job_dir, stores[store], checked.force, sweep,
                      checked.knobs, checked.portable_isa)


class Planner:
    """Plans the jobs of one sweep against its master config (``hydra_context.config_loader``)."""

    def __init__(self, master: DictConfig, loader, token: str, under: str = ""):
        self.master, self.loader, self.token = master, loader, token
        # resolved once: every job's ${now:...} is this one; ``under``: a part of a study's directory
        self.sweep_dir = check_dir(str(master.hydra.sweep.dir), "hydra.sweep.dir") / under
        self.dirs: dict[Path, int] = {}  # each job directory planned, by the job that has it
        self.groups = set(master.hydra.runtime.choices)
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
            parsed = [_parse(line) for line in overrides]
            values = [o for o in parsed if self._value(o)]
            keys = [o.key_or_group for o in values]
            if any(a != b and b.startswith(a + ".") for a in keys for b in keys):
                values = []  # one value inside another: Hydra applies them in order
            combination = tuple(("value", o.key_or_group) if o in values else ("other", o.input_line) for o in parsed)
            at = self.combinations.get(combination)
            if at is None:
                at = _Combination(self.loader.load_sweep_config(self.master, list(overrides)))
                # the jobs of a combination set the same keys: if these are leaves for one, they are for all
                if at.takes(values):
                    self.combinations[combination] = at
                else:
                    values = []  # a value Hydra may refuse (an unknown key) or one that replaces a node
            resolved, raw, subdir = at.job(values, [o for o in parsed if not o.is_hydra_override()], num)
            # a value out of range is named before the directory it would give (seed=10**300: too long a name)
            checked = validate(resolved, raw, typed=overrides)
            job_dir = self._job_dir(num, subdir)
            return _freeze(num, tuple(overrides), checked, job_dir, self.token, self.stores)
        except ConfigError as e:
            if str(e).startswith(("paths.store", "hydra.sweep.subdir")):
                raise
            raise ConfigError(f"{e} (job {as_line(overrides)})") from None
        except Exception as e:  # unknown group option, bad override syntax, a key the config lacks...
            message = closest_key(one_line(e), list(overrides),
                                  lambda rest: self.loader.load_sweep_config(self.master, rest))
            raise ConfigError(f"{message} (job {as_line(overrides)})") from None


    def _job_dir(self, num: int, subdir: str) -> Path:
        """Job ``num``'s directory: ``subdir`` of the sweep's, a directory of its own."""
        parts = Path(subdir).parts
        if not parts or Path(subdir).is_absolute() or ".." in parts or max(len(os.fsencode(p)) for p in parts) > 255:
            raise ConfigError(f"hydra.sweep.subdir must name a directory inside hydra.sweep.dir, got {subdir!r} "
                              f"(job #{num})")
        job_dir = self.sweep_dir / subdir
        other = self.dirs.setdefault(job_dir, num)
        if other != num:
            raise ConfigError(f"hydra.sweep.subdir gives jobs #{other} and #{num} the same directory {job_dir}; "
                              f"let it differ by job, as ${{hydra.job.num}} does")
        return job_dir


@lru_cache(maxsize=100_000)
def _parse(line: str) -> Override:
    # a sweep repeats most of its overrides in every job: each distinct one is parsed once
    return OverridesParser.create().parse_override(line)


_ABSENT = object()


class _Combination:
    """One combination's config, composed by Hydra; each job's values are applied to it in turn."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.resolved, self.raw = resolve(cfg)
        # the leaves whose value comes from elsewhere, and the keys each one reads: resolved again
        # for a job whose values reach them
        texts = {key: v for key, v in leaves(self.raw) if isinstance(v, str) and "${" in v}
        self.reads = {key: _reads(key, texts, set()) for key in texts}
        everything = [v for _, v in leaves(OmegaConf.to_container(cfg, resolve=False)) if isinstance(v, str)]
        # Hydra's per-job records, kept up to date only where something reads them
        self.records_task = any("hydra.overrides" in v for v in everything)
        self.records_dirname = any("override_dirname" in v for v in everything)
        self.dirname = cfg.hydra.job.config.override_dirname
        self.applied: dict[str, str] = {}  # the value overrides in effect, by key
        self.current: dict[str, Any] = {}  # their keys' and their readers' values, resolved

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
        # the jobs of a sweep share most values: only those that differ from the last job's are set
        changed = [o for o in values if self.applied.get(o.key_or_group) != o.input_line]
        for o in changed:
            OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
            self.applied[o.key_or_group] = o.input_line
        with read_write(cfg.hydra), open_dict(cfg.hydra):
            # what Hydra's launchers set for each job, and the overrides it records for it
            cfg.hydra.job.num, cfg.hydra.job.id = num, f"{cfg.hydra.job.name}_{num}"
            if self.records_task:
                cfg.hydra.overrides.task = [o.input_line for o in task]
            if self.records_dirname:
                d = self.dirname
                lines = sorted(o.input_line for o in task if o.key_or_group not in d.exclude_keys)
                cfg.hydra.job.override_dirname = re.sub("[=]", d.kv_sep, d.item_sep.join(lines))
        try:
            for key in self._reached([o.key_or_group for o in changed], always=True):
                v = OmegaConf.select(cfg, key)
                self.current[key] = OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            subdir = str(cfg.hydra.sweep.subdir)
        except Exception as e:  # an interpolation that does not resolve
            raise ConfigError(str(e).splitlines()[0]) from None
        resolved, raw = copy.deepcopy(self.resolved), copy.deepcopy(self.raw)
        for key in self._reached([o.key_or_group for o in values], always=True):
            _set(resolved, key, copy.deepcopy(self.current[key]))
        for o in values:
            _set(raw, o.key_or_group, o.value())
        return resolved, raw, subdir

    def _reached(self, keys: list[str], always: bool = False) -> list[str]:
        """``keys`` and the interpolated leaves that read any of them (``always``: and those that
        read what cannot be told, resolvers say)."""
        return keys + [leaf for leaf, reads in self.reads.items()
                       if (reads is None and always) or (reads and any(_touch(k, r) for k in keys for r in reads))]


def _reads(key: str, texts: dict[str, str], seen: set[str]) -> set[str] | None:
    """The keys the interpolation at ``key`` reads, through the interpolations it reads in turn;
    None if it does more than refer to nodes (a resolver, a relative key): always resolved again."""
    text = texts[key]
    if "${" in REFERENCE.sub("", text) or key in seen:
        return None
    out = set()
    for ref in references(text):
        out.add(ref)
        for other in texts:
            if other == ref or other.startswith(ref + "."):
                more = _reads(other, texts, seen | {key})
                if more is None:
                    return None
                out |= more
    return out


def _touch(a: str, b: str) -> bool:
    """Whether setting key ``a`` can change what reading key ``b`` gives."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _set(tree: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for k in parents:
        tree = tree[int(k) if isinstance(tree, list) else k]
    tree[int(last) if isinstance(tree, list) else last] = value
