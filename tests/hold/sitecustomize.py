"""Tests only: stops the processes of a run at named points until the test releases them.

A test that needs a job still running, or a sweep past its summary but not yet ended, puts this
directory on ``PYTHONPATH`` with ``PRUNING_LAB_TEST_HOLD=<dir>`` (``tests/helpers_cli.py``:
``Holds``), so that the launcher, its workers and cluster tasks all load it as they start. A
process that reaches point P while ``<dir>/P`` exists writes ``<dir>/P.<pid>`` and waits until
``<dir>/P`` is removed, or until it is killed. The points:

- ``job-<num>``: job <num> about to compute, its status "running" and its store lock taken;
- ``stored-<num>``: job <num> with its result in the store, before it reports it;
- ``worker``: a local worker process starting, before its initializer;
- ``summary``: the launcher, its sweep's final summary printed and written (a study: its record
  written, ``search.json`` or ``sensitivity.json``, before its summary lines).

Nothing here changes what a job computes; without the variable it does nothing at all.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

HOLD = os.environ.get("PRUNING_LAB_TEST_HOLD")
_job: list = [None]  # the number of the job this process is running


def reach(point: str) -> None:
    flag = Path(HOLD, point)
    if not flag.exists():
        return
    Path(HOLD, f"{point}.{os.getpid()}").touch()
    while flag.exists():  # Python's signal handlers run between the sleeps
        time.sleep(0.02)


def _status(module) -> None:
    write, report = module.JobStatus.write, module.write_sweep_status

    @functools.wraps(write)
    def noted_write(self, job_dir):
        write(self, job_dir)
        if self.state == "running":
            _job[0] = self.num

    @functools.wraps(report)
    def held_report(sweep_dir, rows, finished):
        report(sweep_dir, rows, finished)
        if finished:
            reach("summary")

    module.JobStatus.write, module.write_sweep_status = noted_write, held_report


def _study(module) -> None:
    write = module.write_json

    @functools.wraps(write)
    def held_write(path, obj):
        write(path, obj)
        if path.name in ("search.json", "sensitivity.json"):
            reach("summary")

    module.write_json = held_write  # before the sweepers import it


def _protocol(module) -> None:
    run = module.run

    @functools.wraps(run)
    def held_run(*args, **kwargs):
        reach(f"job-{_job[0]}")
        return run(*args, **kwargs)

    module.run = held_run


def _store(module) -> None:
    result_of = module.Store.result_of

    @functools.wraps(result_of)
    def held_result_of(*args, **kwargs):
        out = result_of(*args, **kwargs)
        reach(f"stored-{_job[0]}")
        return out

    module.Store.result_of = held_result_of


def _local(module) -> None:
    starts = module._worker_starts

    @functools.wraps(starts)
    def held_starts(*args):
        reach("worker")
        return starts(*args)

    module._worker_starts = held_starts  # pickled by name: the workers load this module too


PATCHES = {"pruning_lab.launch.status": _status, "pruning_lab.studies.base": _study,
           "pruning_lab.sim.protocol": _protocol, "pruning_lab.store": _store, "pruning_lab.launch.local": _local}


class _Patcher:
    """A meta path finder that lets the others find the modules above, then patches each as it loads."""

    def find_spec(self, name, path=None, target=None):
        if name not in PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            PATCHES[name](module)

        spec.loader.exec_module = exec_and_patch
        return spec


if HOLD:
    sys.meta_path.insert(0, _Patcher())
