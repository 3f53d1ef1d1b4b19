"""Onset: the time course during treatment, its last point, its epochs and the response epoch."""

from __future__ import annotations

import pytest

from pruning_lab.sim.data import load
from pruning_lab.sim.evaluation import combined
from pruning_lab.sim.network import Network
from pruning_lab.sim.course import Course, response
from pruning_lab.sim.protocol import pathology, run, train_healthy

from .conftest import TINY, compose_job

# TINY, with each treatment's own course length (set below, or the shipped one)
BASE = [o for o in TINY if not o.startswith("treatment.epochs=")]

# short courses keep each job to a second or two; the bridge keeps its real shape (10 + 100 epochs)
SHORT = {"ketamine": ["treatment.epochs=7"], "ssri": ["treatment.epochs=12"], "neurosteroid": ["treatment.epochs=6"],
         "neurosteroid_bridge_ssri": ["longitudinal.cycles=1", "treatment.maintenance_epochs=2"]}


def tiny(treatment: str, *overrides: str):
    return compose_job(*BASE, f"treatment={treatment}", *SHORT.get(treatment, []), *overrides)


@pytest.fixture(scope="module")
def results():
    """One run per (treatment, onset.every), shared by the tests below."""
    cache: dict = {}

    def get(treatment: str, every: int) -> dict:
        if (treatment, every) not in cache:
            cache[treatment, every] = run(tiny(treatment, f"onset.every={every}"))
        return cache[treatment, every]
    return get


@pytest.mark.parametrize("treatment", ["ketamine", "ssri", "neurosteroid", "neurosteroid_bridge_ssri", "none"])
def test_the_last_point_is_the_treated_evaluation_itself(results, treatment):
    m = results(treatment, 5)["metrics"]
    curve, treated = m["onset"], m["treated"]
    assert curve["combined"][-1] == treated["combined"]
    assert curve["standard"][-1] == treated["standard"]
    assert curve["extreme"][-1] == treated["profile"]["2.5"]  # the same common random numbers
    assert len({len(v) for v in curve.values()}) == 1


@pytest.mark.parametrize("treatment, every, epochs", [
    ("ketamine", 5, [0, 5, 7]),  # the last training epoch is always scored
    ("ssri", 4, [0, 4, 8, 12]),  # ... once
    ("neurosteroid", 10, [0, 6]),
    ("neurosteroid_bridge_ssri", 10, list(range(0, 111, 10))),  # 10 + 100 epochs, one curve
    ("neurosteroid_bridge_ssri", 25, [0, 25, 50, 75, 100, 110]),
    ("none", 5, [0]),
])
def test_epochs_are_cumulative_over_the_training_phases(results, treatment, every, epochs):
    assert results(treatment, every)["metrics"]["onset"]["epoch"] == epochs


def test_epoch_0_is_scored_after_the_phases_before_training():
    # regrowth and modulation come before epoch 0: its point is not the untreated network
    # (a baseline trained well enough that they change its accuracy)
    trained = ["baseline.epochs=4", "model.hidden=[48,32]", "onset.every=100", "longitudinal.cycles=0"]
    for treatment in ("ketamine", "neurosteroid"):
        m = run(tiny(treatment, *trained))["metrics"]
        first = [m["onset"][k][0] for k in ("combined", "standard", "extreme")]
        assert first != [m["untreated"]["combined"], m["untreated"]["standard"], m["untreated"]["profile"]["2.5"]]
    # with modulation on: the pruned baseline, damped and through tanh, scored as evaluate does
    job = tiny("neurosteroid", *trained)
    pruned = pathology(job, train_healthy(job, load(job.data)))
    on_drug = Network(pruned.weights, pruned.biases, pruned.masks, damping=0.7, activation="tanh")
    first = run(job)["metrics"]["onset"]["combined"][0]
    assert first == combined(on_drug, load(job.data), job.stress, job.seed)


def test_a_modulate_phase_between_training_phases_applies_at_its_cumulative_epoch():
    # the bridge withdraws the drug after its 10 epochs: the point at epoch 10 is the withdrawn
    # network, the treated network of the same regimen without its SSRI-like epochs
    bridge_only = run(tiny("neurosteroid_bridge_ssri", "treatment.epochs=0", "onset.every=5", "longitudinal.cycles=0"))["metrics"]
    assert bridge_only["onset"]["epoch"] == [0, 5, 10] and bridge_only["off_drug"] is None
    full = run(tiny("neurosteroid_bridge_ssri", "treatment.epochs=3", "onset.every=5", "longitudinal.cycles=0"))["metrics"]
    assert full["onset"]["epoch"] == [0, 5, 10, 13]
    assert full["onset"]["combined"][2] == bridge_only["treated"]["combined"]
    assert full["onset"]["extreme"][2] == bridge_only["treated"]["profile"]["2.5"]


@pytest.mark.parametrize("treatment", ["ketamine", "neurosteroid_bridge_ssri"])
def test_onset_on_or_off_changes_no_training_number(results, treatment):
    on, off = results(treatment, 1)["metrics"], results(treatment, 0)["metrics"]  # every epoch: the most hooks
    assert len(on["onset"]["epoch"]) > 5
    for key in ("healthy", "untreated", "treated", "off_drug", "relapse", "longitudinal"):
        assert on[key] == off[key], key


def test_every_0_turns_the_course_off(results):
    m = results("ssri", 0)["metrics"]
    assert m["onset"] is None and m["response"] is None


def test_the_response_epoch_is_the_first_point_at_or_above_the_threshold():
    curve = {"epoch": [0, 5, 10, 15, 20], "combined": [50.0, 79.75, 80.0, 79.0, 90.0]}
    assert response(curve, 80.0) == {"threshold": 80.0, "epoch": 10}  # exactly 80 reaches 80
    assert response(curve, 80.25)["epoch"] == 20  # the dip at 15 does not undo a later response
    assert response(curve, 90.5) == {"threshold": 90.5, "epoch": None}  # never responds
    assert response(curve, 0.0)["epoch"] == 0


def test_a_job_records_its_response_from_its_own_curve(results):
    m = results("ketamine", 5)["metrics"]
    for threshold in (0.0, m["onset"]["combined"][-1], 100.0):
        job = tiny("ketamine", "onset.every=5", f"onset.response={threshold}")
        expected = response(m["onset"], threshold)["epoch"]
        assert run(job)["metrics"]["response"] == {"threshold": threshold, "epoch": expected}
    assert response(m["onset"], 0.0)["epoch"] == 0


def test_course_counts_every_epoch_it_is_shown():
    events = []
    course = Course(3, lambda: events.append("score") or {"combined": 1.0, "standard": 2.0, "extreme": 3.0})
    for _ in range(7):
        course.before_epoch(lambda: events.append("sync"))
    curve = course.finish()
    assert curve["epoch"] == [0, 3, 6, 7]
    # the network is brought up to date before each score during training, and only then
    assert events == ["sync", "score"] * 3 + ["score"]
    with pytest.raises(ValueError):
        Course(0, lambda: {})


def test_the_response_threshold_defaults_to_the_relapse_threshold():
    assert compose_job().onset.response == 80.0
    assert compose_job("longitudinal=none").onset.response == 80.0
    assert compose_job("longitudinal.relapse_threshold=70").onset.response == 70.0
    assert compose_job("onset.response=90").onset.response == 90.0
    assert compose_job().onset.every == 5
