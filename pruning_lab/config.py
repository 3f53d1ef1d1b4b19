"""The one config schema: what a composed config must hold, as frozen pydantic dataclasses.

Hydra composes YAML and every default lives in ``conf/``: the schema declares each key's type and
bounds and sets no value itself, with one exception: a train phase's internal noise is off unless
it names it (``noise_start``, ``noise_end``), as the protocol trains every phase but the SSRI-like
ones, because a phase is an item of a list and Hydra gives list items no defaults. ``validate`` turns
the composed, resolved config into a ``Config`` (the ``Job`` that determines the result, plus how
to run it) or refuses it with a one-line ``ConfigError`` naming the key at fault: the key the user
typed, when a value reached its field through an interpolation (``${treatment.damping}``,
``${seed}``). The simulation takes these dataclasses, never a DictConfig, so it runs the same
from a notebook, a test or the CLI.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import reprlib
from dataclasses import asdict, fields, is_dataclass
from typing import Annotated, Any, Iterable, Literal, Mapping, Optional, Union, get_type_hints

from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from . import numerics
from .tree import leaves, reference, references

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


class ConfigError(ValueError):
    """A config value the protocol cannot run with; its message is one line."""


def shown(value: object, width: int = 80) -> str:
    """``value`` as a message quotes it: its repr, on one line, cut to about ``width`` characters."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = width
    # a str's repr escapes its newlines; an object's may span lines (an array, a frame)
    return printable(re.sub(r"\s*[\r\n]\s*", " ", short.repr(value)))


def printable(text: str) -> str:
    """``text`` with each character a terminal would not print (a newline, a NUL) escaped, as Python writes it."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


# strict: a bool or a string is not a number, nor 2.0 a count; an int is a float, read as one
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Int = Annotated[int, Strict()]
Text = Annotated[str, Strict(), Field(min_length=1)]
Fraction = Annotated[Float, Field(ge=0, le=1)]
Sigma = Annotated[Float, Field(ge=0)]  # a standard deviation (of noise, of the data, of new weights)
Count = Annotated[Int, Field(ge=0)]
Size = Annotated[Int, Field(ge=1)]
FIXED = ConfigDict(extra="forbid")
# the data streams are NumPy RandomState(1000 * seed + 300 at most), seeded with 32 bits
SEED_MAX = (2**32 - 301) // 1000
Seed = Annotated[Int, Field(ge=0, le=SEED_MAX)]


# -- phases: the vocabulary treatments are written in ------------------------------------------


@dataclass(frozen=True, config=FIXED)
class Regrow:
    """Reinstate a fraction of each layer's pruned positions (gradient-scored or random)."""

    fraction: Annotated[Float, Field(gt=0, le=1)]
    score: Literal["gradient", "random"]
    batches: Size  # mini-batches over which |gradient| is summed
    init_std: Sigma  # regrown weights ~ N(0, init_std^2)
    kind: Literal["regrow"] = "regrow"  # the phase's tag, not a setting


@dataclass(frozen=True, config=FIXED)
class Train:
    """Masked Adam training; internal noise fades linearly from noise_start to noise_end (off unless given)."""

    epochs: Count
    lr: Annotated[Float, Field(gt=0)]
    noise_start: Sigma = 0.0
    noise_end: Sigma = 0.0
    kind: Literal["train"] = "train"

    def sigma(self, epoch: int) -> float:
        """Internal noise in epoch ``epoch`` (0-based): start in the first, end in the last."""
        if self.epochs <= 1:
            return self.noise_start
        return self.noise_start + (self.noise_end - self.noise_start) * epoch / (self.epochs - 1)


@dataclass(frozen=True, config=FIXED)
class Modulate:
    """Switch tonic inhibition: damping of hidden activations and their nonlinearity."""

    damping: Annotated[Float, Field(gt=0, le=1)]  # an inhibition: it scales activity down, never up
    activation: Literal["relu", "tanh"]
    kind: Literal["modulate"] = "modulate"


PHASES = {cls.kind: cls for cls in (Regrow, Train, Modulate)}
Phase = Annotated[Union[Regrow, Train, Modulate], Field(discriminator="kind")]


# -- config groups ----------------------------------------------------------------------------


@dataclass(frozen=True, config=FIXED)
class DataConfig:
    centres: Annotated[tuple[tuple[Float, Float], ...], Field(min_length=2)]
    spread: Sigma
    train_size: Size
    test_size: Size
    clean_size: Size
    batch_size: Size
    seed: Seed


@dataclass(frozen=True, config=FIXED)
class ModelConfig:
    inputs: Literal[2]  # the cluster task is 2-D
    hidden: Annotated[tuple[Size, ...], Field(min_length=1)]
    classes: Int


@dataclass(frozen=True, config=FIXED)
class BaselineConfig:
    epochs: Count
    lr: Annotated[Float, Field(gt=0)]


@dataclass(frozen=True, config=FIXED)
class PathologyConfig:
    sparsity: Annotated[Float, Field(ge=0, lt=1)]
    scope: Literal["per_layer", "global"]
    relapse_fraction: Fraction
    relapse_cap: Annotated[Float, Field(ge=0, lt=1)]


@dataclass(frozen=True, config=ConfigDict(extra="ignore"))  # its other keys are knobs (validate checks them)
class TreatmentConfig:
    name: Text
    phases: tuple[Phase, ...]
    maintenance: tuple[Phase, ...]
    label: Text


@dataclass(frozen=True, config=FIXED)
class StressConfig:
    input_sigma: Sigma
    internal_sigma: Sigma
    profile: tuple[Sigma, ...]
    # the "extreme noise" condition the onset course scores (internal noise only)
    extreme_sigma: Sigma


@dataclass(frozen=True, config=FIXED)
class LongitudinalConfig:
    cycles: Count
    prune_fraction: Fraction
    relapse_threshold: Float


@dataclass(frozen=True, config=FIXED)
class OnsetConfig:
    """The treatment's time course: scored every ``every`` epochs (0: not at all)."""

    every: Count
    response: Annotated[Float, Field(ge=0, le=100)]  # combined-stress accuracy (%) that counts as a response


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


# -- rng=notebook: what the published notebook can follow ---------------------------------------

# The published notebook's arms, in the order it runs them, with the phases its CONFIG gives
# them. Under rng=notebook a job skips the other arms' draws as these draw, and its own arm
# must draw as its namesake here (``draw_pattern``).
NOTEBOOK_ARMS = {
    "ketamine": TreatmentConfig("ketamine", (Regrow(0.5, "gradient", 30, 0.03), Train(15, 5e-4)), (Train(5, 5e-4),),
                                "ketamine"),
    "ssri": TreatmentConfig("ssri", (Train(100, 1e-5, 0.5, 0.0),), (Train(20, 1e-5, 0.3, 0.0),), "ssri"),
    "neurosteroid": TreatmentConfig("neurosteroid", (Modulate(0.7, "tanh"), Train(10, 5e-4)), (Train(10, 5e-4),),
                                    "neurosteroid"),
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


# -- the studies' settings (hydra.sweeper.search, hydra.sweeper.sensitivity) ---------------------

Seeds = tuple[Seed, ...]  # a study's model seeds, each also a data seed (data.seed is ${seed})


def _distinct(seeds: tuple[int, ...], key: str) -> None:
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:  # the same job twice: a seed counted twice in a mean, not a second sample
        raise ValueError(f"{key} must not repeat a seed, got {repeated[0]} twice")


@dataclass(frozen=True, config=FIXED)
class Heldout:
    seeds: Seeds  # seeds the search never sees: the chosen regimens are re-run on them
    best: Size  # how many regimens of the Pareto front are chosen


@dataclass(frozen=True, config=FIXED)
class Search:
    objectives: Annotated[dict[str, Literal["maximize", "minimize"]], Field(min_length=1)]
    seeds: Annotated[Seeds, Field(min_length=1)]
    trials: Size
    batch: Optional[Size]
    sampler: Literal["tpe", "nsga2", "random"]
    sampler_seed: Count  # a trial's sampler is seeded sampler_seed + trials asked before it, in 32 bits
    storage: Optional[Text]
    study_name: Text
    heldout: Heldout

    @model_validator(mode="after")
    def _seeds_apart(self) -> Search:
        _distinct(self.seeds, "hydra.sweeper.search.seeds")
        _distinct(self.heldout.seeds, "hydra.sweeper.search.heldout.seeds")
        shared = sorted(set(self.heldout.seeds) & set(self.seeds))
        if shared:
            raise ValueError(f"held-out seeds must be seeds the search never sees; shared: {shared} "
                             f"(hydra.sweeper.search.heldout.seeds and hydra.sweeper.search.seeds)")
        if self.sampler_seed + self.trials > 2**32 - 1:
            raise ValueError(f"hydra.sweeper.search.sampler_seed must be at most 2**32 - 1 - trials "
                             f"({2**32 - 1 - self.trials}), got {self.sampler_seed}")
        return self


@dataclass(frozen=True, config=FIXED)
class Sensitivity:
    method: Literal["morris", "sobol"]
    treatments: Annotated[dict[str, dict[str, Any]], Field(min_length=1)]
    outcomes: Annotated[tuple[Text, ...], Field(min_length=1)]
    # at least 2: one Morris trajectory has no spread (sigma), one Sobol base sample no interval
    samples: Annotated[Int, Field(ge=2)]
    levels: Annotated[Int, Field(ge=2)]
    seed: Count
    first_seed: Seed
    conf_level: Annotated[Float, Field(gt=0, lt=1)]
    resamples: Annotated[Int, Field(ge=2)]  # a bootstrap of 1 has no spread: its intervals come out NaN

    @model_validator(mode="after")
    def _sampled_as_salib_takes_it(self) -> Sensitivity:
        key = "hydra.sweeper.sensitivity"
        if self.method == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"{key}.samples must be a power of 2 for Sobol's sequence, got {self.samples}")
        if self.method == "morris" and self.levels % 2:  # SALib: an odd grid biases the sample
            raise ValueError(f"{key}.levels must be even for Morris' grid, got {self.levels}")
        if self.first_seed + self.samples - 1 > SEED_MAX:  # trajectory (base sample) g has seed first_seed + g
            raise ValueError(f"{key}.first_seed must be at most {SEED_MAX} - samples + 1 ({SEED_MAX - self.samples + 1}), "
                             f"got {self.first_seed}")
        return self


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


def _referred(node: Any) -> set[str]:
    """The treatment knobs that ``${treatment.<knob>}`` references under ``node`` name."""
    return {k.removeprefix("treatment.") for _, v in leaves(node) for k in references(v) if k.startswith("treatment.")}


# a derived treatment's edits of its parent's lists: the phases (or maintenance phases) it removes
REMOVALS = {"remove_phases": "phases", "remove_maintenance": "maintenance"}


def _derived(cfg: Mapping, raw: Mapping) -> tuple[Mapping, Mapping, set[str]]:
    """The config with the phases its treatment removes (``remove_phases: [regrow]``: every phase
    of that kind; ``[0]``: the phase at that position) taken out of ``cfg`` and ``raw`` alike, and
    the knobs only those phases referred to; ``ConfigError`` for a phase the parent lacks."""
    treatment, written = cfg.get("treatment"), raw.get("treatment")
    if not isinstance(treatment, Mapping) or not any(k in treatment for k in REMOVALS):
        return cfg, raw, set()
    treatment, written = dict(treatment), dict(written) if isinstance(written, Mapping) else dict(treatment)
    dropped = set()
    for key, group in REMOVALS.items():
        if key not in treatment:
            continue
        remove, phases = treatment.pop(key), treatment.get(group)
        written.pop(key, None)
        if not isinstance(remove, list) or not isinstance(phases, list):
            raise ConfigError(f"treatment.{key} must be a list of phase kinds ({', '.join(PHASES)}) or positions, "
                              f"got {remove!r}")
        kinds = [p.get("kind") if isinstance(p, Mapping) else None for p in phases]
        gone = set()
        for r in remove:
            at = [i for i, k in enumerate(kinds) if k == r] if isinstance(r, str) else \
                [r] if isinstance(r, int) and not isinstance(r, bool) and 0 <= r < len(phases) else []
            if not at:
                what = f"no {r} phase" if isinstance(r, str) else f"no {group} phase at position {r!r}"
                raise ConfigError(f"treatment.{key} removes {r!r}, but treatment {treatment.get('name')!r} has "
                                  f"{what}; its {group}: {', '.join(map(str, kinds)) or 'none'}")
            gone.update(at)
        rows = list(written.get(group) or phases)
        treatment[group] = [p for i, p in enumerate(phases) if i not in gone]
        written[group] = [p for i, p in enumerate(rows) if i not in gone]
        dropped |= _referred([p for i, p in enumerate(rows) if i in gone])
    return {**cfg, "treatment": treatment}, {**raw, "treatment": written}, dropped


def referred_knobs(written: Any) -> set[str]:
    """The knobs a treatment as written refers to: those its phases name, and those these name in turn."""
    written = written if isinstance(written, Mapping) else {}
    known = _referred([written.get("phases"), written.get("maintenance")])
    while more := _referred([written.get(k) for k in known]) - known:
        known |= more
    return known


def typed_keys(overrides: Iterable[str] | None) -> set[str] | None:
    """The keys a list of overrides sets (``+treatment.epochz=50``: ``treatment.epochz``)."""
    if overrides is None:
        return None
    return {o.lstrip("+~").partition("=")[0] for o in overrides}


def _knobs(treatment: Mapping, raw: Mapping, typed: set[str] | None = None, dropped: set[str] = frozenset()
           ) -> list[str]:
    """The treatment's knobs: its keys beyond the schema that a phase refers to, directly or
    through a knob that one does. A key no phase refers to is no knob: refused (``ConfigError``)
    when it was typed (``typed``: the keys the overrides set; None: every key but those a removed
    phase referred to, ``dropped``), else left out, as a parent's knob its derived treatment no
    longer uses."""
    extra = sorted(set(treatment) - {f.name for f in fields(TreatmentConfig)})
    known = referred_knobs(raw.get("treatment"))
    for knob in extra:
        if knob not in known and (f"treatment.{knob}" in typed if typed is not None else knob not in dropped):
            kept = [k for k in extra if k in known]
            close = difflib.get_close_matches(knob, kept, n=1)
            raise ConfigError(f"treatment.{knob} is unknown: no phase of treatment {treatment.get('name')!r} refers "
                              f"to ${{treatment.{knob}}}; its knobs: {', '.join(kept) or 'none'}"
                              + (f"; did you mean treatment.{close[0]}?" if close else ""))
    return [k for k in extra if k in known]


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


def knob_record(knobs: Mapping[str, Any], treatment: Any) -> dict[str, dict]:
    """Each knob of ``knobs`` (``{"treatment.epochs": 15}``) with its value and the phase keys written
    as its ``${treatment.epochs}`` in ``treatment`` as written (``treatment.phases.1.epochs``): what
    a result records, so that its reader names its columns without ``conf/``."""
    fed: dict[str, list[str]] = {k: [] for k in knobs}
    for group in ("phases", "maintenance"):
        node = treatment.get(group) if isinstance(treatment, Mapping) else None
        for key, v in leaves(node or [], f"treatment.{group}"):
            if reference(v) in fed:
                fed[reference(v)].append(key)
    return {k: {"value": v, "phase_keys": fed[k]} for k, v in knobs.items()}


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
