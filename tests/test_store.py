"""The store: resume by content, integrity of every file, safe loading, concurrent sweeps."""

from __future__ import annotations

import io
import json
import logging
import pickle
import re
import subprocess
from pathlib import Path

import pytest
import torch

from pruning_lab import store as store_mod
from pruning_lab.config import content_hash, job_hash
from pruning_lab.config import job as job_mod
from pruning_lab.sim.protocol import baseline_config
from pruning_lab.store import BaselineCache, Corrupt, ReadOnlyStore, ResultStore, Store, atomic_write, dump_json, sha256

from .conftest import ROOT, TINY, tiny_job
from .helpers_cli import Holds, command, leftovers, statuses, summary, valid_results, wait_for


@pytest.fixture(scope="module")
def job():
    return tiny_job("treatment=ketamine")


def execute(job, root, force=False):
    return Store(root).result_of(job, force=force)


@pytest.fixture()
def stored(job, tmp_path):
    """A store holding ``job``'s result and baseline, and that result."""
    result, reused = execute(job, tmp_path)
    assert not reused
    return tmp_path, result


def metrics(r: dict) -> dict:
    return r["metrics"]


# -- resume by content ------------------------------------------------------------------------


def test_a_stored_result_is_reused_and_force_recomputes_it(job, stored):
    store, first = stored
    again, reused = execute(job, store)
    assert reused and again["wall_seconds"] == first["wall_seconds"]  # the very same record
    forced, reused = execute(job, store, force=True)
    assert not reused and forced["wall_seconds"] != first["wall_seconds"]
    assert metrics(forced) == metrics(first)
    assert ResultStore(store).check(job.hash)["wall_seconds"] == forced["wall_seconds"]


def test_a_changed_result_relevant_value_is_not_reused(job, stored):
    store, first = stored
    other = tiny_job("treatment=ketamine", "treatment.lr=1e-3")
    assert other.hash != job.hash
    result, reused = execute(other, store)
    assert not reused and result["config"]["treatment"]["phases"][1]["lr"] == 1e-3
    # values that do not change the result do not change the hash either
    assert tiny_job("treatment=ketamine", "force=true", "paths.store=/elsewhere").hash == job.hash


# one changed value in every section the job reads, each of which changes its result
RELEVANT = ["seed=1", "data.seed=3", "data.spread=0.7", "data.train_size=400", "data.batch_size=64",
            "data.centres=[[-3,-3],[3,3],[-3,3],[3,-2]]", "model.hidden=[32,16]", "baseline.epochs=2",
            "baseline.lr=0.002", "pathology.sparsity=0.9", "pathology.scope=global", "pathology.relapse_fraction=0.3",
            "pathology.relapse_cap=0.98", "treatment=random_regrowth", "treatment.fraction=0.4",
            "treatment.init_std=0.05", "treatment.score_batches=10", "treatment.maintenance_epochs=4",
            "stress.input_sigma=0.9", "stress.internal_sigma=0.4", "stress.profile=[0,2.5]",
            "longitudinal.cycles=2", "longitudinal.prune_fraction=0.2", "longitudinal.relapse_threshold=70",
            "onset.every=2", "onset.response=70", "engine=dense", "engine_sparse_from=0.5"]


@pytest.mark.parametrize("override", RELEVANT)
def test_every_result_relevant_value_changes_the_hash(job, override):
    changed = tiny_job("treatment=ketamine", override)
    assert changed.hash != job.hash
    # the store recognises a result by this hash, recomputed from the config as the file holds it
    assert job_hash(json.loads(json.dumps(changed.to_dict()))) == changed.hash


def test_another_noise_stream_changes_the_hash(job, monkeypatch):
    # results drawn with another definition of the internal noise are recomputed, not reused
    before = job.hash
    monkeypatch.setattr(job_mod, "NOISE_STREAM", "another/1")
    assert job.hash != before


# -- integrity: truncated and edited files are detected, reported, rebuilt -----------------------


def _truncate(path: Path) -> None:
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])


def _edit_metric(path: Path) -> None:
    text = path.read_text()
    edited = re.sub(r'"combined": (\d+\.\d+)', lambda m: f'"combined": {float(m.group(1)) + 1.0}', text, count=1)
    assert edited != text
    path.write_text(edited)


@pytest.mark.parametrize("damage, why", [(_truncate, "not valid JSON"), (_edit_metric, "checksum mismatch")])
def test_a_damaged_result_is_reported_and_recomputed(job, stored, damage, why, caplog):
    store, first = stored
    path = ResultStore(store).path(job.hash)
    damage(path)
    with pytest.raises(Corrupt, match=why):
        ResultStore(store).check(job.hash)
    with caplog.at_level(logging.WARNING, logger="pruning_lab.store"):
        through = Store(store)
        result, reused = through.result_of(job)
    assert not reused and metrics(result) == metrics(first)
    assert any(str(path) in r.getMessage() and why in r.getMessage() for r in caplog.records)
    assert [line for line in through.repaired if why in line] != []
    assert ResultStore(store).check(job.hash)["wall_seconds"] == result["wall_seconds"]  # whole again


def test_a_result_filed_under_another_hash_is_not_used(job, stored):
    store, _ = stored
    other = tiny_job("treatment=ketamine", "seed=1")
    results = ResultStore(store)
    results.path(other.hash).write_bytes(results.path(job.hash).read_bytes())  # valid checksum, wrong job
    with pytest.raises(Corrupt, match="another config"):
        results.check(other.hash)
    result, reused = execute(other, store)
    assert not reused and result["seed"] == 1


def _baseline(job, store):
    key = content_hash(baseline_config(job))
    return BaselineCache(store), key


@pytest.mark.parametrize("target, damage, why", [
    ("pt", _truncate, "tensor file checksum mismatch"),
    ("pt", lambda p: p.write_bytes(p.read_bytes()[:100] + b"\0" + p.read_bytes()[101:]), "tensor file checksum"),
    ("json", _truncate, "not valid JSON"),
    ("json", lambda p: p.write_text(p.read_text().replace('"sha256": "', '"sha256": "0')), "checksum mismatch"),
    # another entry's metadata, whole and checksummed, in this entry's place
    ("json", lambda p: p.write_bytes(dump_json({**json.loads(p.read_text()), "key": "0" * 16})),
     "metadata names another entry"),
])
def test_a_damaged_baseline_is_reported_and_rebuilt(job, stored, target, damage, why):
    store, first = stored
    cache, key = _baseline(job, store)
    pt, meta, _ = cache.paths(key)
    good = pt.read_bytes()
    damage(pt if target == "pt" else meta)
    with pytest.raises(Corrupt, match=why):
        cache.check(key)
    through = Store(store)
    result, reused = through.result_of(job, force=True)
    assert not reused and not result["baseline"]["cache_hit"]  # rebuilt, not read
    assert metrics(result) == metrics(first)
    assert [line for line in through.repaired if line.startswith(f"{pt if target == 'pt' else meta}: {why}")]
    assert pt.read_bytes() == good and cache.check(key) is not None


def test_a_missing_tensor_file_is_corrupt_but_missing_metadata_is_just_absent(job, stored):
    store, _ = stored
    cache, key = _baseline(job, store)
    pt, meta, _ = cache.paths(key)
    pt.unlink()
    with pytest.raises(Corrupt, match="tensor file missing"):
        cache.check(key)
    meta.unlink()
    assert cache.check(key) is None  # never committed: the metadata is written last


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(MARKER),))


MARKER = "/nonexistent"


def test_a_cache_file_that_would_run_code_is_refused_not_run(job, stored, tmp_path):
    """Even with a forged checksum, a pickle that calls a function is never executed."""
    global MARKER
    store, _ = stored
    MARKER = str(tmp_path / "pwned")
    cache, key = _baseline(job, store)
    pt, meta, _ = cache.paths(key)
    buf = io.BytesIO()
    torch.save({"healthy.w0": _Payload()}, buf, pickle_module=pickle)
    evil = buf.getvalue()
    pt.write_bytes(evil)
    about = json.loads(meta.read_text())
    about["sha256"] = sha256(evil)
    meta.write_bytes(dump_json(about))
    with pytest.raises(Corrupt, match="unreadable by torch"):
        cache.check(key)
    assert not Path(MARKER).exists()
    state, hit = cache.get_or_create(key, {}, lambda: {"w": torch.zeros(1)})
    assert not hit and not Path(MARKER).exists()


def test_every_torch_load_in_the_library_is_weights_only():
    calls = []
    for path in (ROOT / "pruning_lab").glob("*.py"):
        text = path.read_text()
        for m in re.finditer(r"torch\.load\(", text):
            depth, i = 1, m.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            calls.append((path.name, text[m.start():i]))
    assert calls, "no torch.load found: the test would prove nothing"
    for name, call in calls:
        assert "weights_only=True" in call, f"{name}: {call}"


def test_a_failed_write_leaves_neither_a_file_nor_a_temporary(tmp_path):
    target = tmp_path / "r.json"
    target.mkdir()
    (target / "x").write_text("blocks the rename")
    with pytest.raises(OSError):
        atomic_write(target, b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"] and target.is_dir()


# -- concurrency: two sweeps at once over overlapping jobs -------------------------------------


@pytest.mark.e2e
def test_two_sweeps_at_once_store_one_valid_result_per_job(tmp_path):
    """Sweeps (ssri, ketamine) and (ssri, neurosteroid) of seed 0 share a store and start together.

    Both begin with the same job. Whichever takes its lock first is held there, about to compute
    it, until the other is seen waiting for that lock; the basic launcher keeps each sweep to one
    process, so the two sweeps are the only two processes.
    """
    store = tmp_path / "store"
    holds = Holds(tmp_path / "holds", "job-0")
    procs = {}
    for name, treatments in (("a", "ssri,ketamine"), ("b", "ssri,neurosteroid")):
        args = ["-m", f"treatment={treatments}", *TINY, f"paths.store={store}",
                f"hydra.sweep.dir={tmp_path / name}", "hydra/launcher=basic"]
        procs[name] = subprocess.Popen(command(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=holds.env)
    try:
        computing = holds.wait("job-0")
        (first,) = [n for n, p in procs.items() if p.pid == computing]
        (second,) = set(procs) - {first}
        wait_for(lambda: "waiting for another process that is building" in log_of(tmp_path / second, 0),
                 what=f"sweep {second} waiting for the job sweep {first} computes")
        holds.release("job-0")
        outs = {n: p.communicate(timeout=300) for n, p in procs.items()}
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
    for name, (out, err) in outs.items():
        assert procs[name].returncode == 0, err[-3000:]
    results = valid_results(store)  # raises on any damaged file
    assert sorted(r["treatment"] for r in results.values()) == ["ketamine", "neurosteroid", "ssri"]
    assert not leftovers(store)
    # the shared job was computed once: one sweep ran it, the other waited and reused it
    assert summary(outs[first][0]) == "2 jobs: ran 2, reused 0"
    assert summary(outs[second][0]) == "2 jobs: ran 1, reused 1"
    assert len(list((store / "baselines").glob("*.pt"))) == 1  # one seed, one baseline


def log_of(sweep_dir: Path, num: int) -> str:
    """Job ``num``'s log in ``sweep_dir``, so far."""
    st = statuses(sweep_dir).get(num)
    return (st["dir"] / "run.log").read_text() if st and (st["dir"] / "run.log").exists() else ""


def test_temporaries_of_writes_cut_short_are_cleared_by_the_next_builder(job, stored):
    store, _ = stored
    cache, key = _baseline(job, store)
    pt, meta, _ = cache.paths(key)
    result_path = ResultStore(store).path(job.hash)
    junk = [pt.parent / f".{pt.name}.k1ll3d.tmp", result_path.parent / f".{result_path.name}.k1ll3d.tmp"]
    for j in junk:
        j.write_bytes(b"half a fi")
    meta.unlink()  # the baseline was never committed: it is built again
    execute(job, store, force=True)
    assert not leftovers(store)


def test_a_read_only_store_serves_its_results_without_a_lock_and_refuses_to_compute(job, stored, monkeypatch):
    """An archive or a shared results directory: reads only (os.access says so; root ignores modes)."""
    import os
    import shutil

    store, result = stored
    shutil.rmtree(store / "locks", ignore_errors=True)
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: not mode & os.W_OK)
    assert not store_mod.writable(store) and store_mod.writable(store / "not-yet")
    again, reused = execute(job, store)
    assert reused and again == result
    assert not (store / "locks").exists()  # read without taking a lock
    other = tiny_job("seed=7")
    with pytest.raises(ReadOnlyStore, match=f"the store {store} is read-only and does not hold"):
        execute(other, store)
    assert not (store / "locks").exists() and not ResultStore(store).path(other.hash).exists()


@pytest.mark.e2e
def test_temporaries_a_kill_left_in_a_job_dir_are_cleared_by_the_rerun(tmp_path):
    """A kill while a job's result was copied into its directory (when it was settled from the store)."""
    from .helpers_cli import TRIVIAL, cli, places

    args = ["-m", *TRIVIAL, "seed=0,1", *places(tmp_path), "hydra.launcher.n_jobs=1"]
    assert cli(*args).returncode == 0
    job_dirs = sorted((tmp_path / "sweep").glob("*_s*"))
    junk = [d / name for d in job_dirs for name in (".result.json.k1ll3d.tmp", ".job.status.k1ll3d.tmp")]
    for j in junk:
        j.write_bytes(b"")
    again = cli(*args)
    assert again.returncode == 0 and summary(again.stdout) == "2 jobs: ran 0, reused 2"
    assert not [j for j in junk if j.exists()]
