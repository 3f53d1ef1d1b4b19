"""Treatments derived from others, and a folder of one's own: a derived treatment is its parent
with its own edits (a change to the parent carries over), its parent's knobs it no longer uses
are no knobs (typed, they are refused), and a folder outside the checkout serves the command
line and Python alike; what cannot run is refused in one line before anything runs."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

import pruning_lab
from pruning_lab import api
from pruning_lab.config import ConfigError, resolve, validate

from .conftest import TINY
from .helpers_cli import assert_refused_before_any_job, cli, environment, places

CONTROLS = {  # each shipped control: its parent and the knob values it sets
    "ssri_fast": ("ssri", ["treatment.epochs=15", "treatment.lr=5e-4", "treatment.maintenance_epochs=5"]),
    "neurosteroid_relu": ("neurosteroid", ["treatment.activation=relu"]),
    "ketamine_fast": ("ketamine", ["treatment.epochs=24", "treatment.lr=0.0017789995294855167",
                                   "treatment.init_std=0.05202725095919691"]),
    "random_regrowth": ("ketamine", ["treatment.score=random"]),
}


def checked(*overrides: str):
    return validate(*resolve(api.compose(list(overrides))), typed=list(overrides))


def unnamed(job):
    """A job's treatment without its name and label: what it computes."""
    return dataclasses.replace(job, treatment=dataclasses.replace(job.treatment, name="-", label="-"))


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_a_shipped_control_is_its_parent_at_its_own_knobs(name):
    parent, knobs = CONTROLS[name]
    assert unnamed(checked(f"treatment={name}").job) == unnamed(checked(f"treatment={parent}", *knobs).job)


def test_consolidate_only_is_ketamine_without_its_regrow_phase():
    parent, child = checked("treatment=ketamine"), checked("treatment=consolidate_only")
    assert [p.kind for p in parent.job.treatment.phases] == ["regrow", "train"]
    assert child.job.treatment.phases == parent.job.treatment.phases[1:]
    assert child.job.treatment.maintenance == parent.job.treatment.maintenance
    # the regrow phase's knobs are no knobs of it; the others feed the phases that are left
    assert sorted(child.knobs) == ["treatment.epochs", "treatment.lr", "treatment.maintenance_epochs"]
    assert child.knobs["treatment.epochs"]["phase_keys"] == ["treatment.phases.0.epochs"]
    # the parent's knob, typed, reaches the child
    assert checked("treatment=consolidate_only", "treatment.epochs=7").job.treatment.phases[0].epochs == 7


@pytest.mark.parametrize("overrides, words", [
    (["treatment=consolidate_only", "treatment.fraction=0.3"],
     "treatment.fraction is unknown: no phase of treatment 'consolidate_only' refers to ${treatment.fraction}; "
     "its knobs: epochs, lr, maintenance_epochs"),
    (["treatment=ssri", "+treatment.remove_phases=[regrow]"],
     "treatment.remove_phases removes 'regrow', but treatment 'ssri' has no regrow phase; its phases: train"),
    (["treatment=ketamine", "+treatment.remove_maintenance=[3]"],
     "treatment.remove_maintenance removes 3, but treatment 'ketamine' has no maintenance phase at position 3"),
    (["treatment=ssri", "+treatment.epochz=5"], "did you mean treatment.epochs?"),
    (["treatment.fractoin=0.3"], "treatment.fractoin is not a config key; did you mean treatment.fraction?"),
])
def test_what_cannot_run_is_refused_naming_the_key(overrides, words):
    with pytest.raises(ConfigError) as e:
        pruning_lab.job(overrides)
    assert words in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_removing_every_phase_of_a_kind_or_one_by_position():
    both = checked("treatment=neurosteroid_bridge_ssri", "+treatment.remove_phases=[modulate]").job.treatment
    assert [p.kind for p in both.phases] == ["train", "train"]
    first = checked("treatment=neurosteroid_bridge_ssri", "+treatment.remove_phases=[0,1]")
    assert [p.kind for p in first.job.treatment.phases] == ["modulate", "train"]
    # the bridge's knobs went with its phases
    assert "treatment.damping" not in first.knobs and "treatment.bridge_epochs" not in first.knobs


def folder(root, **files: str):
    """A config folder of one's own: ``treatment__mine="..."`` is treatment/mine.yaml."""
    for name, text in files.items():
        path = root / (name.replace("__", "/") + ".yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


MINE = """\
    # the ketamine-like course with the mask fixed, longer
    defaults:
      - ketamine
      - _self_
    name: mine
    label: Mine
    remove_phases: [regrow]
    epochs: 2
    """


def test_a_folder_of_ones_own_serves_python_from_the_working_directory_or_the_variable(tmp_path, monkeypatch):
    folder(tmp_path / "work" / "conf", treatment__mine=MINE)
    monkeypatch.chdir(tmp_path / "work")
    job = pruning_lab.job(["treatment=mine"])
    assert [p.kind for p in job.treatment.phases] == ["train"] and job.treatment.phases[0].epochs == 2
    # elsewhere, the variable names the folder; the parent it extends is the shipped one, edits and all
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRUNING_LAB_CONF", str(tmp_path / "work" / "conf"))
    assert pruning_lab.job(["treatment=mine", "treatment.lr=1e-3"]).treatment.phases[0].lr == 1e-3
    monkeypatch.setenv("PRUNING_LAB_CONF", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=f"^PRUNING_LAB_CONF={tmp_path / 'nowhere'}: no such folder$"):
        pruning_lab.job([])


def test_a_derived_control_runs_against_its_parent_from_a_folder_outside_the_checkout(tmp_path, monkeypatch):
    """From Python: a sweep of one's own control and its parent, and the report's comparison with the parent."""
    folder(tmp_path / "conf", treatment__mine=MINE)
    monkeypatch.chdir(tmp_path)
    frame = pruning_lab.sweep({"treatment": ["ketamine", "mine"], "seed": [0, 1]}, overrides=TINY,
                              store=tmp_path / "store", sweep_dir=tmp_path / "sweep", n_jobs=1)
    assert sorted(frame["treatment"].unique()) == ["ketamine", "mine"]
    # the regrow phase is gone: the control stays as sparse as the pruned network, its parent does not
    sparsity = frame[frame["metric"] == "sparsity"].pivot_table(index="treatment", columns="section", values="value")
    assert sparsity.loc["mine", "treated"] == sparsity.loc["mine", "untreated"] > 90
    assert sparsity.loc["ketamine", "treated"] < 60
    rep = pruning_lab.report(frame, control="ketamine", figures=False)
    assert set(rep.frames["control"]["arm"]) == {"mine"} and "Against the control: Ketamine-like" in rep.markdown()


@pytest.mark.e2e
def test_the_command_line_reads_the_working_directorys_folder(tmp_path):
    folder(tmp_path / "conf", treatment__mine=MINE)
    done = cli("treatment=mine", *TINY, *places(tmp_path / "out"), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"arm": "mine"' in next((tmp_path / "out" / "run").glob("result.json")).read_text()


@pytest.mark.parametrize("files, expected", [
    ({"treatment__ssri": "name: ssri\n"}, "treatment/ssri.yaml shadows the shipped treatment 'ssri' (conf/treatment/ssri.yaml)"),
    ({"config": "seed: 1\n"}, "config.yaml shadows a shipped file (conf/config.yaml)"),
    ({"treatment__a": "defaults: [b, _self_]\nname: a\n", "treatment__b": "defaults: [a, _self_]\nname: b\n"},
     "treatment/b.yaml: a cycle of extensions: a -> b -> a"),
    ({"treatment__lacks": "defaults: [ssri, _self_]\nname: lacks\nremove_phases: [regrow]\n"},
     "treatment.remove_phases removes 'regrow', but treatment 'lacks' has no regrow phase"),
])
def test_the_command_line_refuses_a_folder_that_cannot_run_in_one_line(tmp_path, files, expected):
    conf = folder(tmp_path / "mine", **files)
    work = tmp_path / "work"
    work.mkdir()
    treatment = [f"treatment={n.split('__')[1]}" for n in files if n.startswith("treatment__")][:1]
    done = cli(*treatment, *places(work / "out"), cwd=work, env={**environment(), "PRUNING_LAB_CONF": str(conf)},
               timeout=120)
    assert_refused_before_any_job(done, expected, work)


def test_a_folder_that_does_not_exist_is_refused(tmp_path):
    done = cli(*places(tmp_path / "out"), cwd=tmp_path,
               env={**environment(), "PRUNING_LAB_CONF": str(tmp_path / "missing")}, timeout=120)
    assert_refused_before_any_job(done, f"PRUNING_LAB_CONF={tmp_path / 'missing'}: no such folder", tmp_path)
