"""Golden values: one small job's full metrics and the exact bits of its networks, pinned.

The job runs both engines (dense below ``engine_sparse_from`` = 0.5, sparse above), internal
noise on each, gradient regrowth, modulation (tanh with damping), the acute relapse and one
longitudinal cycle. In portable numerics (pruning_lab/numerics.py) its results are the same
bits on every x86-64 CPU with AVX2 and FMA, for the locked package versions: this test must
pass on any such machine. The network digests move with any change of the last bit anywhere;
the accuracies catch a change too large to be rounding.

When a numerical change is intended (a new noise stream, another summation order, a new
package version in the lock file), regenerate the pinned values and commit them with it:

    .venv/bin/python tests/test_golden.py          # rewrites tests/golden.json

and, in the same change, rename ``config.NOISE_STREAM`` (if the noise changed) or bump
``numerics.VERSION`` (anything else), so that results stored under the old numbers are
recomputed rather than reused; then regenerate experiments/paper2/expected.csv (make verify).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: import the project before torch, as pytest does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import pruning_lab  # noqa: F401

import pytest

from tests.conftest import compose_job, needs_avx512

GOLDEN = Path(__file__).with_name("golden.json")
OVERRIDES = [
    "baseline.epochs=2", "data.train_size=1280", "data.test_size=800", "data.clean_size=200",
    "model.hidden=[128,128,64]", "longitudinal.cycles=1", "engine_sparse_from=0.5",
    "treatment=none", "treatment.name=golden",
    # at 95% sparsity: sparse engine, ReLU with noise; regrowth to ~47.5%: dense engine, noise;
    # then tanh with damping; the cycle (~53%) runs sparse, modulated, with noise
    "treatment.phases=[{kind: train, epochs: 1, lr: 5.0e-4, noise_start: 0.5, noise_end: 0.5},"
    " {kind: regrow, fraction: 0.5, score: gradient, batches: 5, init_std: 0.03},"
    " {kind: train, epochs: 1, lr: 5.0e-4, noise_start: 0.5, noise_end: 0.2},"
    " {kind: modulate, damping: 0.7, activation: tanh},"
    " {kind: train, epochs: 1, lr: 5.0e-4}]",
    "treatment.maintenance=[{kind: train, epochs: 1, lr: 5.0e-4, noise_start: 0.3, noise_end: 0.3}]",
]


def golden_run(*extra: str) -> dict:
    """The pinned quantities of the golden job: its metrics, network digests and environment."""
    from pruning_lab.sim.protocol import run

    result = run(compose_job(*OVERRIDES, *extra))
    # through JSON, as a stored result reads back
    return json.loads(json.dumps({k: result[k] for k in ("metrics", "digests", "environment")}))


@pytest.fixture(scope="module")
def pinned() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def golden() -> dict:
    """The golden job in this process, its products on this CPU's widest tiles."""
    from pruning_lab import numerics

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(numerics.ISA_ENV, raising=False)
        return golden_run()


def test_golden_job_gives_the_pinned_numbers(pinned, golden):
    assert golden["environment"]["portable"] is True
    assert golden["digests"] == pinned["digests"]
    assert golden["metrics"] == pinned["metrics"]


@needs_avx512
def test_the_16_and_8_lane_products_give_the_same_job(monkeypatch, golden):
    """The golden job again in this process with the 8-lane tiles forced (numerics.portable_isa=avx2):
    every metric and both networks' every bit as with the 16-lane ones."""
    from pruning_lab import numerics

    assert golden["environment"]["isa"]["products"] == "avx512 (16 lanes)"
    monkeypatch.setenv(numerics.ISA_ENV, "avx2")
    narrow = golden_run()
    assert narrow["environment"]["isa"]["products"] == "avx2 (8 lanes)"
    assert narrow["digests"] == golden["digests"]
    assert narrow["metrics"] == golden["metrics"]


def _in_subprocess(env: dict[str, str], *extra: str) -> dict:
    """The golden job in a fresh process with ``env`` added to its environment."""
    code = ("import json, sys; import pruning_lab; from tests.test_golden import golden_run; "
            "print(json.dumps(golden_run(*sys.argv[1:])))")
    from pruning_lab import numerics

    # as from a fresh shell: none of the settings this process made
    fresh = {k: v for k, v in os.environ.items()
             if k not in (*numerics.PINS, numerics.PINNED_ENV, numerics.MODE_ENV, numerics.ISA_ENV)}
    out = subprocess.run([sys.executable, "-c", code, *extra], env={**fresh, **env}, check=True,
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.splitlines()[-1])


def test_portable_numbers_do_not_depend_on_the_cpu_path(pinned):
    """Settings that make this CPU take another CPU's paths leave portable numbers unchanged.

    MKL limited to AVX2 (a CPU without AVX-512), fbgemm limited to AVX2, and a user's
    MKL_CBWR (replaced by portable mode, which says so and records it).
    """
    got = _in_subprocess({"MKL_ENABLE_INSTRUCTIONS": "AVX2", "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
                          "MKL_CBWR": "AVX512"})
    env = got["environment"]
    assert env["portable"] is True and env["replaced"] == {"MKL_CBWR": "AVX512"}
    assert env["settings"]["MKL_ENABLE_INSTRUCTIONS"] == "AVX2"
    assert got["digests"] == pinned["digests"]
    assert got["metrics"] == pinned["metrics"]


def test_native_numbers_are_recorded_as_not_portable(pinned):
    """Native mode leaves MKL to its own dispatch (numba and ATen kept at the portable targets
    here, so that only MKL differs and nothing new is compiled): other bits, and said so."""
    got = _in_subprocess({"PRUNING_LAB_NUMERICS": "native", "NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "",
                          "ATEN_CPU_CAPABILITY": "avx2"}, "numerics=native")
    env = got["environment"]
    assert env["numerics"] == "native" and env["portable"] is False
    assert env["isa"]["mkl"] != "COMPATIBLE" and env["isa"]["aten"] == "AVX2"
    assert got["digests"]["final"] != pinned["digests"]["final"]


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    values = golden_run()
    assert values["environment"]["portable"], values["environment"]["unpinned"]
    GOLDEN.write_text(json.dumps({"metrics": values["metrics"], "digests": values["digests"]}, indent=1,
                                 sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}: digests {values['digests']}")
