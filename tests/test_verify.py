"""make verify's comparison: every per-seed value, exactly, against the reference it wrote."""

from __future__ import annotations

import json

from pruning_lab import verify


def _result(path, treatment, seed, combined, cycles):
    metrics = {"treated": {"combined": combined, "profile": {"2.5": 0.1 + 0.2}},
               "longitudinal": {"combined": cycles, "relapse_cycle": None}}
    path.write_text(json.dumps({"config_hash": f"{treatment}{seed}", "treatment": treatment, "seed": seed,
                                "metrics": metrics}))


def test_verify_finds_every_difference_and_nothing_else(tmp_path, capsys):
    results, reference = tmp_path / "results", tmp_path / "expected.csv"
    results.mkdir()
    _result(results / "a.json", "ssri", 0, 90.0, [90.0, 80.5])
    _result(results / "b.json", "ssri", 1, 91.0, [91.0, 79.5])
    args = ["--results", str(results), "--expected", str(reference)]
    assert verify.main([*args, "--write"]) == 0
    assert verify.main(args) == 0
    assert "compared 10 values of 2 jobs with expected.csv: 0 difference(s)" in capsys.readouterr().out

    # the last bit of one value, and a cycle gone
    _result(results / "b.json", "ssri", 1, 91.00000000000001, [91.0])
    assert verify.main(args) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == ["ssri seed 1 longitudinal.combined.1: expected 79.5, got (none)",
                        "ssri seed 1 treated.combined: expected 91.0, got 91.00000000000001"]
    assert out[-1].endswith("2 difference(s)")


def test_two_results_for_one_job_are_refused(tmp_path, capsys):
    _result(tmp_path / "a.json", "ssri", 0, 90.0, [90.0])
    (tmp_path / "b.json").write_text(json.dumps({**json.loads((tmp_path / "a.json").read_text()), "config_hash": "other"}))
    try:
        verify.rows(tmp_path)
    except SystemExit as e:
        assert e.code == 2
    else:
        raise AssertionError("two results for ssri seed 0 were not refused")
    assert "two results for ssri seed 0" in capsys.readouterr().err


def test_the_extended_reference_holds_forty_seeds_and_its_first_ten_are_paper_2s():
    """experiments/paper2_extended/expected.csv extends paper 2's reference: a run from another
    protocol or numerics, or a truncated one, would not reproduce paper 2's seeds value for value."""
    extended = verify.read(verify.ROOT / "experiments" / "paper2_extended" / "expected.csv")
    paper2 = verify.read(verify.EXPECTED)
    assert {s for _, s, _ in extended} == {str(s) for s in range(40)}
    assert {t for t, _, _ in extended} == {"ketamine", "ssri", "neurosteroid"}
    assert {k: v for k, v in extended.items() if int(k[1]) < 10} == paper2


def test_the_replay_has_a_reference_of_its_own(tmp_path, capsys, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()
    _result(results / "a.json", "ssri", 0, 90.0, [90.0, 80.5])
    monkeypatch.setattr(verify, "REPLAY", tmp_path / "replay.csv")
    monkeypatch.setattr(verify, "EXPECTED", tmp_path / "expected.csv")
    assert verify.main(["--replay", "--results", str(results), "--write"]) == 0
    assert (tmp_path / "replay.csv").is_file() and not (tmp_path / "expected.csv").exists()
    assert verify.main(["--replay", "--results", str(results)]) == 0
    assert "with replay.csv: 0 difference(s)" in capsys.readouterr().out
    assert verify.main(["--results", str(results)]) == 2  # the default's reference is another file


def test_the_replays_thirty_seeds_extend_its_ten():
    """experiments/paper2/replay_extended.csv (the replay on seeds 0-29, for the comparison of the two
    random-stream policies) holds replay.csv's ten seeds value for value: a replay run under other
    numerics, another protocol or truncated would not."""
    extended = verify.read(verify.ROOT / "experiments" / "paper2" / "replay_extended.csv")
    ten = verify.read(verify.REPLAY)
    assert {s for _, s, _ in extended} == {str(s) for s in range(30)}
    assert {k: v for k, v in extended.items() if int(k[1]) < 10} == ten
