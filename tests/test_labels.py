"""Results describe themselves: each records its arm and its treatment's knobs with the phase keys
they feed, so it is labelled as it ran, whatever conf/ says since; a result of schema 1, which
records neither, is still its job's stored result and is read as before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pruning_lab import api
from pruning_lab.aggregate import main as aggregate
from pruning_lab.analysis import legacy
from pruning_lab.analysis.load import read_results
from pruning_lab.config import SCHEMA, resolve, validate
from pruning_lab.store import READABLE, ResultStore, Store, checked, dump_json, read_json

from .conftest import ROOT, TINY, tiny_job
from .helpers_cli import cli
from .test_aggregate import configs, ev, result, write  # noqa: F401  (configs: a fixture)

SCHEMA_1 = "pruning-lab/result/1"


def as_schema_1(r: dict, values: bool = True) -> dict:
    """A result as a writer of schema 1 wrote it: without its arm and its knobs' phase keys (their
    values only; ``values=False``: none, as before they were recorded), and with a second record of
    some library versions."""
    old = {k: v for k, v in r.items() if k not in ("arm", "knobs", "checksum")}
    old["schema"] = SCHEMA_1
    old["versions"] = {"hydra": "1.3.8", "omegaconf": "2.3.1", "pruning_lab": "0.1.0"}
    if r.get("knobs") and values:
        old["knobs"] = {k: rec["value"] for k, rec in r["knobs"].items()}
    return old


def test_a_knob_records_the_phase_keys_it_feeds():
    knobs = validate(*resolve(api.compose(["treatment=neurosteroid_bridge_ssri"]))).knobs
    assert knobs["treatment.bridge_epochs"] == {"value": 10, "phase_keys": ["treatment.phases.1.epochs"]}
    assert knobs["treatment.epochs"] == {"value": 100, "phase_keys": ["treatment.phases.3.epochs"]}
    assert knobs["treatment.lr"]["phase_keys"] == ["treatment.phases.3.lr", "treatment.maintenance.0.lr"]
    # a knob typed on the command line is recorded with the value it was given
    knobs = validate(*resolve(api.compose(["treatment=ssri", "treatment.epochs=7"]))).knobs
    assert knobs["treatment.epochs"] == {"value": 7, "phase_keys": ["treatment.phases.0.epochs"]}
    # random_regrowth is ketamine's file with its own score: its knobs come through the defaults list
    knobs = validate(*resolve(api.compose(["treatment=random_regrowth"]))).knobs
    assert knobs["treatment.score"] == {"value": "random", "phase_keys": ["treatment.phases.0.score"]}
    assert validate(*resolve(api.compose(["treatment=none"]))).knobs == {}


def test_a_computed_result_records_its_arm_knobs_and_one_set_of_versions():
    r = api.simulate([*TINY, "treatment=ssri", "longitudinal.cycles=0"])
    assert r["schema"] == SCHEMA and r["arm"] == "ssri" and r["label"] == "SSRI-like"
    assert r["knobs"]["treatment.epochs"] == {"value": 1, "phase_keys": ["treatment.phases.0.epochs"]}
    assert "versions" not in r and r["environment"]["versions"]["pruning_lab"] == "0.1.0"


def test_a_stored_result_of_schema_1_is_reused_not_computed(tmp_path, monkeypatch):
    job = tiny_job("treatment=ketamine")
    old = {"schema": SCHEMA_1, "config_hash": job.hash, "config": job.to_dict(), "seed": 0, "treatment": "ketamine"}
    ResultStore(tmp_path).save(old)
    assert SCHEMA_1 in READABLE

    def run(*_):
        raise AssertionError("a stored result was computed again")

    monkeypatch.setattr("pruning_lab.sim.protocol.run", run)
    got, reused = Store(tmp_path).result_of(job, knobs={"treatment.epochs": {"value": 1, "phase_keys": []}})
    assert reused and got["schema"] == SCHEMA_1 and "knobs" not in got
    # another schema is no result of this job: it is reported and computed again
    ResultStore(tmp_path).save({**old, "schema": "pruning-lab/result/0"})
    with pytest.raises(AssertionError, match="computed again"):
        Store(tmp_path).result_of(job)


def test_a_result_of_schema_1_is_read_and_labelled_as_before(configs, tmp_path):  # noqa: F811
    """Its knobs named by today's treatment files: ketamine's phase-1 epochs and the SSRI-like
    phase-0 epochs are both treatment.epochs, the knob each YAML writes there."""
    for e in (5, 10):
        for t in ("ketamine", "ssri"):
            def edit(c, e=e):
                for ph in c["treatment"]["phases"]:
                    if ph["kind"] == "train":
                        ph["epochs"] = e
            r = result(configs, 0, t, edit=edit, treated=ev(80.0 + e))
            write(tmp_path / "new" / f"{t}{e}.json", r)
            write(tmp_path / "old" / f"{t}{e}.json", as_schema_1(r))
    new, old = read_results(tmp_path / "new"), read_results(tmp_path / "old")
    assert not old.problems and len(old.runs) == 4
    assert old.axes == new.axes == ["treatment.epochs"]
    assert old.runs.drop(columns="path").equals(new.runs.drop(columns="path"))
    assert old.tidy.drop(columns="path").equals(new.tidy.drop(columns="path"))
    # without its treatment's file, a knob takes the phase keys of its name and value
    moved = legacy.upgrade(as_schema_1(r), conf=tmp_path / "nowhere")
    assert moved["knobs"]["treatment.epochs"] == {"value": 10, "phase_keys": ["treatment.phases.0.epochs"]}
    # a knob it recorded keeps its name, whatever today's file calls the knob of that phase key
    (tmp_path / "conf" / "treatment").mkdir(parents=True)
    (tmp_path / "conf" / "treatment" / "ssri.yaml").write_text(
        (ROOT / "conf" / "treatment" / "ssri.yaml").read_text().replace("treatment.epochs", "treatment.steps"))
    renamed = legacy.upgrade(as_schema_1(r), conf=tmp_path / "conf")["knobs"]
    assert renamed["treatment.epochs"]["phase_keys"] == ["treatment.phases.0.epochs"]
    assert "treatment.steps" not in renamed
    # one that recorded no knob takes today's file's
    bare = legacy.upgrade(as_schema_1(r, values=False), conf=tmp_path / "conf")["knobs"]
    assert bare["treatment.steps"] == {"value": 10, "phase_keys": ["treatment.phases.0.epochs"]}


def test_a_record_that_is_not_one_is_named(configs, tmp_path):  # noqa: F811
    bad = result(configs, 0)
    bad["knobs"] = {"treatment.epochs": 15}   # schema 1's values, in a result of schema 2
    write(tmp_path / "bad.json", bad)
    assert read_results(tmp_path).problems == [(str(tmp_path / "bad.json"), "malformed: missing or invalid knobs")]


@pytest.mark.e2e
def test_results_keep_their_labels_after_conf_changes(tmp_path, monkeypatch):
    """A sweep, then its SSRI-like knob renamed and relabelled in conf/: its results keep the knob
    and the label they ran with. The same results written as schema 1 before knobs were recorded
    are reused by a second sweep without computing them, and their knobs named by today's conf/,
    as they always were."""
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    args = ["-m", "--config-dir", str(conf), *TINY, "longitudinal.cycles=0", "treatment=ketamine,ssri",
            "treatment.epochs=1,2", "seed=0,1", f"paths.store={tmp_path / 'store'}"]
    first = cli(*args, f"hydra.sweep.dir={tmp_path / 'first'}")
    assert first.returncode == 0, first.stderr[-3000:]
    results = ResultStore(tmp_path / "store")
    for path in results.root.glob("*.json"):
        path.write_bytes(dump_json(as_schema_1(read_json(path), values=False)))
    again = cli(*args, f"hydra.sweep.dir={tmp_path / 'again'}")
    assert again.returncode == 0 and "8 jobs: ran 0, reused 8" in again.stdout + again.stderr, again.stderr[-3000:]
    assert {read_json(p)["schema"] for p in (tmp_path / "again").glob("*/result.json")} == {SCHEMA_1}

    ssri = conf / "treatment" / "ssri.yaml"
    ssri.write_text(ssri.read_text().replace("epochs: 100", "steps: 100").replace("treatment.epochs", "treatment.steps")
                    .replace("label: SSRI-like", "label: SSRI, renamed"))
    monkeypatch.setattr(legacy, "CONF", conf)   # where the reader of schema 1 reads today's treatment files

    def tidy(sweep: str) -> pd.DataFrame:
        out = tmp_path / f"{sweep}_out"
        assert aggregate([str(tmp_path / sweep), "--out", str(out), "--no-figures", "--quiet"]) == 0
        return pd.read_csv(out / "tidy.csv")

    ran = tidy("first")
    assert "treatment.epochs" in ran and "treatment.steps" not in ran and not [c for c in ran if ".phases." in c]
    assert set(ran.loc[ran["treatment"] == "ssri", "label"]) == {"SSRI-like"}
    efficacy = pd.read_csv(tmp_path / "first_out" / "tables" / "efficacy.csv")
    assert {"SSRI-like (epochs=1)", "SSRI-like (epochs=2)"} <= set(efficacy["row"])

    old = tidy("again")   # the SSRI-like arm's epochs named by today's ssri.yaml; its label is its own
    assert set(old.loc[old["treatment"] == "ssri", "label"]) == {"SSRI-like"}
    ssri_rows = old[old["treatment"] == "ssri"]
    assert ssri_rows["treatment.steps"].notna().all() and ssri_rows["treatment.epochs"].isna().all()
    copy = tmp_path / "again" / "0_ketamine_s0" / "result.json"
    assert checked(json.loads(copy.read_bytes()))["schema"] == SCHEMA_1


def test_the_mechanism_studys_six_arms_are_drawn_each_its_own_way():
    """Five controls beside the ketamine-like arm (experiment=mechanism) and the untreated network:
    no two share a colour and marker, so every line of its figures can be told apart."""
    from pruning_lab.analysis.measures import ARMS, EXTRA_STYLES, style

    arms = [style(a) for a in ARMS] + [style("", i) for i in range(5)]
    drawn = {(s["color"], s["marker"]) for s in arms}
    assert len(drawn) == len(arms) and len(EXTRA_STYLES) >= 5
