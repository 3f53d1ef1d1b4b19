"""The Python API: the CLI's config, numbers, store and refusals, from a notebook or a script."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import pruning_lab
from pruning_lab.store import ResultStore

from .conftest import ROOT, TINY
from .helpers_cli import cli, places


def test_importing_the_package_loads_neither_torch_nor_pandas(tmp_path):
    code = ("import sys, pruning_lab; pruning_lab.simulate; pruning_lab.ConfigError; "
            "print(sorted(m for m in ('torch', 'pandas', 'hydra') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.e2e
def test_simulate_gives_the_cli_numbers_and_shares_its_store(tmp_path, monkeypatch):
    job = ["treatment=ssri", "seed=2", *TINY]
    proc = cli(*job, *places(tmp_path / "cli"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    by_cli = json.loads((tmp_path / "cli" / "run" / "result.json").read_text())

    monkeypatch.chdir(tmp_path)  # another cwd than the checkout: conf/ is found through the package
    fresh = pruning_lab.simulate(job)
    assert fresh["config_hash"] == by_cli["config_hash"]
    assert fresh["metrics"] == by_cli["metrics"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli"]  # no store given: nothing written

    store = tmp_path / "cli" / "store"
    reused = pruning_lab.simulate([*job, "force=no"], store=store)  # YAML's "no" is false
    assert reused["wall_seconds"] == by_cli["wall_seconds"]  # read back, not recomputed
    forced = pruning_lab.simulate([*job, "force=yes"], store=store)
    assert forced["wall_seconds"] != by_cli["wall_seconds"] and forced["metrics"] == by_cli["metrics"]
    assert ResultStore(store).check(by_cli["config_hash"])["wall_seconds"] == forced["wall_seconds"]


BAD = [
    ["pathology.sparsity=1.2"],
    ["treatment=ssri", "+treatment.epochz=50"],
    ["treatment=sertraline"],
    ["seed=range(0,3"],
    ["force=abc"],
]


@pytest.mark.parametrize("overrides", BAD, ids=[" ".join(b) for b in BAD])
def test_a_bad_override_raises_the_cli_line_and_writes_nothing(tmp_path, monkeypatch, overrides):
    proc = cli(*overrides, *places(tmp_path / "cli"), cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pruning_lab.ConfigError) as e:
        pruning_lab.simulate(overrides, store=tmp_path / "store")
    assert proc.stderr == f"pruning-lab: error: {e.value}\n"
    assert list(tmp_path.iterdir()) == []


def test_simulate_composes_its_own_config_beside_the_callers_hydra_state():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf" / "treatment"), version_base="1.3"):
        with pytest.raises(pruning_lab.ConfigError, match="sparsity"):
            pruning_lab.simulate(["pathology.sparsity=2"])
        assert compose("ssri").name == "ssri"  # the caller's search path, unchanged


def test_a_store_that_cannot_be_one_is_refused_as_on_the_command_line(tmp_path):
    (tmp_path / "file").write_text("")
    for store, words in ((tmp_path / "file", "is a file, not a directory"), ("", "must name a directory")):
        with pytest.raises(pruning_lab.ConfigError, match=words):
            pruning_lab.simulate(TINY, store=store)


def test_overrides_given_as_one_string_are_a_type_error():
    with pytest.raises(TypeError, match="list of strings"):
        pruning_lab.simulate("treatment=ssri")


API_PAGE = ROOT / "docs" / "python-api.md"


def python_api_examples() -> list[str]:
    """The python code blocks of the documentation's Python API page."""
    return re.findall(r"^```python\n(.*?)^```", API_PAGE.read_text(), re.S | re.M)


@pytest.mark.e2e
def test_the_documented_python_examples_run(tmp_path, monkeypatch):
    blocks = python_api_examples()
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:  # one namespace: later blocks use what earlier ones defined, as in a session
        exec(compile(block, str(API_PAGE.relative_to(ROOT)), "exec"), namespace)
    out = tmp_path / "outputs" / "api-example"
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["api-example"]  # nothing in a shared store
    # the sweep's 6 jobs and the single job before it, one result each
    assert len(list((out / "store" / "results").glob("*.json"))) == 7
    frame = namespace["frame"]
    assert sorted(frame.drop_duplicates("config_hash")["treatment"]) == ["ketamine", "ketamine", "neurosteroid",
                                                                         "neurosteroid", "ssri", "ssri"]
    report = namespace["report"]
    assert report.title == "Study report: Ketamine-like, SSRI-like, Neurosteroid-like"
    assert (out / "report" / "report.html").is_file() and (out / "report" / "figures" / "profile.png").is_file()


def test_a_sweep_from_python_leaves_ctrl_c_to_the_caller(tmp_path):
    """A notebook's kernel interrupt is SIGINT: after a sweep it must still raise KeyboardInterrupt."""
    import signal

    import pruning_lab

    before = signal.getsignal(signal.SIGINT)
    pruning_lab.sweep({"seed": [0]}, overrides=TINY, store=tmp_path / "store", sweep_dir=tmp_path / "sweep", n_jobs=1)
    assert signal.getsignal(signal.SIGINT) is before
