"""Numerics modes: validated, hashed apart, set before the libraries load, verified at each job.

Whether portable numbers really are the same across CPU paths is tests/test_golden.py's job.
"""

from __future__ import annotations

import json
import os

import pytest

from pruning_lab import api, numerics
from pruning_lab.config import ConfigError
from pruning_lab.launch.job import execute
from pruning_lab.launch.plan import planned
from pruning_lab.sim.protocol import baseline_config
from pruning_lab.store import read_json
from tests.conftest import TINY, tiny_job


def test_numerics_mode_and_isa_are_validated():
    assert tiny_job().numerics == "portable" and tiny_job("numerics=native").numerics == "native"
    with pytest.raises(ConfigError, match="Could not find 'numerics/fast'; choose from: native, portable"):
        api.job(["numerics=fast"])
    with pytest.raises(ConfigError, match="numerics.mode must be one of portable, native, got 'fast'"):
        api.job(["numerics.mode=fast"])
    with pytest.raises(ConfigError, match="numerics.portable_isa must be one of auto, avx2, got 'sse'"):
        api.job(["numerics.portable_isa=sse"])


def test_the_products_isa_is_a_run_setting_that_reaches_the_job_outside_its_hash(tmp_path, monkeypatch):
    monkeypatch.setenv(numerics.ISA_ENV, "auto")  # given back after the test: the job sets it for this process
    cfg = api.compose([*TINY, "numerics.portable_isa=avx2", f"paths.store={tmp_path / 'store'}"])
    p = planned(cfg, [], tmp_path / "job")
    assert p.portable_isa == "avx2" and p.job == tiny_job() and p.hash == tiny_job().hash
    assert execute(p, log_file=False).state == "ran"
    env = read_json(tmp_path / "job" / "result.json")["environment"]
    assert env["settings"]["portable_isa"] == "avx2" and env["isa"]["products"] == "avx2 (8 lanes)"


def test_modes_never_share_results_or_baselines():
    portable, native = tiny_job(), tiny_job("numerics=native")
    assert portable.hash != native.hash
    assert baseline_config(portable) != baseline_config(native)


@pytest.fixture
def environ(monkeypatch):
    """A private copy of the environment, as a shell without the project's settings has it."""
    env = {k: v for k, v in os.environ.items()
           if k not in (*numerics.PINS, numerics.PINNED_ENV, numerics.MODE_ENV, numerics.ISA_ENV)}
    monkeypatch.setattr(os, "environ", env)
    return env


def test_portable_replaces_a_users_setting_and_native_restores_it(environ):
    environ["MKL_CBWR"] = "AVX512"
    numerics.prepare("portable")
    assert {k: environ[k] for k in numerics.PINS} == numerics.PINS
    assert json.loads(environ[numerics.PINNED_ENV])["MKL_CBWR"] == "AVX512"
    numerics.prepare("native")
    assert environ["MKL_CBWR"] == "AVX512"
    assert not any(k in environ for k in numerics.PINS if k != "MKL_CBWR")
    assert environ[numerics.MODE_ENV] == "native"


def test_the_mode_comes_from_the_environment_by_default(environ):
    environ[numerics.MODE_ENV] = "native"
    numerics.prepare()
    assert not any(k in environ for k in numerics.PINS)


def test_a_portable_job_refuses_when_a_library_runs_another_path(monkeypatch, environ):
    """As when torch computed with MKL's default branch before the job: refused, not recorded."""
    monkeypatch.setattr(numerics, "mkl_branch", lambda force_compatible=False: "BRANCH_OFF")
    with pytest.raises(numerics.NumericsError, match="MKL runs branch BRANCH_OFF, not COMPATIBLE"):
        numerics.establish("portable")
    env = numerics.establish("native")
    assert env["portable"] is False and env["isa"]["mkl"] == "BRANCH_OFF"
    assert any("MKL" in p for p in env["unpinned"])


def test_the_environment_record_names_the_cpu_and_versions():
    env = numerics.establish("portable")
    assert env["portable"] is True and env["unpinned"] == []
    lanes = "avx512 (16 lanes)" if numerics.has_avx512() else "avx2 (8 lanes)"
    assert env["isa"] == {"aten": "AVX2", "mkl": "COMPATIBLE", "numba": "haswell (its own features)", "products": lanes}
    assert env["settings"]["MKL_CBWR"] == "COMPATIBLE" and env["settings"]["mkl_branch"] == "COMPATIBLE"
    assert env["cpu"]["vendor"] and env["cpu"]["model"]
    assert set(env["versions"]) >= {"torch", "mkl", "numba", "llvmlite", "numpy"}
    assert all(env["versions"][k] for k in ("torch", "mkl", "numba", "llvmlite", "numpy"))


def test_the_products_isa_is_the_cpus_unless_avx2_is_asked_for(environ):
    numerics.prepare("portable", "avx2")
    assert environ[numerics.ISA_ENV] == "avx2" and numerics.products_isa() == "avx2"
    assert numerics.establish("portable")["isa"]["products"] == "avx2 (8 lanes)"
    numerics.prepare("portable", "auto")
    assert numerics.products_isa() == ("avx512" if numerics.has_avx512() else "avx2")
    numerics.prepare("portable")  # no ISA given: the one set stays
    assert environ[numerics.ISA_ENV] == "auto"
    with pytest.raises(numerics.NumericsError, match="numerics.portable_isa must be one of auto, avx2, got 'sse'"):
        numerics.prepare("portable", "sse")
