"""Every job of a sweep, composed once per distinct combination of config groups.

Hydra composes a job in two steps: the defaults list (chosen by group overrides such as
``treatment=ssri``) is merged into a config, then the value overrides (``seed=3``) are applied
to it in order. Jobs that differ only in value overrides share the first step, so it is done
once per combination, and each job's values are applied to a copy with Hydra's own code. The
result is the config ``load_sweep_config`` would give (tests/test_multirun.py compares them).
"""

from __future__ import annotations

import copy
import os
import re
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from .config import Job, flag
from .store import check_root


@dataclass
class Planned:
    """One job: its number and overrides, the combination it belongs to, its validated Job."""

    num: int
    overrides: list[str]
    base: int  # index of its combination's composed config
    values: list[str]  # its value overrides, applied to that config
    job: Job
    output_dir: Path
    store: Path
    force: bool
    config_hash: str = field(init=False)
    repaired: list[str] = field(default_factory=list)  # corrupt store files found before it ran

    def __post_init__(self) -> None:
        self.config_hash = self.job.hash


@lru_cache(maxsize=100_000)
def _parse_one(line: str) -> Override:
    return OverridesParser.create().parse_override(line)


class Refused(ValueError):
    """A launcher setting no sweep can run with; the message is one line."""


def workers(n_jobs: object) -> int:
    """joblib's meaning of ``n_jobs``: a count, or -1 for every core, -2 for all but one..."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise Refused(f"hydra.launcher.n_jobs must be a non-zero integer (-1: every core), got {n_jobs!r}")
    return n_jobs if n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + n_jobs)


def _parse(lines: list[str]) -> list[Override]:
    # a sweep repeats most of its overrides in every job; each line is parsed once
    return [_parse_one(line) for line in lines]


_NODE = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")


class _Template:
    """An interpolated string made only of plain node references (``${a.b}_s${seed}``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.keys = _NODE.findall(text)
        self.whole = _NODE.fullmatch(text) is not None
        self.plain = "${" not in _NODE.sub("", text)

    def __call__(self, lookup) -> object:
        if self.whole:
            return lookup(self.keys[0])
        return _NODE.sub(lambda m: str(lookup(m.group(1))), self.text)


def _interpolations(node, path=()) -> dict[tuple, str]:
    if isinstance(node, dict):
        return {p: t for k, v in node.items() for p, t in _interpolations(v, (*path, k)).items()}
    if isinstance(node, list):
        return {p: t for i, v in enumerate(node) for p, t in _interpolations(v, (*path, i)).items()}
    return {path: node} if isinstance(node, str) and "${" in node else {}


class _Base:
    """One combination's composed config, and what a job's values change in it."""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        own = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        self.resolved = OmegaConf.to_container(own, resolve=True)
        self.raw = OmegaConf.to_container(own, resolve=False)
        templates = {p: _Template(t) for p, t in _interpolations(self.raw).items()}
        subdir = OmegaConf.to_container(cfg.hydra.sweep, resolve=False)["subdir"]
        self.subdir = _Template(str(subdir))
        self.sweep_dir = Path(str(cfg.hydra.sweep.dir))
        # anything but plain references (a resolver, a relative key) is left to OmegaConf
        self.fast = all(t.plain for t in templates.values()) and self.subdir.plain
        self.templates = templates
        self.scratch = copy.deepcopy(cfg) if not self.fast else None

    def job(self, values: list[Override], num: int) -> tuple[Job, dict, Path]:
        """The job's validated Job, its own resolved config and its output directory."""
        if not self.fast:
            ConfigLoaderImpl._apply_overrides_to_config(values, self.scratch)
            with open_dict(self.scratch.hydra.job):
                self.scratch.hydra.job.num = num
            own = task_values(self.scratch)
            return Job.from_config(self.scratch), own, self.sweep_dir / str(self.scratch.hydra.sweep.subdir)
        own = copy.deepcopy(self.resolved)
        raw_treatment = copy.deepcopy(self.raw.get("treatment"))
        given = {}
        for o in values:
            value = o.value()
            given[o.key_or_group] = value
            *parents, last = o.key_or_group.split(".")
            for tree, keys in ((own, parents), (raw_treatment, parents[1:]) if parents[:1] == ["treatment"] else (None, [])):
                if tree is None:
                    continue
                node = tree
                for k in keys:
                    node = node[k]
                node[last] = copy.deepcopy(value)

        def lookup(key: str):
            if key == "hydra.job.num":
                return num
            if key in given:
                return given[key]
            path = tuple(key.split("."))
            if path in self.templates:
                return self.templates[path](lookup)
            node = own
            for k in path:
                node = node[int(k) if isinstance(node, list) else k]
            return node

        for path, template in self.templates.items():
            if path_key(path) not in given:
                node = own
                for k in path[:-1]:
                    node = node[k]
                node[path[-1]] = template(lookup)
        return Job.from_resolved(own, raw_treatment), own, self.sweep_dir / str(self.subdir(lookup))


def path_key(path: tuple) -> str:
    return ".".join(map(str, path))


class Composer:
    """Composes a sweep's jobs against its master config; ``bases`` are the composed combinations."""

    def __init__(self, config: DictConfig, loader) -> None:
        self.config = config
        self.loader = loader
        self.bases: list[DictConfig] = []
        self._index: dict[tuple, int] = {}
        self._fast: list[_Base] = []

    def _value(self, o: Override) -> bool:
        """Applied after composition, the same for every combination: a plain ``key=value``."""
        return (o.type == OverrideType.CHANGE and o.package is None and not o.is_hydra_override()
                and not o.is_sweep_override() and not isinstance(o.value(), (dict, list))
                and not self.loader.repository.group_exists(o.key_or_group))

    def plan(self, num: int, overrides: list[str]) -> Planned:
        """Compose (or derive) and validate one job; ``ConfigError`` or Hydra's errors if it is bad."""
        parsed = _parse(overrides)
        values = [o for o in parsed if self._value(o)]
        keys = [o.key_or_group for o in values]
        if any(a != b and b.startswith(a + ".") for a in keys for b in keys):
            values = []  # one value inside another: applied in order, by composition
        combination = tuple(("value", o.key_or_group) if o in values else ("other", o.input_line) for o in parsed)
        at = self._index.get(combination)
        if at is None:
            base = self.loader.load_sweep_config(self.config, list(overrides))
            at = self._index[combination] = len(self.bases)
            self.bases.append(base)
            self._fast.append(_Base(base))
        job, own, out = self._fast[at].job(values, num)
        store = check_root((own.get("paths") or {}).get("store"))
        return Planned(num, list(overrides), at, [o.input_line for o in values], job, out, store, flag(own, "force"))

    def job_config(self, planned: Planned) -> DictConfig:
        return job_config(self.bases[planned.base], planned.overrides, planned.values, planned.num)


def job_config(self, planned: Planned) -> DictConfig:
        return job_config(self.bases[planned.base], planned.overrides, planned.values, planned.num)


def job_config(base: DictConfig, overrides: list[str], values: list[str], num: int) -> DictConfig:
    """The full config of job ``num``: its combination's composed config with its values applied."""
    cfg = copy.deepcopy(base)
    ConfigLoaderImpl._apply_overrides_to_config(_parse(values), cfg)
    task = [o for o in _parse(overrides) if not o.is_hydra_override()]
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.overrides.task = [o.input_line for o in task]
        dirname = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=task, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep, exclude_keys=dirname.exclude_keys)
        cfg.hydra.job.num = num
        cfg.hydra.job.id = f"{cfg.hydra.job.name}_{num}"
    return cfg


def task_values(cfg: DictConfig) -> dict:
    """The job's own config, resolved (what Hydra hands the task function, without ``hydra``)."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
