"""Every refusal of the config schema (``config/``), by the key it names, and the values just inside each range.

The configs are plain dicts built once from the real conf/ (composed as the CLI does, the
interpolations kept, so a treatment's headline knob still reaches its phases), then edited one
key at a time: fast enough to check every check at its boundaries.
Each refusal must be a ``ConfigError`` whose one-line message starts with the key at fault;
each boundary value the protocol allows must pass and reach the ``Job`` unchanged.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import math
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from pruning_lab.config import (ConfigError, Job, Modulate, Regrow, Search, Sensitivity, Train, checked, content_hash,
                                job_hash, resolve, validate)

from .conftest import CONF

TREATMENTS = ("ketamine", "ssri", "neurosteroid", "neurosteroid_bridge_ssri", "none")
PRESETS = {"paper1": "experiment=paper1"}
# a treatment written without knobs, one phase of each kind, so each phase field can be edited alone
DIRECT = {
    "name": "direct", "label": "Direct",
    "phases": [{"kind": "regrow", "fraction": 0.5, "score": "gradient", "batches": 30, "init_std": 0.03},
               {"kind": "train", "epochs": 15, "lr": 5e-4, "noise_start": 0.5, "noise_end": 0.0},
               {"kind": "modulate", "damping": 0.7, "activation": "tanh"}],
    "maintenance": [{"kind": "train", "epochs": 5, "lr": 5e-4, "noise_start": 0.3, "noise_end": 0.0}],
}
DELETE = object()  # as a value: remove the key


@functools.cache
def shipped() -> dict[str, dict]:
    """The default config of each treatment as a plain dict, interpolations unresolved (composed once)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        configs = {t: compose("config", overrides=[f"treatment={t}"]) for t in TREATMENTS}
        configs.update({name: compose("config", overrides=[o]) for name, o in PRESETS.items()})
        out = {name: OmegaConf.to_container(c) for name, c in configs.items()}
    out["direct"] = {**out["ketamine"], "treatment": DIRECT}
    return out


@pytest.fixture
def base() -> dict[str, dict]:
    return shipped()


def edited(cfg: dict, key: str, value) -> dict:
    """A deep copy of ``cfg`` with the dotted ``key`` (list indices as numbers) set or deleted."""
    cfg = copy.deepcopy(cfg)
    *parents, last = [int(p) if p.isdigit() else p for p in key.split(".")]
    node = cfg
    for p in parents:
        node = node[p]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


def job(cfg: dict) -> Job:
    """The Job of ``cfg``, its interpolations resolved as the CLI resolves them."""
    return Job.from_config(OmegaConf.create(cfg))


def refusal(cfg: dict) -> str:
    with pytest.raises(ConfigError) as e:
        job(cfg)
    message = str(e.value)
    assert "\n" not in message and message == message.strip()
    return message


# -- the shipped numbers ----------------------------------------------------------------------


def test_the_shipped_config_holds_the_protocols_numbers(base):
    """Every number of conf/ that the protocol fixes (docs/protocol.md), read back from the Job."""
    j = job(base["ketamine"])
    d = j.data
    assert d.centres == ((-3, -3), (3, 3), (-3, 3), (3, -3)) and d.spread == 0.8
    assert (d.train_size, d.test_size, d.clean_size, d.batch_size, d.seed) == (12000, 4000, 2000, 128, 0)
    assert (j.model.inputs, j.model.hidden, j.model.classes) == (2, (512, 512, 256), 4)
    assert (j.baseline.epochs, j.baseline.lr) == (20, 1e-3)
    p = j.pathology
    assert (p.sparsity, p.scope, p.relapse_fraction, p.relapse_cap) == (0.95, "per_layer", 0.40, 0.99)
    assert (j.stress.input_sigma, j.stress.internal_sigma) == (1.0, 0.5)
    assert j.stress.profile == (0.0, 0.5, 1.0, 1.5, 2.5) and j.stress.extreme_sigma == 2.5
    lg = j.longitudinal
    assert (lg.cycles, lg.prune_fraction, lg.relapse_threshold) == (8, 0.10, 80.0)
    assert (j.seed, j.engine, j.engine_sparse_from, j.numerics) == (0, "auto", 0.8, "portable")
    treatments = {t: job(base[t]).treatment for t in TREATMENTS}
    assert treatments["ketamine"].phases == (Regrow(0.5, "gradient", 30, 0.03), Train(15, 5e-4, 0.0, 0.0))
    assert treatments["ketamine"].maintenance == (Train(5, 5e-4, 0.0, 0.0),)
    assert treatments["ssri"].phases == (Train(100, 1e-5, 0.5, 0.0),)
    assert treatments["ssri"].maintenance == (Train(20, 1e-5, 0.3, 0.0),)
    assert treatments["neurosteroid"].phases == (Modulate(0.7, "tanh"), Train(10, 5e-4, 0.0, 0.0))
    assert treatments["neurosteroid"].maintenance == (Train(10, 5e-4, 0.0, 0.0),)
    assert treatments["neurosteroid_bridge_ssri"].phases == (
        Modulate(0.7, "tanh"), Train(10, 5e-4, 0.0, 0.0), Modulate(1.0, "relu"), Train(100, 1e-5, 0.5, 0.0))
    assert treatments["none"].phases == () and treatments["none"].maintenance == ()


# -- refusals: (treatment, key, value, the start of the message) ------------------------------------

P0, P1, P2 = "treatment.phases.0", "treatment.phases.1", "treatment.phases.2"  # direct: regrow, train, modulate

REFUSED = [
    # missing, not a number (a bool is not one), not an integer, not finite
    ("ketamine", "data.spread", DELETE, "data.spread is missing"),
    ("paper1", "seed", DELETE, "seed is missing"),  # paper 1's data seed does not follow it
    ("ketamine", "pathology.sparsity", "high", "pathology.sparsity must be a number, got 'high'"),
    ("ketamine", "baseline.lr", True, "baseline.lr must be a number, got True"),
    ("ketamine", "data.train_size", 600.5, "data.train_size must be an integer, got 600.5"),
    ("ketamine", "stress.input_sigma", math.inf, "stress.input_sigma must be a finite number, got inf"),
    ("ketamine", "stress.internal_sigma", math.nan, "stress.internal_sigma must be a finite number, got nan"),
    ("ketamine", "engine_sparse_from", "x", "engine_sparse_from must be a number, got 'x'"),
    # a misspelt key in a fixed group or in a phase
    ("ketamine", "pathology.sparsty", 0.9, "pathology has unknown key(s) sparsty; allowed: relapse_cap,"),
    ("ketamine", "longitudinal.cycle", 4, "longitudinal has unknown key(s) cycle;"),
    ("direct", f"{P0}.fractoin", 0.5, "treatment.phases[0] has unknown key(s) fractoin;"),
    ("direct", f"{P1}.noise", 0.5, "treatment.phases[1] has unknown key(s) noise;"),
    ("direct", f"{P2}.tonic", 1, "treatment.phases[2] has unknown key(s) tonic;"),
    # a key nothing reads, anywhere; a boolean that pydantic would not read as one
    ("ketamine", "sede", 3, "unknown key(s) sede; top-level keys: baseline,"),
    ("ketamine", "paths.stor", "x", "paths has unknown key(s) stor; allowed: store"),
    ("ssri", "treatment.epochz", 50, "treatment.epochz is unknown: no phase of treatment 'ssri' refers to"),
    ("direct", "treatment.epochs", 9, "treatment.epochs is unknown: no phase of treatment 'direct'"),
    ("ketamine", "force", "abc", "force must be true or false, got 'abc'"),
    ("ketamine", "force", 2, "force must be true or false, got 2"),
    # a whole group
    ("ketamine", "stress", DELETE, "stress is missing"),
    ("ketamine", "model", 3, "model must be a mapping, got 3"),
    # phases
    ("direct", P0, 3, "treatment.phases[0] must be a mapping with a kind, got 3"),
    ("direct", f"{P0}.kind", "prune", "treatment.phases[0].kind must be one of 'regrow', 'train', 'modulate', got 'prune'"),
    ("direct", "treatment.maintenance.0.kind", None, "treatment.maintenance[0].kind must be one of 'regrow', 'train', 'modulate', got None"),
    ("direct", f"{P0}.fraction", 0, "treatment.phases[0].fraction must be greater than 0, got 0"),
    ("direct", f"{P0}.fraction", 1.01, "treatment.phases[0].fraction must be less than or equal to 1, got 1.01"),
    ("direct", f"{P0}.fraction", DELETE, "treatment.phases[0].fraction is missing"),
    ("direct", f"{P0}.score", "best", "treatment.phases[0].score must be 'gradient' or 'random', got 'best'"),
    ("direct", f"{P0}.batches", 0, "treatment.phases[0].batches must be greater than or equal to 1, got 0"),
    ("direct", f"{P0}.batches", 2.5, "treatment.phases[0].batches must be an integer"),
    ("direct", f"{P0}.init_std", -0.01, "treatment.phases[0].init_std must be greater than or equal to 0, got -0.01"),
    ("direct", f"{P0}.init_std", "wide", "treatment.phases[0].init_std must be a number"),
    ("direct", f"{P1}.epochs", -1, "treatment.phases[1].epochs must be greater than or equal to 0, got -1"),
    ("direct", f"{P1}.epochs", DELETE, "treatment.phases[1].epochs is missing"),
    ("direct", f"{P1}.epochs", 2.5, "treatment.phases[1].epochs must be an integer, got 2.5"),
    ("direct", f"{P1}.lr", 0, "treatment.phases[1].lr must be greater than 0, got 0"),
    ("direct", f"{P1}.lr", "fast", "treatment.phases[1].lr must be a number"),
    ("direct", f"{P1}.noise_start", "x", "treatment.phases[1].noise_start must be a number"),
    ("direct", f"{P1}.noise_end", "x", "treatment.phases[1].noise_end must be a number"),
    ("direct", f"{P1}.noise_start", -0.1, "treatment.phases[1].noise_start must be greater than or equal to 0, got -0.1"),
    ("direct", "treatment.maintenance.0.noise_end", -0.1, "treatment.maintenance[0].noise_end must be greater than or equal to 0, got -0.1"),
    ("direct", f"{P2}.damping", 0, "treatment.phases[2].damping must be greater than 0, got 0"),
    ("direct", f"{P2}.damping", 2.0, "treatment.phases[2].damping must be less than or equal to 1, got 2.0"),  # an inhibition
    ("direct", f"{P2}.damping", "x", "treatment.phases[2].damping must be a number"),
    ("direct", f"{P2}.activation", "sigmoid", "treatment.phases[2].activation must be 'relu' or 'tanh', got 'sigmoid'"),
    # seed and data
    ("ketamine", "seed", -1, "seed must be greater than or equal to 0, got -1"),
    ("ketamine", "data.centres", [[1, 2]], "data.centres must have at least 2 items, got [[1, 2]]"),
    ("ketamine", "data.centres", [[1, 2, 3], [4, 5]], "data.centres[0] must have at most 2 items, got [1, 2, 3]"),
    ("ketamine", "data.centres", "corners", "data.centres must be a list, got 'corners'"),
    ("ketamine", "data.spread", -0.1, "data.spread must be greater than or equal to 0, got -0.1"),
    ("ketamine", "data.train_size", 0, "data.train_size must be greater than or equal to 1, got 0"),
    ("ketamine", "data.test_size", 0, "data.test_size must be greater than or equal to 1, got 0"),
    ("ketamine", "data.clean_size", 0, "data.clean_size must be greater than or equal to 1, got 0"),
    ("ketamine", "data.batch_size", 0, "data.batch_size must be greater than or equal to 1, got 0"),
    ("ketamine", "data.seed", -1, "data.seed must be greater than or equal to 0, got -1"),
    ("ketamine", "data.seed", 4_294_967, "data.seed must be less than or equal to 4294966, got 4294967"),
    # model
    ("ketamine", "model.hidden", [], "model.hidden must have at least 1 item, got []"),
    ("ketamine", "model.hidden", 64, "model.hidden must be a list, got 64"),
    ("ketamine", "model.hidden", [64, 0], "model.hidden[1] must be greater than or equal to 1, got 0"),
    ("ketamine", "model.hidden", [True], "model.hidden[0] must be an integer, got True"),
    ("ketamine", "model.hidden", [1.5], "model.hidden[0] must be an integer, got 1.5"),
    ("ketamine", "model.inputs", 3, "model.inputs must be 2, got 3"),
    ("ketamine", "model.inputs", "two", "model.inputs must be 2, got 'two'"),
    ("ketamine", "model.classes", 3, "model.classes must equal the number of data.centres (4), got 3"),
    # baseline
    ("ketamine", "baseline.epochs", -1, "baseline.epochs must be greater than or equal to 0, got -1"),
    ("ketamine", "baseline.lr", 0, "baseline.lr must be greater than 0, got 0"),
    # pathology
    ("ketamine", "pathology.sparsity", -0.01, "pathology.sparsity must be greater than or equal to 0, got -0.01"),
    ("ketamine", "pathology.sparsity", 1.0, "pathology.sparsity must be less than 1, got 1.0"),
    ("ketamine", "pathology.scope", "by_layer", "pathology.scope must be 'per_layer' or 'global', got 'by_layer'"),
    ("ketamine", "pathology.relapse_fraction", -0.1, "pathology.relapse_fraction must be greater than or equal to 0, got -0.1"),
    ("ketamine", "pathology.relapse_fraction", 1.1, "pathology.relapse_fraction must be less than or equal to 1, got 1.1"),
    ("ketamine", "pathology.relapse_cap", -0.1, "pathology.relapse_cap must be greater than or equal to 0, got -0.1"),
    ("ketamine", "pathology.relapse_cap", 1.0, "pathology.relapse_cap must be less than 1, got 1.0"),
    # treatment
    ("ketamine", "treatment.name", "", "treatment.name must have at least 1 character, got ''"),
    ("ketamine", "treatment.name", 3, "treatment.name must be a string, got 3"),
    ("direct", "treatment.phases", "regrow", "treatment.phases must be a list, got 'regrow'"),
    ("direct", "treatment.maintenance", 5, "treatment.maintenance must be a list, got 5"),
    # headline knobs are named before the phases they feed
    ("neurosteroid", "treatment.damping", 0, "treatment.damping must be greater than 0, got 0"),
    ("neurosteroid", "treatment.damping", 1.5, "treatment.damping must be less than or equal to 1, got 1.5"),
    ("ketamine", "treatment.fraction", 0, "treatment.fraction must be greater than 0, got 0"),
    ("ketamine", "treatment.fraction", 1.5, "treatment.fraction must be less than or equal to 1, got 1.5"),
    ("ssri", "treatment.lr", 0, "treatment.lr must be greater than 0, got 0"),
    ("neurosteroid_bridge_ssri", "treatment.bridge_lr", -1e-4, "treatment.bridge_lr must be greater than 0, got -0.0001"),
    # stress
    ("ketamine", "stress.profile", 2.5, "stress.profile must be a list, got 2.5"),
    ("ketamine", "stress.profile", [0.5, "x"], "stress.profile[1] must be a number, got 'x'"),
    ("ketamine", "stress.input_sigma", -0.1, "stress.input_sigma must be greater than or equal to 0, got -0.1"),
    ("ketamine", "stress.internal_sigma", -0.1, "stress.internal_sigma must be greater than or equal to 0, got -0.1"),
    ("ketamine", "stress.profile", [0.0, -0.5], "stress.profile[1] must be greater than or equal to 0, got -0.5"),
    # longitudinal
    ("ketamine", "longitudinal.cycles", -1, "longitudinal.cycles must be greater than or equal to 0, got -1"),
    ("ketamine", "longitudinal.prune_fraction", -0.1, "longitudinal.prune_fraction must be greater than or equal to 0, got -0.1"),
    ("ketamine", "longitudinal.prune_fraction", 1.1, "longitudinal.prune_fraction must be less than or equal to 1, got 1.1"),
    # onset
    ("ketamine", "onset.every", -1, "onset.every must be greater than or equal to 0, got -1"),
    ("ketamine", "onset.every", 2.5, "onset.every must be an integer"),
    ("ketamine", "onset.response", -0.1, "onset.response must be greater than or equal to 0, got -0.1"),
    ("ketamine", "onset.response", 100.5, "onset.response must be less than or equal to 100, got 100.5"),
    # numerics
    ("ketamine", "numerics", "fast", "numerics must be 'portable' or 'native', got 'fast'"),
    # engine
    ("ketamine", "engine", "gpu", "engine must be 'auto', 'dense' or 'sparse', got 'gpu'"),
    ("ketamine", "engine_sparse_from", -0.1, "engine_sparse_from must be greater than or equal to 0, got -0.1"),
    ("ketamine", "engine_sparse_from", 1.1, "engine_sparse_from must be less than or equal to 1, got 1.1"),
]


@pytest.mark.parametrize("treatment, key, value, message", REFUSED,
                         ids=[f"{k}={'<deleted>' if v is DELETE else v!r}" for _, k, v, _ in REFUSED])
def test_a_bad_value_is_refused_naming_its_key(base, treatment, key, value, message):
    assert refusal(edited(base[treatment], key, value)).startswith(message)


INTEGERS = ["seed", "data.train_size", "data.test_size", "data.clean_size", "data.batch_size", "data.seed",
            "model.classes", "baseline.epochs", "longitudinal.cycles", "onset.every"]
NUMBERS = INTEGERS + ["data.spread", "baseline.lr", "pathology.sparsity", "pathology.relapse_fraction",
                     "pathology.relapse_cap", "stress.input_sigma", "stress.internal_sigma",
                     "longitudinal.prune_fraction", "longitudinal.relapse_threshold", "onset.response"]


@pytest.mark.parametrize("key", INTEGERS)
def test_a_count_that_is_not_whole_is_refused_naming_its_key(base, key):
    assert refusal(edited(base["paper1"], key, 2.5)).startswith(f"{key} must be an integer, got 2.5")
    assert refusal(edited(base["paper1"], key, 2.0)).startswith(f"{key} must be an integer, got 2.0")  # strict


@pytest.mark.parametrize("key", NUMBERS)
def test_a_number_that_is_missing_or_not_a_number_is_refused_naming_it(base, key):
    number = "an integer" if key in INTEGERS else "a number"
    assert refusal(edited(base["paper1"], key, "many")).startswith(f"{key} must be {number}, got 'many'")
    missing = refusal(edited(base["paper1"], key, DELETE))
    # onset.response refers to the relapse threshold: its interpolation is what fails first
    assert missing.startswith(f"{key} is missing") or missing == f"Interpolation key '{key}' not found"


def test_two_clusters_are_enough(base):
    two = edited(edited(base["ketamine"], "data.centres", [[-3, 0], [3, 0]]), "model.classes", 2)
    assert job(two).data.centres == ((-3.0, 0.0), (3.0, 0.0))


def test_force_is_off_as_shipped_and_read_as_set(base):
    assert validate(*resolve(base["ketamine"])).force is False
    assert validate(*resolve(edited(base["ketamine"], "force", True))).force is True


def test_an_interpolation_that_does_not_resolve_is_a_config_error(base):
    assert "nosuch" in refusal(edited(base["ketamine"], "pathology.sparsity", "${pathology.nosuch}"))


# -- the boundaries the protocol allows: accepted, and read into the Job unchanged -----------------

ACCEPTED = [
    ("ketamine", "pathology.sparsity", 0.0, lambda j: j.pathology.sparsity),
    ("ketamine", "pathology.sparsity", 0.999, lambda j: j.pathology.sparsity),
    ("ketamine", "pathology.scope", "global", lambda j: j.pathology.scope),
    ("ketamine", "pathology.relapse_fraction", 0.0, lambda j: j.pathology.relapse_fraction),
    ("ketamine", "pathology.relapse_fraction", 1.0, lambda j: j.pathology.relapse_fraction),
    ("ketamine", "pathology.relapse_cap", 0.0, lambda j: j.pathology.relapse_cap),
    ("ketamine", "pathology.relapse_cap", 0.999, lambda j: j.pathology.relapse_cap),
    ("ketamine", "longitudinal.prune_fraction", 0.0, lambda j: j.longitudinal.prune_fraction),
    ("ketamine", "longitudinal.prune_fraction", 1.0, lambda j: j.longitudinal.prune_fraction),
    ("ketamine", "longitudinal.cycles", 0, lambda j: j.longitudinal.cycles),
    ("ketamine", "longitudinal.relapse_threshold", 50.0, lambda j: j.longitudinal.relapse_threshold),
    ("ketamine", "engine_sparse_from", 0.0, lambda j: j.engine_sparse_from),
    ("ketamine", "engine_sparse_from", 1.0, lambda j: j.engine_sparse_from),
    ("ketamine", "engine", "sparse", lambda j: j.engine),
    ("ketamine", "numerics", "native", lambda j: j.numerics),
    ("ketamine", "onset.every", 0, lambda j: j.onset.every),
    ("ketamine", "onset.response", 0.0, lambda j: j.onset.response),
    ("ketamine", "onset.response", 100.0, lambda j: j.onset.response),
    ("ketamine", "seed", 0, lambda j: j.seed),
    ("ketamine", "data.seed", 4_294_966, lambda j: j.data.seed),
    ("ketamine", "data.seed", 0, lambda j: j.data.seed),
    ("ketamine", "data.spread", 0.0, lambda j: j.data.spread),
    ("ketamine", "data.train_size", 1, lambda j: j.data.train_size),
    ("ketamine", "data.centres", [[0, 0], [1, 1], [2, 2], [3, 3]], lambda j: j.data.centres),
    ("ketamine", "model.hidden", [1], lambda j: j.model.hidden),
    ("ketamine", "baseline.epochs", 0, lambda j: j.baseline.epochs),
    ("ketamine", "stress.input_sigma", 0.0, lambda j: j.stress.input_sigma),
    ("ketamine", "stress.internal_sigma", 0.0, lambda j: j.stress.internal_sigma),
    ("ketamine", "stress.profile", [0.0], lambda j: j.stress.profile),
    ("ketamine", "stress.profile", [], lambda j: j.stress.profile),
    ("direct", f"{P0}.fraction", 1.0, lambda j: j.treatment.phases[0].fraction),
    ("direct", f"{P0}.batches", 1, lambda j: j.treatment.phases[0].batches),
    ("direct", f"{P0}.init_std", 0.0, lambda j: j.treatment.phases[0].init_std),
    ("direct", f"{P1}.epochs", 0, lambda j: j.treatment.phases[1].epochs),
    ("ketamine", "treatment.fraction", 1.0, lambda j: j.treatment.phases[0].fraction),  # the knob reaches its phase
    ("direct", f"{P0}.score", "random", lambda j: j.treatment.phases[0].score),
    ("direct", f"{P1}.noise_start", 0.0, lambda j: j.treatment.phases[1].noise_start),
    ("direct", f"{P1}.noise_end", 0.2, lambda j: j.treatment.phases[1].noise_end),
    ("direct", "treatment.maintenance.0.noise_end", 0.1, lambda j: j.treatment.maintenance[0].noise_end),
    ("direct", f"{P2}.activation", "relu", lambda j: j.treatment.phases[2].activation),
    ("direct", f"{P2}.damping", 1.0, lambda j: j.treatment.phases[2].damping),
]


def _normal(v):
    return tuple(_normal(x) for x in v) if isinstance(v, (list, tuple)) else v


@pytest.mark.parametrize("treatment, key, value, read", ACCEPTED, ids=[f"{k}={v!r}" for _, k, v, _ in ACCEPTED])
def test_a_value_at_the_edge_of_its_range_is_accepted(base, treatment, key, value, read):
    assert _normal(read(job(edited(base[treatment], key, value)))) == _normal(value)


def test_no_default_hides_in_the_code_every_key_is_written_in_conf(base):
    """A treatment without a label, any key left out: refused, named as typed (conf/ writes them
    all, so the schema sets no value of its own but a train phase's noise: off unless given)."""
    for key in (f"{P0}.score", f"{P0}.batches", f"{P0}.init_std",
                f"{P2}.activation", "treatment.label", "stress.profile",
                "stress.extreme_sigma", "data.centres"):
        typed = key.replace(".phases.", ".phases[").replace(".maintenance.", ".maintenance[").replace(".noise", "].noise")
        typed = typed.replace(".score", "].score").replace(".batches", "].batches").replace(".init_std", "].init_std")
        typed = typed.replace(".activation", "].activation")
        assert refusal(edited(base["direct"], key, DELETE)) == f"{typed} is missing"
    quiet = validate(*resolve(edited(edited(base["direct"], f"{P1}.noise_start", DELETE), f"{P1}.noise_end", DELETE)))
    assert quiet.job.treatment.phases[1] == Train(15, 5e-4, 0.0, 0.0)
    for key in ("engine", "engine_sparse_from", "force", "paths"):
        assert refusal(edited(base["ketamine"], key, DELETE)) == f"{key} is missing"


def test_a_noise_schedule_of_one_or_two_epochs():
    assert Train(1, 1e-3, 0.5, 0.1).sigma(0) == 0.5  # one epoch: the start
    assert [Train(2, 1e-3, 0.5, 0.1).sigma(e) for e in (0, 1)] == pytest.approx([0.5, 0.1])
    assert Train(0, 1e-3, 0.5, 0.1).sigma(0) == 0.5


def test_the_job_hash_is_stable_and_changes_with_every_value(base):
    """Stored results are found by this hash: its format is part of every store written so far."""
    j = job(base["ketamine"])
    assert j.hash == job(base["ketamine"]).hash == job_hash(j.to_dict())
    assert j.hash != content_hash(j.to_dict())  # the noise stream's definition is part of it
    assert job(edited(base["ketamine"], "seed", 1)).hash != j.hash
    assert job(edited(base["ketamine"], "pathology.relapse_cap", 0.9)).hash != j.hash
    assert content_hash({"b": [1, 2], "a": 0.5}) == hashlib.sha256(b'{"a":0.5,"b":[1,2]}').hexdigest()[:16]
    assert content_hash({"store": Path("x")}) == content_hash({"store": "x"})  # anything else as its str


# -- properties over whole ranges -------------------------------------------------------------------

RANGE = settings(max_examples=25, deadline=None)
unit = st.floats(0, 1)
outside_unit = st.one_of(st.floats(max_value=0, exclude_max=True, allow_infinity=False),
                         st.floats(min_value=1, exclude_min=True, allow_infinity=False))


@RANGE
@given(st.sampled_from(["pathology.relapse_fraction", "longitudinal.prune_fraction", "engine_sparse_from"]),
       unit, outside_unit)
def test_closed_unit_ranges(key, inside, outside):
    """[0, 1]: every value inside is kept as given, every finite value outside is refused by name."""
    cfg = shipped()["ketamine"]
    read = job(edited(cfg, key, inside))
    for part in key.split("."):
        read = getattr(read, part)
    assert read == inside
    assert refusal(edited(cfg, key, outside)).startswith(
        f"{key} must be {'greater than or equal to 0' if outside < 0 else 'less than or equal to 1'}, got ")


@RANGE
@given(st.sampled_from(["pathology.sparsity", "pathology.relapse_cap"]), st.floats(0, 1, exclude_max=True),
       st.one_of(st.floats(max_value=0, exclude_max=True, allow_infinity=False),
                 st.floats(min_value=1, allow_infinity=False)))
def test_half_open_unit_ranges(key, inside, outside):
    """[0, 1): a network cannot be pruned to nothing, nor can a relapse prune it to nothing."""
    cfg = shipped()["ketamine"]
    assert getattr(job(edited(cfg, key, inside)).pathology, key.split(".")[1]) == inside
    assert refusal(edited(cfg, key, outside)).startswith(
        f"{key} must be {'greater than or equal to 0' if outside < 0 else 'less than 1'}, got ")


@RANGE
@given(st.integers(0, 4_294_966), st.integers(max_value=-1))  # the seed is also the data seed
def test_counts_are_non_negative_integers(good, bad):
    cfg = shipped()["ketamine"]
    for key, read in (("longitudinal.cycles", lambda j: j.longitudinal.cycles),
                      ("baseline.epochs", lambda j: j.baseline.epochs), ("seed", lambda j: j.seed)):
        assert read(job(edited(cfg, key, good))) == good
        assert refusal(edited(cfg, key, bad)).startswith(f"{key} must be greater than or equal to 0, got {bad}")



# -- the studies' settings: conf/hydra/sweeper/*.yaml as shipped, and their refusals -----------------


@functools.cache
def sweeper(kind: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(CONF / "hydra" / "sweeper" / f"{kind}.yaml"))[kind]


@pytest.mark.parametrize("kind, key, value, message", [
    ("search", "objectives", {"treated.combined": "up"},
     "hydra.sweeper.search.objectives.treated.combined must be 'maximize' or 'minimize', got 'up'"),
    ("search", "heldout", {"seeds": [2, 7], "best": 3}, "held-out seeds must be seeds the search never sees; shared: [2]"),
    ("search", "trails", 5, "hydra.sweeper.search has unknown key(s) trails; allowed: batch, heldout, objectives,"),
    ("search", "heldout", {"seeds": [], "bset": 3}, "hydra.sweeper.search.heldout has unknown key(s) bset; allowed: best, seeds"),
    ("sensitivity", "samples", 6, "hydra.sweeper.sensitivity.samples must be a power of 2 for Sobol's sequence, got 6"),
    ("sensitivity", "conf_level", 1.0, "hydra.sweeper.sensitivity.conf_level must be less than 1, got 1.0"),
])
def test_a_studys_bad_setting_is_refused_naming_it_as_typed(kind, key, value, message):
    settings = {**sweeper(kind), "objectives": {"treated.combined": "maximize"}} if kind == "search" else \
        {**sweeper(kind), "method": "sobol", "samples": 8, "treatments": {"ssri": {}}}
    schema = Search if kind == "search" else Sensitivity
    checked(schema, settings, prefix=f"hydra.sweeper.{kind}")  # as shipped, with what a study must name
    with pytest.raises(ConfigError) as e:
        checked(schema, {**settings, key: value}, prefix=f"hydra.sweeper.{kind}")
    assert str(e.value).startswith(message)
