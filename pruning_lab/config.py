"""The one config schema: what a composed config must hold, as typed, frozen pydantic dataclasses.

Hydra composes YAML (every default lives in ``conf/``); ``validate`` turns the composed,
resolved config into a ``Config`` (the ``Job`` that determines the result, plus how to run
it) or refuses it with a one-line ``ConfigError`` naming the key at fault: the key the user
typed, when a value reached its field through an interpolation (``${treatment.damping}``,
``${seed}``). The simulation takes these dataclasses, never a DictConfig, so it runs the
same from a notebook, a test or the CLI.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError
from pydantic import dataclasses as pyd
from pydantic_core import PydanticCustomError

from . import numerics

SCHEMA = "pruning-lab/result/1"
# How internal noise is drawn (sim/noise.py). Not a setting, but it determines every result that
# uses noise, so it is part of each job's hash: results drawn under another definition are
# recomputed, never reused. Change it whenever noise.py's numbers change.
NOISE_STREAM = "splitmix64-boxmuller/1"
ACTIVATIONS = ("relu", "tanh")
# the engines a phase can run on (sim/engines/); the config may also say "auto" (engines.choose)
ENGINES = ("dense", "sparse")
# where a job's random numbers come from (sim/policy.py): a stream per purpose, or the published
# notebook's one stream in its order (sim/notebook.py)
RNG = ("named", "notebook")
# YAML 1.1's booleans (yaml.org/type/bool.html): Hydra's override parser turns only true/false
# into bools and hands the others (force=yes) over as strings
YAML_TRUE, YAML_FALSE = ("y", "yes", "true", "on"), ("n", "no", "false", "off")


class ConfigError(ValueError):
    """A config value the protocol cannot run with; its message is one line."""


# -- how a field is checked: each refusal is a message that follows the field's name -----------


def _refuse(message: str, kind: str = "value") -> PydanticCustomError:
    # the message goes through the context: a template would read its braces (${...}) as fields
    return PydanticCustomError(kind, "{message}", {"message": message})


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _refuse(f"must be a number, got {v!r}", "type")
    if not math.isfinite(v):
        raise _refuse(f"must be finite, got {v!r}", "type")
    return float(v)


def _integer(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _refuse(f"must be a number, got {v!r}", "type")
    if isinstance(v, float) and not v.is_integer():
        raise _refuse(f"must be an integer, got {v!r}", "type")
    return int(v)


class Range:
    """A numeric range written as the refusal says it: ``[0, 1)``, ``(0, 1]``, ``>= 0``, ``<= 9``."""

    def __init__(self, text: str, note: str = ""):
        self.text, self.note = text, note
        m = re.fullmatch(r"([\[(])(\S+), (\S+)([\])])", text)
        if m:
            self.text = f"in {text}"
            lo, hi = float(m[2]), float(m[3])
            self.ok = lambda v: (lo <= v if m[1] == "[" else lo < v) and (v <= hi if m[4] == "]" else v < hi)
        else:
            op, bound = text.split()
            b = float(bound)
            self.ok = {">=": lambda v: v >= b, ">": lambda v: v > b, "<=": lambda v: v <= b}[op]

    def __call__(self, v: float) -> float:
        if not self.ok(v):
            raise _refuse(f"must be {self.text}{self.note}, got {v}")
        return v


def Number(*ranges: Range) -> Any:
    """A finite number (a bool or a string is not one), within every range given."""
    return Annotated[float, BeforeValidator(_number), *map(AfterValidator, ranges)]


def Count(*ranges: Range) -> Any:
    """A whole number (2.0 is one, 2.5 is not), within every range given."""
    return Annotated[int, BeforeValidator(_integer), *map(AfterValidator, ranges)]


def OneOf(*options: str, say: str | None = None) -> Any:
    def check(v: Any) -> str:
        if v not in options:
            raise _refuse(f"must be {say or 'one of ' + ', '.join(options)}, got {v!r}")
        return v
    return Annotated[str, BeforeValidator(check)]


def _boolean(v: Any) -> bool:
    if isinstance(v, str) and v in {s for w in YAML_TRUE + YAML_FALSE for s in (w, w.capitalize(), w.upper())}:
        return v.lower() in YAML_TRUE
    if not isinstance(v, bool):
        raise _refuse(f"must be true or false, got {v!r}")
    return v


def _list_of(what: str):
    def check(v: Any) -> Any:
        if not isinstance(v, (list, tuple)):
            raise _refuse(f"must be a list of {what}")
        return v
    return BeforeValidator(check)


FIXED = ConfigDict(extra="forbid")


# -- phases: the vocabulary treatments are written in ------------------------------------------


@pyd.dataclass(frozen=True, config=FIXED)
class Regrow:
    """Reinstate a fraction of each layer's pruned positions (gradient-scored or random)."""

    fraction: Number(Range("(0, 1]"))
    score: OneOf("gradient", "random", say="gradient or random")
    batches: Count(Range(">= 1"))  # mini-batches over which |gradient| is summed
    init_std: Number(Range(">= 0"))  # regrown weights ~ N(0, init_std^2)
    kind: Literal["regrow"] = "regrow"


@pyd.dataclass(frozen=True, config=FIXED)
class Train:
    """Masked Adam training; internal noise fades linearly from noise_start to noise_end (none unless given)."""

    epochs: Count(Range(">= 0"))
    lr: Number(Range("> 0"))
    noise_start: Number() = 0.0
    noise_end: Number() = 0.0
    kind: Literal["train"] = "train"

    def __post_init__(self) -> None:
        if self.noise_start < 0 or self.noise_end < 0:
            raise _refuse(f"noise sigma must be >= 0, got {self.noise_start} -> {self.noise_end}")

    def sigma(self, epoch: int) -> float:
        """Internal noise in epoch ``epoch`` (0-based): start in the first, end in the last."""
        if self.epochs <= 1:
            return self.noise_start
        return self.noise_start + (self.noise_end - self.noise_start) * epoch / (self.epochs - 1)


@pyd.dataclass(frozen=True, config=FIXED)
class Modulate:
    """Switch tonic inhibition: damping of hidden activations and their nonlinearity."""

    damping: Number(Range("(0, 1]"))  # an inhibition: it scales activity down, never up
    activation: OneOf(*ACTIVATIONS)
    kind: Literal["modulate"] = "modulate"


PHASES = {"regrow": Regrow, "train": Train, "modulate": Modulate}


def _phase_kind(v: Any) -> Any:
    if isinstance(v, tuple(PHASES.values())):
        return v
    if not isinstance(v, Mapping):
        raise _refuse("must be a mapping with a 'kind'")
    if v.get("kind") not in PHASES:
        raise _refuse(f".kind {v.get('kind')!r} is unknown; phase kinds are {', '.join(PHASES)}")
    return v


Phase = Annotated[Annotated[Union[tuple(Annotated[cls, Tag(kind)] for kind, cls in PHASES.items())],
                            Discriminator(lambda v: v["kind"] if isinstance(v, Mapping) else v.kind)],
                  BeforeValidator(_phase_kind)]
Phases = Annotated[tuple[Phase, ...], _list_of("phases")]


# -- config groups ----------------------------------------------------------------------------


def _centres(v: Any) -> Any:
    if not (isinstance(v, (list, tuple)) and len(v) >= 2 and all(
            isinstance(c, (list, tuple)) and len(c) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                                 for x in c) for c in v)):
        raise _refuse("must be a list of at least two [x, y] pairs")
    return v


def _widths(v: Any) -> Any:
    if not (isinstance(v, (list, tuple)) and len(v) > 0):
        raise _refuse("must be a non-empty list of layer widths")
    if not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in v):
        raise _refuse(f"must hold positive integers, got {list(v)}")
    return v


def _sigmas(v: Any) -> Any:
    if not isinstance(v, (list, tuple)):
        raise _refuse("must be a list of sigmas")
    for x in v:
        try:
            _number(x)
        except PydanticCustomError as e:
            raise _refuse(f".sigma {e.context['message']}") from None
    if any(x < 0 for x in v):
        raise _refuse(f"sigmas must be >= 0, got {[float(x) for x in v]}")
    return v


@pyd.dataclass(frozen=True, config=FIXED)
class DataConfig:
    centres: Annotated[tuple[tuple[float, float], ...], BeforeValidator(_centres)]
    spread: Number(Range(">= 0"))
    train_size: Count(Range(">= 1"))
    test_size: Count(Range(">= 1"))
    clean_size: Count(Range(">= 1"))
    batch_size: Count(Range(">= 1"))
    # the data streams are NumPy RandomState(1000 * seed + 300 at most), seeded with 32 bits
    seed: Count(Range(">= 0"), Range(f"<= {(2**32 - 301) // 1000}"))


def _two_inputs(v: int) -> int:
    if v != 2:
        raise _refuse(f"must be 2 (the cluster task is 2-D), got {v}")
    return v


@pyd.dataclass(frozen=True, config=FIXED)
class ModelConfig:
    inputs: Annotated[Count(), AfterValidator(_two_inputs)]
    hidden: Annotated[tuple[int, ...], BeforeValidator(_widths)]
    classes: Count()


@pyd.dataclass(frozen=True, config=FIXED)
class BaselineConfig:
    epochs: Count(Range(">= 0"))
    lr: Number(Range("> 0"))


@pyd.dataclass(frozen=True, config=FIXED)
class PathologyConfig:
    sparsity: Number(Range("[0, 1)"))
    scope: OneOf("per_layer", "global", say="per_layer or global")
    relapse_fraction: Number(Range("[0, 1]"))
    relapse_cap: Number(Range("[0, 1)"))


def _name(v: Any) -> str:
    if not (isinstance(v, str) and v):
        raise _refuse("must be a non-empty string")
    return v


@pyd.dataclass(frozen=True, config=ConfigDict(extra="ignore"))  # its knobs are checked by validate
class TreatmentConfig:
    name: Annotated[str, BeforeValidator(_name)]
    phases: Phases
    maintenance: Phases
    label: Annotated[str, BeforeValidator(str)] = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)  # frozen: the one place a label is filled in


# The published notebook's arms, in the order it runs them, with the phases its CONFIG gives
# them. Under rng=notebook a job skips the other arms' draws as these draw, and its own arm
# must draw as its namesake here (``draw_pattern``).
NOTEBOOK_ARMS = {
    "ketamine": TreatmentConfig("ketamine", (Regrow(0.5, "gradient", 30, 0.03), Train(15, 5e-4)), (Train(5, 5e-4),)),
    "ssri": TreatmentConfig("ssri", (Train(100, 1e-5, 0.5, 0.0),), (Train(20, 1e-5, 0.3, 0.0),)),
    "neurosteroid": TreatmentConfig("neurosteroid", (Modulate(0.7, "tanh"), Train(10, 5e-4)), (Train(10, 5e-4),)),
}


def draw_pattern(phases: tuple) -> tuple:
    """What decides how many numbers ``phases`` draw under rng=notebook (not lr, damping, init_std
    or a noise level other than zero)."""
    def one(p: Any) -> tuple:
        if isinstance(p, Train):
            return ("train", p.epochs, tuple(p.sigma(e) > 0 for e in range(p.epochs)))
        if isinstance(p, Regrow):
            return ("regrow", p.score, p.fraction, p.batches)
        return (p.kind,)
    return tuple(map(one, phases))


@pyd.dataclass(frozen=True, config=FIXED)
class StressConfig:
    input_sigma: Number(Range(">= 0"))
    internal_sigma: Number(Range(">= 0"))
    profile: Annotated[tuple[float, ...], BeforeValidator(_sigmas)]
    # the "extreme noise" condition the onset course scores (internal noise only)
    extreme_sigma: Number(Range(">= 0"))


@pyd.dataclass(frozen=True, config=FIXED)
class LongitudinalConfig:
    cycles: Count(Range(">= 0"))
    prune_fraction: Number(Range("[0, 1]"))
    relapse_threshold: Number()


@pyd.dataclass(frozen=True, config=FIXED)
class OnsetConfig:
    """The treatment's time course: scored every ``every`` epochs (0: not at all)."""

    every: Count(Range(">= 0", " epochs (0: no onset course)"))
    response: Number(Range("[0, 100]", " (%)"))  # combined-stress accuracy that counts as a response


def _group(cls: type) -> Any:
    name = {"DataConfig": "data", "ModelConfig": "model", "BaselineConfig": "baseline", "PathologyConfig": "pathology",
            "TreatmentConfig": "treatment", "StressConfig": "stress", "LongitudinalConfig": "longitudinal",
            "OnsetConfig": "onset"}[cls.__name__]

    def check(v: Any) -> Any:
        if not isinstance(v, (Mapping, cls)):
            raise _refuse(f"config group '{name}' is missing or not a mapping", "whole")
        return v
    return Annotated[cls, BeforeValidator(check)]


@pyd.dataclass(frozen=True, config=FIXED)
class Job:
    """Everything that determines one run's metrics (and nothing that does not)."""

    seed: Count(Range(">= 0"))
    treatment: _group(TreatmentConfig)
    data: _group(DataConfig)
    model: _group(ModelConfig)
    baseline: _group(BaselineConfig)
    pathology: _group(PathologyConfig)
    stress: _group(StressConfig)
    longitudinal: _group(LongitudinalConfig)
    onset: _group(OnsetConfig)
    engine: OneOf("auto", *ENGINES)
    engine_sparse_from: Number(Range("[0, 1]"))
    numerics: OneOf(*numerics.MODES)
    rng: OneOf(*RNG)

    def __post_init__(self) -> None:
        if self.model.classes != len(self.data.centres):
            raise _refuse(f"model.classes must equal the number of data.centres ({len(self.data.centres)}), "
                          f"got {self.model.classes}", "whole")
        if self.rng == "notebook" and (problem := _not_replayable(self)):
            raise _refuse(f"rng=notebook replays the published notebook: {problem}", "whole")

    @staticmethod
    def from_config(cfg: Mapping) -> "Job":
        """The validated Job of a composed config (a DictConfig or a plain mapping), as the CLI reads it."""
        return validate(*resolve(cfg)).job

    def to_dict(self) -> dict:
        """Plain JSON types (lists, not tuples), as the config reads back from a result file."""
        return json.loads(json.dumps(asdict(self)))

    @property
    def hash(self) -> str:
        """Content hash of everything that determines the result."""
        return job_hash(self.to_dict())


@dataclass(frozen=True)
class Config:
    """A validated composed config: the job, and how to run it."""

    job: Job
    force: bool  # recompute even when the store holds a valid result
    store: Any  # paths.store as given; the store checks it (store.check_root)
    # the treatment's knobs as typed (treatment.damping), whose values its phases take: the
    # names a reader of the result knows them by (not part of the job: the phases are)
    knobs: dict = field(default_factory=dict)


def _not_replayable(job: Job) -> str | None:
    """What of ``job`` the published notebook cannot follow, as the fix to make; None if nothing."""
    if job.numerics != "native" or job.engine != "dense":
        return (f"it needs numerics=native engine=dense (torch's own products), got numerics={job.numerics} "
                f"engine={job.engine}")
    t = job.treatment
    if t.name not in NOTEBOOK_ARMS:
        return f"treatment must be one of its arms {', '.join(NOTEBOOK_ARMS)}, got {t.name!r}"
    arm = NOTEBOOK_ARMS[t.name]
    if [draw_pattern(t.phases), draw_pattern(t.maintenance)] != [draw_pattern(arm.phases),
                                                                 draw_pattern(arm.maintenance)]:
        return (f"treatment {t.name} must draw as its arm there (its phases' kinds, epochs, regrowth and where "
                "noise is on); only lr, damping, activation, init_std and nonzero noise levels may differ")
    per_epoch = -(-job.data.train_size // job.data.batch_size)
    batches = max((p.batches for a in NOTEBOOK_ARMS.values() for p in a.phases if isinstance(p, Regrow)), default=0)
    if batches > per_epoch:
        return (f"its regrowth scores {batches} batches of one epoch, which holds {per_epoch} here: raise "
                "data.train_size or lower data.batch_size")
    if job.onset.every != 0:
        return "it scores no time course: set onset.every=0"
    if job.pathology.scope != "per_layer":
        return "it prunes per layer: set pathology.scope=per_layer"
    if len(job.model.hidden) != 3:
        return f"its network has three hidden layers, got model.hidden={list(job.model.hidden)}"
    return None


JOB_KEYS = tuple(f.name for f in fields(Job))
TOP_KEYS = frozenset(JOB_KEYS) | {"force", "paths"}
_JOB = TypeAdapter(Job)
_GROUPS = {"data": DataConfig, "model": ModelConfig, "baseline": BaselineConfig, "pathology": PathologyConfig,
           "stress": StressConfig, "longitudinal": LongitudinalConfig, "onset": OnsetConfig, **PHASES}


def content_hash(d: Any) -> str:
    """A short content hash of a JSON-able value (dict keys in sorted order)."""
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def job_hash(config: Mapping) -> str:
    """A job's hash, from its config as ``Job.to_dict`` gives it, the noise stream and the
    portable numerics' version (numerics.py). The default rng=named is left out, so that the
    hashes of jobs from before the key existed stay what they were."""
    config = {k: v for k, v in config.items() if (k, v) != ("rng", "named")}
    return content_hash({**config, "noise_stream": NOISE_STREAM, "numerics_version": numerics.VERSION})


# -- validation --------------------------------------------------------------------------------


def resolve(cfg: Mapping) -> tuple[dict, dict]:
    """A composed config (DictConfig or mapping) as plain dicts: resolved, and as written
    (interpolations kept), without Hydra's own node. ``ConfigError`` if an interpolation fails."""
    from omegaconf import DictConfig, OmegaConf

    try:
        node = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))
        node = OmegaConf.masked_copy(node, [k for k in node if k != "hydra"])
        return OmegaConf.to_container(node, resolve=True), OmegaConf.to_container(node, resolve=False)
    except Exception as e:  # interpolation errors and the like
        raise ConfigError(str(e).splitlines()[0]) from None


_REFERENCE = re.compile(r"\$\{([\w.]+)\}")


def _refs(node: Any) -> set[str]:
    """The treatment knobs that ``${treatment.<knob>}`` interpolations in ``node`` name."""
    if isinstance(node, Mapping):
        return set().union(*(_refs(v) for v in node.values()))
    if isinstance(node, (list, tuple)):
        return set().union(*(_refs(v) for v in node))
    return {k[len("treatment."):] for k in _REFERENCE.findall(node) if k.startswith("treatment.")} \
        if isinstance(node, str) else set()


def _unknown(keys: Any, allowed: Any, where: str) -> None:
    extra = sorted(set(keys) - set(allowed))
    if extra:
        raise ConfigError(f"{where} has unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}")


def _known_keys(cfg: Mapping, raw: Mapping) -> None:
    """Refuse a key nothing reads (``+sede=3``, ``+paths.stor=x``, ``+treatment.epochz=50``)."""
    extra = sorted(set(cfg) - TOP_KEYS)
    if extra:
        raise ConfigError(f"unknown key(s) {', '.join(extra)}; top-level keys: {', '.join(sorted(TOP_KEYS))}")
    if isinstance(cfg.get("paths"), Mapping):
        _unknown(cfg["paths"], {"store"}, "paths")
    treatment = raw.get("treatment")
    if not isinstance(treatment, Mapping):
        return
    # a treatment's other keys are free-form knobs, known if a phase refers to them (or a
    # knob a phase refers to does)
    known = _refs([treatment.get("phases"), treatment.get("maintenance")])
    while more := _refs([treatment.get(k) for k in known]) - known:
        known |= more
    knobs = sorted(set(treatment) - {f.name for f in fields(TreatmentConfig)})
    for knob in knobs:
        if knob not in known:
            raise ConfigError(f"treatment.{knob} is unknown: no phase of treatment {treatment.get('name')!r} refers "
                              f"to ${{treatment.{knob}}}; its knobs: {', '.join(k for k in knobs if k in known) or 'none'}")


def _written(raw: Mapping, loc: tuple) -> str | None:
    """The key a field's value came from, when the field is written as ``${key}`` in ``raw``."""
    node: Any = raw
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    m = _REFERENCE.fullmatch(node) if isinstance(node, str) else None
    return m[1] if m else None


def _name_of(loc: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _message(error: ValidationError, raw: Mapping) -> str:
    """The first of ``error``'s refusals as one line, named by the key at fault."""
    errors = error.errors()
    first = errors[0]
    # a phase's location holds its kind after its index (phases, 0, "train", "lr"): not a key
    loc, kinds = [], []
    for i, p in enumerate(first["loc"]):
        if isinstance(p, str) and i and isinstance(first["loc"][i - 1], int) and p in PHASES:
            kinds.append(p)
        else:
            loc.append(p)
    loc = tuple(loc)
    kind, message = first["type"], first.get("ctx", {}).get("message", first["msg"])
    if kind == "whole":
        return message
    if kind == "unexpected_keyword_argument":
        parent = loc[:-1]
        extra = [e["loc"][-1] for e in errors if e["type"] == kind and e["loc"][:-1] == first["loc"][:-1]]
        allowed = [f.name for f in fields(_GROUPS[kinds[-1] if kinds else parent[-1]])]
        return f"{_name_of(parent)} has unknown key(s) {', '.join(sorted(extra))}; allowed: {', '.join(sorted(allowed))}"
    if kind == "missing" and len(loc) == 1 and loc[0] in _GROUPS:
        return f"config group '{loc[0]}' is missing or not a mapping"
    name = _written(raw, loc) or _name_of(loc)
    if kind == "missing":
        message = "is missing"
    if "." not in name and "[" not in name and kind in ("missing", "type"):
        name = f"config.{name}"  # a top-level key's type is named as the config's own
    return f"{name}{message}" if message[:1] in ".[" else f"{name} {message}"


def validate(cfg: Mapping, raw: Mapping | None = None) -> Config:
    """The ``Config`` of a resolved plain config, or ``ConfigError`` naming the key at fault.

    ``raw`` is the same config as written, its interpolations kept: a treatment knob is known
    by the ``${treatment.<knob>}`` of the phases that use it, and a refusal names the key a
    value came from.
    """
    raw = cfg if raw is None else raw
    _known_keys(cfg, raw)
    try:
        job = _JOB.validate_python({k: cfg[k] for k in JOB_KEYS if k in cfg})
    except ValidationError as e:
        raise ConfigError(_message(e, raw)) from None
    if "force" not in cfg:
        raise ConfigError("force is missing")
    try:
        force = _boolean(cfg["force"])
    except PydanticCustomError as e:
        raise ConfigError(f"force {e.context['message']}") from None
    treatment = cfg.get("treatment") or {}
    knobs = {f"treatment.{k}": v for k, v in treatment.items() if k not in {f.name for f in fields(TreatmentConfig)}}
    return Config(job, force, (cfg.get("paths") or {}).get("store"), knobs)
