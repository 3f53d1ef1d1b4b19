"""Typed, validated view of a composed config: the only place that knows its shape.

Hydra composes YAML; ``Job.from_config`` turns the result into frozen dataclasses and refuses
anything out of range with a one-line ``ConfigError``. The library takes these dataclasses,
never a DictConfig, so it runs the same from a notebook, a test or the CLI.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from . import numerics

SCHEMA = "pruning-lab/result/1"
# How internal noise is drawn (noise.py). Not a setting, but it determines every result that
# uses noise, so it is part of each job's hash: results drawn under another definition are
# recomputed, never reused. Change it whenever noise.py's numbers change.
NOISE_STREAM = "splitmix64-boxmuller/1"
ACTIVATIONS = ("relu", "tanh")
# the engines a phase can run on (engines/); the config may also say "auto" (engines.choose)
ENGINES = ("dense", "sparse")


class ConfigError(ValueError):
    """A config value the protocol cannot run with; its message is one line."""


# -- small checked readers ------------------------------------------------------------------


def _number(d: Mapping, key: str, where: str, *, integer: bool = False) -> float:
    if key not in d:
        raise ConfigError(f"{where}.{key} is missing")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}.{key} must be a number, got {v!r}")
    if integer:
        if isinstance(v, float) and not v.is_integer():
            raise ConfigError(f"{where}.{key} must be an integer, got {v!r}")
        return int(v)
    if not math.isfinite(v):
        raise ConfigError(f"{where}.{key} must be finite, got {v!r}")
    return float(v)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _no_extra(d: Mapping, allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    _check(not extra, f"{where} has unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}")


# -- phases: the vocabulary treatments are written in ------------------------------------------


@dataclass(frozen=True)
class Regrow:
    """Reinstate a fraction of each layer's pruned positions (gradient-scored or random)."""

    fraction: float
    score: str = "gradient"
    batches: int = 30
    init_std: float = 0.03
    kind: str = field(default="regrow", init=False)


@dataclass(frozen=True)
class Train:
    """Masked Adam training; internal noise fades linearly from noise_start to noise_end."""

    epochs: int
    lr: float
    noise_start: float = 0.0
    noise_end: float = 0.0
    kind: str = field(default="train", init=False)

    def sigma(self, epoch: int) -> float:
        """Internal noise in epoch ``epoch`` (0-based): start in the first, end in the last."""
        if self.epochs <= 1:
            return self.noise_start
        return self.noise_start + (self.noise_end - self.noise_start) * epoch / (self.epochs - 1)


@dataclass(frozen=True)
class Modulate:
    """Switch tonic inhibition: damping of hidden activations and their nonlinearity."""

    damping: float
    activation: str
    kind: str = field(default="modulate", init=False)


Phase = Regrow | Train | Modulate


def _phase(d: Any, where: str) -> Phase:
    _check(isinstance(d, Mapping), f"{where} must be a mapping with a 'kind'")
    kind = d.get("kind")
    if kind == "regrow":
        _no_extra(d, {"kind", "fraction", "score", "batches", "init_std"}, where)
        fraction = _number(d, "fraction", where)
        _check(0 < fraction <= 1, f"{where}.fraction must be in (0, 1], got {fraction}")
        score = d.get("score", "gradient")
        _check(score in ("gradient", "random"), f"{where}.score must be gradient or random, got {score!r}")
        batches = _number({"batches": d.get("batches", 30)}, "batches", where, integer=True)
        _check(batches >= 1, f"{where}.batches must be >= 1, got {batches}")
        init_std = _number({"init_std": d.get("init_std", 0.03)}, "init_std", where)
        _check(init_std >= 0, f"{where}.init_std must be >= 0, got {init_std}")
        return Regrow(fraction, score, int(batches), init_std)
    if kind == "train":
        _no_extra(d, {"kind", "epochs", "lr", "noise_start", "noise_end"}, where)
        epochs = _number(d, "epochs", where, integer=True)
        _check(epochs >= 0, f"{where}.epochs must be >= 0, got {epochs}")
        lr = _number(d, "lr", where)
        _check(lr > 0, f"{where}.lr must be > 0, got {lr}")
        start = _number({"noise_start": d.get("noise_start", 0.0)}, "noise_start", where)
        end = _number({"noise_end": d.get("noise_end", 0.0)}, "noise_end", where)
        _check(start >= 0 and end >= 0, f"{where} noise sigma must be >= 0, got {start} -> {end}")
        return Train(int(epochs), lr, start, end)
    if kind == "modulate":
        _no_extra(d, {"kind", "damping", "activation"}, where)
        damping = _number(d, "damping", where)
        _check(damping > 0, f"{where}.damping must be > 0, got {damping}")
        act = d.get("activation", "relu")
        _check(act in ACTIVATIONS, f"{where}.activation must be one of {', '.join(ACTIVATIONS)}, got {act!r}")
        return Modulate(damping, act)
    raise ConfigError(f"{where}.kind {kind!r} is unknown; phase kinds are regrow, train, modulate")


# -- config groups ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DataConfig:
    centres: tuple[tuple[float, float], ...] = ((-3, -3), (3, 3), (-3, 3), (3, -3))
    spread: float = 0.8
    train_size: int = 12000
    test_size: int = 4000
    clean_size: int = 2000
    batch_size: int = 128
    seed: int = 0


@dataclass(frozen=True)
class ModelConfig:
    inputs: int = 2
    hidden: tuple[int, ...] = (512, 512, 256)
    classes: int = 4


@dataclass(frozen=True)
class BaselineConfig:
    epochs: int = 20
    lr: float = 1e-3


@dataclass(frozen=True)
class PathologyConfig:
    sparsity: float = 0.95
    scope: str = "per_layer"
    relapse_fraction: float = 0.40
    relapse_cap: float = 0.99


@dataclass(frozen=True)
class TreatmentConfig:
    name: str
    label: str
    phases: tuple[Phase, ...]
    maintenance: tuple[Phase, ...]


@dataclass(frozen=True)
class StressConfig:
    input_sigma: float = 1.0
    internal_sigma: float = 0.5
    profile: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.5)


@dataclass(frozen=True)
class LongitudinalConfig:
    cycles: int = 8
    prune_fraction: float = 0.10
    relapse_threshold: float = 80.0


@dataclass(frozen=True)
class OnsetConfig:
    """The treatment's time course: scored every ``every`` epochs (0: not at all)."""

    every: int = 5
    response: float = 80.0  # combined-stress accuracy (%) that counts as a response


@dataclass(frozen=True)
class Job:
    """Everything that determines one run's metrics (and nothing that does not)."""

    seed: int
    treatment: TreatmentConfig
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    baseline: BaselineConfig = BaselineConfig()
    pathology: PathologyConfig = PathologyConfig()
    stress: StressConfig = StressConfig()
    longitudinal: LongitudinalConfig = LongitudinalConfig()
    onset: OnsetConfig = OnsetConfig()
    engine: str = "auto"
    engine_sparse_from: float = 0.8
    numerics: str = "portable"

    @staticmethod
    def from_config(cfg: Mapping) -> "Job":
        """Validate a composed config (DictConfig or plain dict) into a Job.

        Pass it unresolved: a treatment's knobs are known by the ``${treatment.<knob>}``
        interpolations of its phases, and a resolved copy has none left.
        """
        from omegaconf import DictConfig, OmegaConf

        try:
            if not isinstance(cfg, DictConfig):
                cfg = OmegaConf.create(dict(cfg))
            # Hydra's own node holds job-time interpolations (hydra.job.num, ...); the job
            # never needs it
            cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
            # a treatment knob is known by the phases that refer to it, which only the
            # unresolved node shows
            raw = cfg.get("treatment")
            raw = OmegaConf.to_container(raw, resolve=False) if isinstance(raw, DictConfig) else raw
            resolved = OmegaConf.to_container(cfg, resolve=True)
        except Exception as e:  # interpolation errors and the like
            raise ConfigError(str(e).splitlines()[0]) from None
        return Job.from_resolved(resolved, raw)

    @staticmethod
    def from_resolved(cfg: Mapping, treatment: Any) -> "Job":
        """Validate a resolved plain config whose treatment node, unresolved, is ``treatment``."""
        _known_keys(cfg, treatment)
        return _job(cfg)

    def to_dict(self) -> dict:
        """Plain JSON types (lists, not tuples), as the config reads back from a result file."""
        return json.loads(json.dumps(asdict(self)))

    @property
    def hash(self) -> str:
        """Content hash of everything that determines the result."""
        return job_hash(self.to_dict())


def config_hash(d: Any) -> str:
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def job_hash(config: Mapping) -> str:
    """A job's hash, from its config as ``Job.to_dict`` gives it, the noise stream and the
    portable numerics' version (numerics.py)."""
    return config_hash({**config, "noise_stream": NOISE_STREAM, "numerics_version": numerics.VERSION})


def _section(cfg: Mapping, key: str) -> Mapping:
    v = cfg.get(key)
    _check(isinstance(v, Mapping), f"config group '{key}' is missing or not a mapping")
    if key in _FIXED:  # a misspelt key (+pathology.sparsty=0.9) must not pass silently
        _no_extra(v, {f.name for f in fields(_FIXED[key])}, key)
    return v


_FIXED = {"data": DataConfig, "model": ModelConfig, "baseline": BaselineConfig, "pathology": PathologyConfig,
          "stress": StressConfig, "longitudinal": LongitudinalConfig, "onset": OnsetConfig}


_TOP = {"seed", "engine", "engine_sparse_from", "numerics", "force", "paths", "treatment", *_FIXED}
_PATHS = {"store"}
_TREATMENT = {"name", "label", "phases", "maintenance"}
_KNOB = re.compile(r"\$\{treatment\.(\w+)")


def _refs(node: Any) -> set[str]:
    """The treatment knobs that ``${treatment.<knob>}`` interpolations in ``node`` name."""
    if isinstance(node, Mapping):
        return set().union(*(_refs(v) for v in node.values()))
    if isinstance(node, (list, tuple)):
        return set().union(*(_refs(v) for v in node))
    return set(_KNOB.findall(node)) if isinstance(node, str) else set()


def _known_keys(cfg: Mapping, treatment: Any) -> None:
    """Refuse a key nothing reads (``+sede=3``, ``+paths.stor=x``, ``+treatment.epochz=50``)."""
    extra = sorted(set(cfg) - _TOP)
    _check(not extra, f"unknown key(s) {', '.join(extra)}; top-level keys: {', '.join(sorted(_TOP))}")
    if isinstance(cfg.get("paths"), Mapping):
        _no_extra(cfg["paths"], _PATHS, "paths")
    if not isinstance(treatment, Mapping):
        return
    # a treatment's other keys are free-form knobs, known if a phase refers to them (or a
    # knob a phase refers to does)
    known = _refs([treatment.get("phases"), treatment.get("maintenance")])
    while (more := _refs([treatment.get(k) for k in known]) - known):
        known |= more
    knobs = sorted(set(treatment) - _TREATMENT)
    for knob in knobs:
        _check(knob in known, f"treatment.{knob} is unknown: no phase of treatment {treatment.get('name')!r} "
                              f"refers to ${{treatment.{knob}}}; its knobs: {', '.join(k for k in knobs if k in known) or 'none'}")


# YAML 1.1's booleans (yaml.org/type/bool.html), as OmegaConf reads them; Hydra's override
# parser turns only true/false into bools and hands the others over as strings
_BOOLS = {s: word in ("y", "yes", "true", "on") for word in ("y", "yes", "true", "on", "n", "no", "false", "off")
          for s in (word, word.capitalize(), word.upper())}


def flag(cfg: Mapping, key: str) -> bool:
    """A boolean setting, refused unless spelt as YAML spells a boolean."""
    v = cfg.get(key, False)
    if isinstance(v, str) and v in _BOOLS:
        return _BOOLS[v]
    _check(isinstance(v, bool), f"{key} must be true or false, got {v!r}")
    return v


def _job(cfg: Mapping) -> Job:
    seed = _number(cfg, "seed", "config", integer=True)
    _check(seed >= 0, f"seed must be >= 0, got {seed}")

    d = _section(cfg, "data")
    centres = d.get("centres", DataConfig.centres)
    _check(
        isinstance(centres, (list, tuple)) and len(centres) >= 2
        and all(isinstance(c, (list, tuple)) and len(c) == 2 for c in centres),
        "data.centres must be a list of at least two [x, y] pairs",
    )
    data = DataConfig(
        centres=tuple((float(a), float(b)) for a, b in centres),
        spread=_number(d, "spread", "data"),
        train_size=int(_number(d, "train_size", "data", integer=True)),
        test_size=int(_number(d, "test_size", "data", integer=True)),
        clean_size=int(_number(d, "clean_size", "data", integer=True)),
        batch_size=int(_number(d, "batch_size", "data", integer=True)),
        seed=int(_number(d, "seed", "data", integer=True)),
    )
    _check(data.spread >= 0, f"data.spread must be >= 0, got {data.spread}")
    for k in ("train_size", "test_size", "clean_size", "batch_size"):
        _check(getattr(data, k) >= 1, f"data.{k} must be >= 1, got {getattr(data, k)}")
    _check(data.seed >= 0, f"data.seed must be >= 0, got {data.seed}")
    # the data streams are NumPy RandomState(1000 * seed + 300 at most), seeded with 32 bits
    _check(1000 * data.seed + 300 < 2**32, f"data.seed must be <= {(2**32 - 301) // 1000}, got {data.seed}")

    m = _section(cfg, "model")
    hidden = m.get("hidden")
    _check(isinstance(hidden, (list, tuple)) and len(hidden) > 0, "model.hidden must be a non-empty list of layer widths")
    _check(all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden),
           f"model.hidden must hold positive integers, got {list(hidden)}")
    model = ModelConfig(
        inputs=int(_number(m, "inputs", "model", integer=True)),
        hidden=tuple(hidden),
        classes=int(_number(m, "classes", "model", integer=True)),
    )
    _check(model.inputs == 2, f"model.inputs must be 2 (the cluster task is 2-D), got {model.inputs}")
    _check(model.classes == len(data.centres), f"model.classes must equal the number of data.centres ({len(data.centres)}), got {model.classes}")

    b = _section(cfg, "baseline")
    baseline = BaselineConfig(epochs=int(_number(b, "epochs", "baseline", integer=True)), lr=_number(b, "lr", "baseline"))
    _check(baseline.epochs >= 0, f"baseline.epochs must be >= 0, got {baseline.epochs}")
    _check(baseline.lr > 0, f"baseline.lr must be > 0, got {baseline.lr}")

    p = _section(cfg, "pathology")
    pathology = PathologyConfig(
        sparsity=_number(p, "sparsity", "pathology"),
        scope=p.get("scope", "per_layer"),
        relapse_fraction=_number(p, "relapse_fraction", "pathology"),
        relapse_cap=_number(p, "relapse_cap", "pathology"),
    )
    _check(0 <= pathology.sparsity < 1, f"pathology.sparsity must be in [0, 1), got {pathology.sparsity}")
    _check(pathology.scope in ("per_layer", "global"), f"pathology.scope must be per_layer or global, got {pathology.scope!r}")
    _check(0 <= pathology.relapse_fraction <= 1, f"pathology.relapse_fraction must be in [0, 1], got {pathology.relapse_fraction}")
    _check(0 <= pathology.relapse_cap < 1, f"pathology.relapse_cap must be in [0, 1), got {pathology.relapse_cap}")

    t = _section(cfg, "treatment")
    name = t.get("name")
    _check(isinstance(name, str) and name != "", "treatment.name must be a non-empty string")
    for key in ("phases", "maintenance"):
        _check(isinstance(t.get(key, []), (list, tuple)), f"treatment.{key} must be a list of phases")
    # Headline knobs sit at the top of a treatment's YAML and its phases refer to them; check
    # them first, so the error names the key the user typed rather than the phase it reached.
    for knob, lo, hi in (("damping", 0, None), ("fraction", 0, 1), ("lr", 0, None), ("bridge_lr", 0, None)):
        if knob in t and isinstance(t[knob], (int, float)) and not isinstance(t[knob], bool):
            v = t[knob]
            _check(v > lo and (hi is None or v <= hi),
                   f"treatment.{knob} must be {'in (0, 1]' if hi else '> 0'}, got {v}")
    treatment = TreatmentConfig(
        name=name,
        label=str(t.get("label", name)),
        phases=tuple(_phase(x, f"treatment.phases[{i}]") for i, x in enumerate(t.get("phases", []))),
        maintenance=tuple(_phase(x, f"treatment.maintenance[{i}]") for i, x in enumerate(t.get("maintenance", []))),
    )

    s = _section(cfg, "stress")
    profile = s.get("profile", [])
    _check(isinstance(profile, (list, tuple)), "stress.profile must be a list of sigmas")
    stress = StressConfig(
        input_sigma=_number(s, "input_sigma", "stress"),
        internal_sigma=_number(s, "internal_sigma", "stress"),
        profile=tuple(_number({"sigma": x}, "sigma", "stress.profile") for x in profile),
    )
    for key in ("input_sigma", "internal_sigma"):
        _check(getattr(stress, key) >= 0, f"stress.{key} must be >= 0, got {getattr(stress, key)}")
    _check(all(x >= 0 for x in stress.profile), f"stress.profile sigmas must be >= 0, got {list(stress.profile)}")

    lg = _section(cfg, "longitudinal")
    longitudinal = LongitudinalConfig(
        cycles=int(_number(lg, "cycles", "longitudinal", integer=True)),
        prune_fraction=_number(lg, "prune_fraction", "longitudinal"),
        relapse_threshold=_number(lg, "relapse_threshold", "longitudinal"),
    )
    _check(longitudinal.cycles >= 0, f"longitudinal.cycles must be >= 0, got {longitudinal.cycles}")
    _check(0 <= longitudinal.prune_fraction <= 1, f"longitudinal.prune_fraction must be in [0, 1], got {longitudinal.prune_fraction}")

    flag(cfg, "force")

    o = _section(cfg, "onset")
    onset = OnsetConfig(every=int(_number(o, "every", "onset", integer=True)),
                        response=_number(o, "response", "onset"))
    _check(onset.every >= 0, f"onset.every must be >= 0 epochs (0: no onset course), got {onset.every}")
    _check(0 <= onset.response <= 100, f"onset.response must be in [0, 100] (%), got {onset.response}")

    engine = cfg.get("engine", "auto")
    _check(engine in ("auto", *ENGINES), f"engine must be one of {', '.join(('auto', *ENGINES))}, got {engine!r}")
    sparse_from = _number({"engine_sparse_from": cfg.get("engine_sparse_from", 0.8)}, "engine_sparse_from", "config")
    _check(0 <= sparse_from <= 1, f"engine_sparse_from must be in [0, 1], got {sparse_from}")
    mode = cfg.get("numerics", "portable")
    _check(mode in numerics.MODES, f"numerics must be one of {', '.join(numerics.MODES)}, got {mode!r}")

    return Job(
        seed=int(seed), treatment=treatment, data=data, model=model, baseline=baseline,
        pathology=pathology, stress=stress, longitudinal=longitudinal, onset=onset, engine=engine,
        engine_sparse_from=sparse_from, numerics=mode,
    )
