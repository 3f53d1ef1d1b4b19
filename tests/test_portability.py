"""Portable numerics on other vendors' CPUs: the golden job under QEMU's user-mode emulator.

``make test-portability`` (marker ``portability``, outside ``make test``: about 5 minutes of
wall time on 2 cores). Each CPU model below runs tests/test_golden.py's job in a process of its
own under ``qemu-x86_64 -cpu MODEL``, with an empty numba cache of its own so that the kernels
are compiled on the emulated CPU, and the pinned digests and metrics must come out. QEMU's
models have no AVX-512; an AVX-512 CPU is covered by the golden test of ``make test`` on one.

Two controls keep the check honest. The emulated CPU must be the one the process sees:
CPUID's vendor and brand string, AVX2 and FMA without AVX-512, and numba's host CPU name
(/proc/cpuinfo is the real machine's under user-mode emulation, so the job's own ``cpu``
record cannot tell). And the two models must be able to give different bits: in
``numerics=native`` MKL dispatches on the CPU's vendor, and its sgemm gives other bits on the
Intel model than on the AMD one, while the fixed-order products, compiled natively for each
model, give the same bits on both and on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pruning_lab import numerics
from tests import portability_probe

pytestmark = pytest.mark.portability

ROOT = Path(__file__).resolve().parents[1]
PROBE = str(Path(portability_probe.__file__).resolve())
GOLDEN = json.loads((ROOT / "tests" / "golden.json").read_text())
# model: (CPUID vendor, a word of its brand string, numba's host CPU name)
MODELS = {
    "Haswell-v4": ("GenuineIntel", "Haswell", "haswell"),
    "EPYC-Rome": ("AuthenticAMD", "EPYC-Rome", "znver2"),
}


def _qemu() -> str:
    """qemu-x86_64 (7.2 or later), installed from Debian's qemu-user where missing and
    possible; else skip."""
    found = shutil.which("qemu-x86_64") or _install_qemu()
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout.split()
    number = next((w for w in version if w[:1].isdigit()), "0")
    if tuple(int(x) for x in number.split(".")[:2] if x.isdigit()) < (7, 2):
        pytest.skip(f"qemu-x86_64 {number} emulates no AVX2 or FMA (QEMU 7.2 added them to its x86 emulation)")
    return found


def _install_qemu() -> str:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("qemu-x86_64 is missing and cannot be installed here (needs root and apt-get: "
                    "apt-get install qemu-user)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "qemu-user"]):
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            last = (p.stderr.strip() or p.stdout.strip()).splitlines()[-1:] or [""]
            pytest.skip(f"qemu-x86_64 is missing and `{' '.join(cmd)}` failed: {last[0]}")
    found = shutil.which("qemu-x86_64")
    if not found:
        pytest.skip("qemu-user was installed but provides no qemu-x86_64")
    return found


def _fresh_env(**extra: str) -> dict[str, str]:
    # as from a fresh shell: none of the settings this process made, nor a user's MKL_CBWR
    drop = (*numerics.PINS, numerics.PINNED_ENV, numerics.MODE_ENV)
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def _result(p: subprocess.Popen, what: str) -> dict:
    out, err = p.communicate()
    if p.returncode != 0:
        raise AssertionError(f"{what} exited with {p.returncode}:\n{err[-3000:]}")
    return json.loads(out.splitlines()[-1])


@pytest.fixture(scope="module")
def runs() -> dict:
    """{(model or "host", probe): the probe's JSON}; the emulated processes all run at once."""
    qemu = _qemu()
    caches = Path(tempfile.mkdtemp(prefix="pruning-lab-portability-"))
    started = {}
    for model in MODELS:
        for what in ("golden", "native"):
            env = _fresh_env(NUMBA_CACHE_DIR=str(caches / f"{model}-{what}"))
            if what == "native":
                env[numerics.MODE_ENV] = "native"
            started[(model, what)] = subprocess.Popen([qemu, "-cpu", model, sys.executable, PROBE, what], env=env,
                                                      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                      text=True)
    host = subprocess.Popen([sys.executable, PROBE, "native"], env=_fresh_env(**{numerics.MODE_ENV: "native"}),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        got = {key: _result(p, f"{key[1]} probe under -cpu {key[0]}") for key, p in started.items()}
        got[("host", "native")] = _result(host, "native probe on this machine")
    finally:
        for p in (*started.values(), host):
            if p.poll() is None:  # after a failure: no emulated process outlives the test
                p.kill()
        shutil.rmtree(caches, ignore_errors=True)
    return got


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("what", ["golden", "native"])
def test_the_process_sees_the_emulated_cpu(runs, model, what):
    vendor, brand_word, numba_name = MODELS[model]
    seen = runs[(model, what)]
    cpu = seen["cpuid"]
    assert cpu["vendor"] == vendor and brand_word in cpu["brand"], cpu
    assert cpu["avx2"] and cpu["fma"] and not cpu["avx512f"], cpu
    assert seen["numba_host"] == {"name": numba_name, "avx512f": False}
    if what == "native":  # numba compiles for the emulated CPU itself
        assert seen["numba_target"] == numba_name
    else:  # portable: for haswell's own features whatever the host, verified by the job itself
        assert seen["environment"]["isa"]["numba"] == "haswell (its own features)"


def test_the_emulated_models_are_not_this_machine(runs):
    # otherwise the two runs would prove nothing beyond make test's golden test
    host = runs[("host", "native")]
    seen = {runs[(m, "native")]["cpuid"]["brand"] for m in MODELS} | {host["cpuid"]["brand"]}
    assert len(seen) == len(MODELS) + 1


@pytest.mark.parametrize("model", MODELS)
def test_the_golden_job_gives_the_pinned_numbers(runs, model):
    got = runs[(model, "golden")]
    env = got["environment"]
    assert env["portable"] is True, env["unpinned"]
    assert env["isa"]["aten"] == "AVX2" and env["isa"]["mkl"] == "COMPATIBLE"
    assert got["digests"] == GOLDEN["digests"]
    assert got["metrics"] == GOLDEN["metrics"]


def test_native_products_differ_between_the_models_and_the_fixed_order_ones_do_not(runs):
    intel, amd, host = (runs[(k, "native")] for k in (*MODELS, "host"))
    # MKL's own dispatch: its AVX2 branch on the Intel model, another on the AMD one
    assert intel["mkl_auto_branch"] == "AVX2" and amd["mkl_auto_branch"] != "AVX2"
    differ = [i for i, (x, y) in enumerate(zip(intel["mkl"], amd["mkl"])) if x != y]
    assert differ, "native MKL gave the same bits on both models: the emulation would show no difference"
    assert intel["fixed_order"] == amd["fixed_order"] == host["fixed_order"]
