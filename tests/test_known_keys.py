"""Every key is known and every boolean is a boolean: a typo is refused, never run on the defaults."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from pruning_lab.config import ConfigError, Job, resolve, validate

from .conftest import CONF
from .helpers_cli import cli, places


@pytest.fixture(scope="module", autouse=True)
def hydra_conf():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield


def refusal(*overrides: str) -> str | None:
    try:
        Job.from_config(compose("config", overrides=list(overrides)))
    except ConfigError as e:
        return str(e)
    return None


@pytest.mark.parametrize("overrides, words", [
    (["+sede=3"], ["unknown key(s) sede", "seed"]),
    (["+paths.stor=elsewhere"], ["paths has unknown key(s) stor", "allowed: store"]),
    (["treatment=ssri", "+treatment.epochz=50"], ["treatment.epochz is unknown", "its knobs: epochs, lr,"]),
    (["treatment=ketamine", "+treatment.damping=0.5"], ["treatment.damping is unknown", "fraction"]),
    (["treatment=none", "+treatment.epochs=5"], ["treatment.epochs is unknown", "its knobs: none"]),
])
def test_a_key_nothing_reads_is_refused_naming_it(overrides, words):
    message = refusal(*overrides)
    assert message is not None and "\n" not in message
    for w in words:
        assert w in message, message


@pytest.mark.parametrize("treatment", ["ketamine", "ssri", "neurosteroid", "neurosteroid_bridge_ssri",
                                       "random_regrowth", "none"])
def test_every_knob_of_the_shipped_treatments_is_known(treatment):
    assert refusal(f"treatment={treatment}") is None


def test_a_knob_a_phase_no_longer_refers_to_is_refused():
    # the phase's value is set directly, so treatment.epochs would be silently ignored
    assert "treatment.epochs is unknown" in refusal("treatment=ssri", "treatment.phases.0.epochs=3", "treatment.epochs=9")


@pytest.mark.parametrize("spelling, value", [("true", True), ("True", True), ("yes", True), ("on", True), ("1", True),
                                             ("false", False), ("FALSE", False), ("no", False), ("off", False),
                                             ("0", False)])
def test_force_reads_the_usual_boolean_spellings(spelling, value):
    """Hydra hands ``yes`` and ``on`` over as strings, ``1`` as a number: pydantic reads them all."""
    assert validate(*resolve(compose("config", overrides=[f"force={spelling}"]))).force is value


@pytest.mark.parametrize("spelling", ["abc", "2", "null", "'true '", "[true]"])
def test_force_refuses_anything_else(spelling):
    assert refusal(f"force={spelling}").startswith("force must be true or false, got ")


@pytest.mark.parametrize("args, expected", [
    (["+sede=3"], "unknown key(s) sede"),
    (["treatment=ssri", "+treatment.epochz=50"], "treatment.epochz is unknown"),
    (["+paths.stor=elsewhere"], "paths has unknown key(s) stor"),
    (["force=abc"], "force must be true or false, got 'abc'"),
    (["-m", "seed=0,1", "force=no,abc"], "force must be true or false, got 'abc' (job seed=0 force=abc "),
])
def test_the_cli_refuses_an_unknown_key_or_a_bad_boolean_in_one_line(tmp_path, args, expected):
    proc = cli(*args, *places(tmp_path / "out"), cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("pruning-lab: error: "), proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []
