"""A stop signal sent to a sweep's whole process group (a closed terminal's SIGHUP, Ctrl-C,
SIGTERM), at each moment of the sweep: the terminal shows the project's lines and nothing else.

The group holds the launcher, its workers and the resource trackers loky and multiprocessing
start beside them. Each moment is made by holding the sweep there (tests/hold): its workers
starting, both jobs running, one result in and the other job running, one result stored but
not yet reported, the summary printed.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from pruning_lab.launch.cli import ENDINGS

from .helpers_cli import TRIVIAL, alive, held_sweep, statuses, stop_group, wait_for

SWEEP = ["-m", "seed=0,1", *TRIVIAL]
KEPT = "finished results are kept, run the same command to resume"
NOISE = ("Traceback", "resource_tracker", "leaked", "Warning", "Exception ignored")


def reach(moment: str, tmp_path: Path):
    """The two-job sweep, started and held at ``moment``; its holds and process."""
    points = {"workers starting": ["worker"], "jobs running": ["job-0", "job-1"], "one result in": ["job-1"],
              "one result unreported": ["stored-0", "job-1"], "summary printed": ["summary"]}[moment]
    holds, proc = held_sweep(tmp_path, SWEEP, *points)
    if moment == "workers starting":
        wait_for(lambda: len(holds.held("worker")) == 2, what="both workers held as they start")
    elif moment == "jobs running":
        wait_for(lambda: len(holds.held("job-0") + holds.held("job-1")) == 2, what="both jobs held running")
    elif moment == "one result in":
        holds.wait("job-1", proc)
        wait_for(lambda: statuses(tmp_path / "sweep").get(0, {}).get("state") == "ran", what="job #0 done")
    elif moment == "one result unreported":
        holds.wait("job-1", proc)
        holds.wait("stored-0", proc)
    else:
        holds.wait("summary", proc)
    return holds, proc


@pytest.mark.e2e
@pytest.mark.parametrize("moment, signum", [
    ("workers starting", signal.SIGHUP), ("jobs running", signal.SIGHUP), ("one result in", signal.SIGHUP),
    ("one result unreported", signal.SIGHUP), ("summary printed", signal.SIGHUP), ("jobs running", signal.SIGINT),
    ("summary printed", signal.SIGINT), ("workers starting", signal.SIGTERM)])
def test_a_stop_signal_to_the_whole_group_at_any_moment_shows_only_the_projects_lines(tmp_path, moment, signum):
    holds, proc = reach(moment, tmp_path)
    try:
        os.killpg(proc.pid, signum)
        if moment == "summary printed":
            holds.release("summary")
        code = proc.wait(timeout=60)
        # the trackers are of the group: once it is empty, every process has said all it will
        wait_for(lambda: not alive(proc.pid), timeout=20, what="the workers and resource trackers to exit")
    finally:
        stop_group(proc)
    out, err = ((tmp_path / f"sweep.{kind}").read_text() for kind in ("out", "err"))
    assert not [word for word in NOISE if word in out + err], err[-3000:]
    assert all(line.startswith("pruning-lab: ") for line in (out + err).splitlines()), out + err
    assert sorted(Path("/dev/shm").glob(f"sem.loky-{proc.pid}-*")) == []  # every semaphore unlinked
    sweep = tmp_path / "sweep"
    if moment == "summary printed":  # the sweep had ended: the signal changes nothing
        assert (code, err) == (0, "")
        assert out.splitlines()[-2:] == ["pruning-lab: 2 jobs: ran 2, reused 0", f"pruning-lab: results in {sweep}"]
        return
    assert code == 128 + signum
    lines = out.splitlines()
    assert lines[0] == f"pruning-lab: 2 jobs into {sweep}" and lines[-1] == f"pruning-lab: results in {sweep}"
    if moment.startswith("one result"):
        # a result stored before its job could report it is the store's, as a rerun would reuse it
        counts = "ran 1, reused 0" if moment == "one result in" else "ran 0, reused 1"
        assert lines[-2] == f"pruning-lab: 2 jobs: {counts}, interrupted 1"
        assert err.splitlines() == ["pruning-lab: interrupted: #1 seed=1", f"pruning-lab: {ENDINGS[signum]}; {KEPT}"]
    else:
        assert lines[-2] == "pruning-lab: 2 jobs: ran 0, reused 0, interrupted 2"
        assert err.splitlines() == ["pruning-lab: interrupted: #0 seed=0", "pruning-lab: interrupted: #1 seed=1",
                                    f"pruning-lab: {ENDINGS[signum]} before any result; nothing to keep"]
    assert {st["state"] for st in statuses(sweep).values()} <= {"ran", "reused", "interrupted"}


# the two studies, as small as they come: 6 sample points, or 2 trials of one seed
STUDIES = {
    "sensitivity": ["-m", "hydra/sweeper=sensitivity", *TRIVIAL, "pathology.sparsity=interval(0.85,0.97)",
                    "stress.internal_sigma=interval(0.3,0.7)", "hydra.sweeper.sensitivity.treatments={none: {}}",
                    "hydra.sweeper.sensitivity.samples=2", "hydra.sweeper.sensitivity.resamples=10"],
    "search": ["-m", "hydra/sweeper=search", *TRIVIAL, "pathology.sparsity=interval(0.85,0.97)",
               "hydra.sweeper.search.objectives={treated.combined: maximize}", "hydra.sweeper.search.seeds=[0]",
               "hydra.sweeper.search.trials=2"],
}


@pytest.mark.e2e
@pytest.mark.parametrize("study", sorted(STUDIES))
def test_a_signal_after_a_studys_last_job_changes_neither_its_summary_nor_its_exit(tmp_path, study):
    """Held with its record written (every job ended), the study gets a Ctrl-C: it ends as it would have."""
    holds, proc = held_sweep(tmp_path, STUDIES[study], "summary")
    try:
        holds.wait("summary", proc)
        os.killpg(proc.pid, signal.SIGINT)
        holds.release("summary")
        code = proc.wait(timeout=60)
        wait_for(lambda: not alive(proc.pid), timeout=20, what="the workers and resource trackers to exit")
    finally:
        stop_group(proc)
    out, err = ((tmp_path / f"sweep.{kind}").read_text() for kind in ("out", "err"))
    assert (code, err) == (0, ""), err[-3000:]
    assert out.splitlines()[-1] == f"pruning-lab: tables and figures: python -m pruning_lab.aggregate {tmp_path / 'sweep'}"
    assert (tmp_path / "sweep" / f"{study}.json").is_file()
