"""The job and its config: ``Job`` (everything that determines a result, and its hash), ``Config``
(the job plus how to run it), and ``validate``, which makes them from a composed config.

``validate`` turns the composed, resolved config into a ``Config`` or refuses it with a one-line
``ConfigError`` naming the key at fault: the key the user typed, when a value reached its field
through an interpolation (``${treatment.damping}``, ``${seed}``). The simulation takes these
dataclasses, never a DictConfig, so it runs the same from a notebook, a test or the CLI.
``Job.from_config`` calls ``validate`` and ``validate`` builds a ``Config``, so the three live here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, fields, is_dataclass
from typing import Any, Iterable, Literal, Mapping, Optional, get_type_hints

from pydantic import TypeAdapter, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from .. import numerics
from ..tree import reference
from .replay import _not_replayable
from .schema import (FIXED, PHASES, BaselineConfig, ConfigError, Count, DataConfig, Fraction, LongitudinalConfig,
                     ModelConfig, OnsetConfig, PathologyConfig, Phase, StressConfig, Text, TreatmentConfig)
from .treatments import _derived, _knobs, knob_record, typed_keys

# 2: a result records its arm and each treatment knob's phase keys (store.READABLE: 1 is read too)
SCHEMA = "pruning-lab/result/2"
# How internal noise is drawn (sim/noise.py). Not a setting, but it determines every result that
# uses noise, so it is part of each job's hash: results drawn under another definition are
# recomputed, never reused. Change it whenever noise.py's numbers change.
NOISE_STREAM = "splitmix64-boxmuller/1"
# the engines a phase can run on (sim/engines/); the config may also say "auto" (engines.choose)
ENGINES = ("dense", "sparse")
# the config's keys that say how to run and report a job, not what it computes: not in its hash
RUN_KEYS = ("force", "paths", "control")
# where a job's random numbers come from (sim/policy.py): a stream per purpose, or the published
# notebook's one stream in its order (sim/notebook.py)
RNG = ("named", "notebook")


@dataclass(frozen=True, config=FIXED)
class Job:
    """Everything that determines one run's metrics (and nothing that does not)."""

    seed: Count
    treatment: TreatmentConfig
    data: DataConfig
    model: ModelConfig
    baseline: BaselineConfig
    pathology: PathologyConfig
    stress: StressConfig
    longitudinal: LongitudinalConfig
    onset: OnsetConfig
    engine: Literal[("auto", *ENGINES)]
    engine_sparse_from: Fraction
    numerics: Literal[numerics.MODES]
    rng: Literal[RNG]

    @model_validator(mode="after")
    def _one_class_a_centre(self) -> Job:
        if self.model.classes != len(self.data.centres):
            raise ValueError(f"model.classes must equal the number of data.centres ({len(self.data.centres)}), "
                             f"got {self.model.classes}")
        if self.rng == "notebook" and (problem := _not_replayable(self)):
            raise ValueError(f"rng=notebook replays the published notebook: {problem}")
        return self

    @staticmethod
    def from_config(cfg: Mapping, overrides: Iterable[str] | None = None) -> Job:
        """The validated Job of a composed config (a DictConfig or a plain mapping), as the CLI reads
        it (``overrides``: those it was composed with; ``validate``)."""
        return validate(*resolve(cfg), typed=overrides).job

    def to_dict(self) -> dict:
        """Plain JSON types (lists, not tuples), as the config reads back from a result file."""
        return json.loads(json.dumps(asdict(self)))

    @property
    def hash(self) -> str:
        """Content hash of everything that determines the result."""
        return job_hash(self.to_dict())


@dataclass(frozen=True, config=FIXED)
class Paths:
    store: Text  # a directory the store can live at (store.check_root looks on disk)


@dataclass(frozen=True, config=FIXED)
class Config:
    """A validated composed config: the job, and how to run it."""

    job: Job
    force: bool  # recompute even when the store holds a valid result (pydantic's spellings: yes, on, 1...)
    paths: Paths
    # the treatment's knobs as typed (treatment.damping), each with its value and the phase keys
    # it feeds (knob_record): the names a reader of the result knows them by (not part of the
    # job: the phases are)
    knobs: dict[str, Any]
    # numerics.portable_isa: the portable products' tiles (numerics.ISAS); the same bits either
    # way, so not part of the job
    portable_isa: Literal[numerics.ISAS]
    # the arm a sweep's report compares every other with (a preset's ``control:``); a report
    # setting, so not part of the job
    control: Optional[Text] = None

    @property
    def store(self) -> str:
        return self.paths.store


def content_hash(d: Any) -> str:
    """A short content hash of a JSON-able value (dict keys in sorted order)."""
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# keys a later schema added, at the value every job from before them ran with: left out of the
# hash at that value (so those jobs keep their hashes), and filled in when such a result is read
ADDED = {"rng": "named"}


def job_hash(config: Mapping) -> str:
    """A job's hash, from its config as ``Job.to_dict`` gives it, the noise stream and the
    portable numerics' version (numerics.py); the ``ADDED`` keys at their old value left out."""
    config = {k: v for k, v in config.items() if k not in ADDED or v != ADDED[k]}
    return content_hash({**config, "noise_stream": NOISE_STREAM, "numerics_version": numerics.VERSION})


# -- validation --------------------------------------------------------------------------------


def resolve(cfg: Mapping) -> tuple[dict, dict]:
    """A composed config (DictConfig or mapping) as plain dicts: resolved, and as written
    (interpolations kept), without Hydra's own node, which its values may still refer to.
    ``ConfigError`` if an interpolation fails."""
    from omegaconf import DictConfig, OmegaConf

    node = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))
    keys = [k for k in node if k != "hydra"]
    try:
        resolved = {k: OmegaConf.to_container(node[k], resolve=True) if OmegaConf.is_config(node[k]) else node[k]
                    for k in keys}
    except Exception as e:  # an interpolation that does not resolve
        raise ConfigError(str(e).splitlines()[0]) from None
    raw = OmegaConf.to_container(node, resolve=False)
    return resolved, {k: raw[k] for k in keys}


# pydantic's words where they speak of Python rather than of a config (its context fills the braces)
WORDS = {"missing": "is missing", "union_tag_not_found": "is missing", "bool_type": "must be true or false",
         "bool_parsing": "must be true or false", "int_type": "must be an integer", "float_type": "must be a number",
         "string_type": "must be a string", "tuple_type": "must be a list", "dict_type": "must be a mapping",
         "dataclass_type": "must be a mapping", "model_attributes_type": "must be a mapping with a kind",
         "union_tag_invalid": "must be one of {expected_tags}"}


def _message(error: ValidationError, within: type, raw: Mapping | None, prefix: str) -> str:
    """The first of pydantic's refusals of ``within`` as one line, named by the key at fault as
    the user typed it (``prefix``: the key ``within`` sits at)."""
    errors = error.errors()
    # a misspelt key is also a missing one: the unknown key, with the allowed ones, says more
    first = next((e for e in errors if e["type"] == "unexpected_keyword_argument"), errors[0])
    kind, ctx, at = first["type"], first.get("ctx") or {}, first["loc"]
    if kind == "value_error":  # a check across fields: its message names them
        return str(ctx["error"])
    # a phase's location holds its kind after its index (phases, 0, "train", "lr"): not a key;
    # the job's keys are the config's own
    loc = tuple(p for i, p in enumerate(at) if not (i and isinstance(at[i - 1], int) and p in PHASES))
    loc = loc[1:] if within is Config and loc[:1] == ("job",) else loc
    if kind == "unexpected_keyword_argument":
        extra = ", ".join(sorted(e["loc"][-1] for e in errors if e["type"] == kind and e["loc"][:-1] == at[:-1]))
        owner = within
        for p in at[:-1]:
            if isinstance(p, str):
                owner = PHASES[p] if p in PHASES and not is_dataclass(owner) else get_type_hints(owner)[p]
        allowed = ", ".join(sorted([f.name for f in fields(owner)] + (list(RUN_KEYS) if owner is Job else [])))
        where = _name(loc[:-1], None, prefix)
        return f"{where} has unknown key(s) {extra}; allowed: {allowed}" if where else \
            f"unknown key(s) {extra}; top-level keys: {allowed}"
    if kind.startswith("union_tag"):
        loc, first = (*loc, "kind"), {**first, "input": first["input"].get("kind")}
    words = WORDS.get(kind, "").format(**ctx) or \
        re.sub(r"(, got| after validation).*", "", re.sub(r"^\w+ should", "must", first["msg"]))
    name = _name(loc, raw, prefix)
    return f"{name} {words}" if words == "is missing" else f"{name} {words}, got {first['input']!r}"


def _name(loc: tuple, raw: Mapping | None, prefix: str) -> str:
    """The key at ``loc`` as the user typed it: the key its value came from, when ``raw`` writes
    it as ``${key}``."""
    node: Any = raw
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    return reference(node) or f"{prefix}{dotted}".lstrip(".")


def validate(cfg: Mapping, raw: Mapping | None = None, typed: Iterable[str] | None = None) -> Config:
    """The ``Config`` of a resolved plain config, or ``ConfigError`` naming the key at fault.

    ``raw`` is the same config as written, its interpolations kept: a treatment knob is known
    by the ``${treatment.<knob>}`` of the phases that use it, and a refusal names the key a
    value came from. ``typed``: the overrides the config was composed with; a treatment key no
    phase refers to is refused if they set it, and otherwise (a knob of a parent that its derived
    treatment no longer uses) left out. Without them every such key is refused, but for the
    knobs of the phases a derived treatment removes (``remove_phases``).
    """
    raw = cfg if raw is None else raw
    cfg, raw, isa = _numerics(cfg, raw)
    cfg, raw, dropped = _derived(cfg, raw)
    treatment = cfg.get("treatment") if isinstance(cfg.get("treatment"), Mapping) else {}
    try:
        kept = _knobs(treatment, raw, typed_keys(typed), dropped)
    except ConfigError:
        _check_phases(treatment, raw)  # phases replaced by bad ones orphan the knobs: name the phases
        raise
    knobs = knob_record({f"treatment.{k}": treatment[k] for k in kept}, raw.get("treatment"))
    given = {"job": {k: v for k, v in cfg.items() if k not in RUN_KEYS}, "knobs": knobs, "portable_isa": isa,
             **{k: cfg[k] for k in RUN_KEYS if k in cfg}}
    return checked(Config, given, raw)


def _check_phases(treatment: Mapping, raw: Mapping) -> None:
    """``ConfigError`` naming the first bad phase of the treatment (an unknown kind, a key its kind lacks)."""
    written = raw.get("treatment") if isinstance(raw.get("treatment"), Mapping) else None
    for group in ("phases", "maintenance"):
        if group in treatment:
            checked(tuple[Phase, ...], treatment[group], written and written.get(group), f"treatment.{group}")


def checked(cls: type, values: Any, raw: Mapping | None = None, prefix: str = "") -> Any:
    """``values`` (plain, resolved) validated as ``cls``, or ``ConfigError`` naming the key at fault."""
    try:
        return TypeAdapter(cls).validate_python(values)
    except ValidationError as e:
        raise ConfigError(_message(e, cls, raw, prefix)) from None


def _numerics(cfg: Mapping, raw: Mapping) -> tuple[Mapping, Mapping, str]:
    """The numerics group (conf/numerics/) split: its mode becomes the job's ``numerics``, a string
    as results record it (so job hashes stay), its ``portable_isa`` a run setting."""
    group = cfg.get("numerics")
    if not isinstance(group, Mapping):  # a config that gives the mode alone, as a result's does
        return cfg, raw, "auto"
    extra = sorted(set(group) - {"mode", "portable_isa"})
    if extra:
        raise ConfigError(f"numerics has unknown key(s) {', '.join(extra)}; allowed: mode, portable_isa")
    if group.get("mode") not in numerics.MODES:
        raise ConfigError(f"numerics.mode must be one of {', '.join(numerics.MODES)}, got {group.get('mode')!r}")
    isa = group.get("portable_isa", "auto")
    if isa not in numerics.ISAS:
        raise ConfigError(f"numerics.portable_isa must be one of {', '.join(numerics.ISAS)}, got {isa!r}")
    written = raw.get("numerics")
    raw_mode = written.get("mode") if isinstance(written, Mapping) else group["mode"]
    return {**cfg, "numerics": group["mode"]}, {**raw, "numerics": raw_mode}, isa
