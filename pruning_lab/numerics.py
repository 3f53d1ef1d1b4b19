"""Numerics: what makes a job's float results the same bits on every x86-64 CPU, set once, recorded.

Each library below picks its code path by the CPU it runs on, and each path rounds in its own
order, so the same job gave other numbers on an AMD EPYC than on an Intel Xeon. ``portable``
mode (the default) fixes every such choice the protocol's numbers depend on, to a path that
any x86-64 CPU with AVX2 and FMA runs the same way:

- Dense products (a layer's h W^T + b and its gradients): a BLAS sums in an order chosen for
  the CPU, so MKL's sgemm gave other bits on the two CPUs. Portable mode computes them in
  products.py instead, each sum in one fixed order of FMAs, on 16-lane AVX-512 tiles where
  the CPU has them and 8-lane AVX2 ones elsewhere, the same bits (``products_isa``). MKL stays
  pinned to its CPU-independent branch, ``MKL_CBWR=COMPATIBLE`` (SSE2, half speed), for what
  else in torch reaches it: ATen's tanh calls MKL's vector maths (VML), whose generic kernel
  COMPATIBLE selects on every CPU. Its AVX2 branch is no way out: asked for on an AMD EPYC,
  MKL runs its AUTO branch instead, which still dispatches by CPU.
- ATen (torch's elementwise kernels, reductions, randn, fused Adam, embedding_bag's dispatch):
  compiled once per instruction set, one chosen at first use; ``ATEN_CPU_CAPABILITY=avx2``.
- numba (the dense products' driver, the sparse engine's loops, the noise stream): compiled
  for the host CPU, whose vector width orders a fastmath sum; ``NUMBA_CPU_NAME=haswell`` with
  ``NUMBA_CPU_FEATURES`` empty (that CPU's own features, not the host's: the name alone keeps
  the host's AVX-512) compiles for AVX2 + FMA everywhere. numba's cache keys compiled code by
  target, so targets never mix. The products' AVX-512 tiles are compiled apart from numba,
  for x86-64-v4; they hold no fastmath sum.
  ``NUMBA_DISABLE_INTEL_SVML=1``: Intel's vector maths library, if installed, would replace
  libm's exp and log in vectorized loops.

Not pinned, because they do not change a result: fbgemm's embedding_bag kernels (AVX2 and
AVX-512 variants give the same bits) and oneDNN (unused by these paths). The library versions
matter as much as the CPU; the lock file fixes them, and every result records them.

Settings that libraries read once, at first use, must be in place before torch and numba are
used: importing ``pruning_lab`` sets them (``prepare``), so every process that computes (the
launcher, sweep workers, cluster jobs, tests, the Python API) starts portable and passes the
settings on to its children. ``establish`` then checks at the start of each job what the
libraries actually run; a portable job whose settings did not take effect (torch used first
with other settings, numba imported first) is refused, never recorded as portable.
``native`` leaves every choice to the libraries: faster, and not comparable across machines.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import platform
import sys
from pathlib import Path

log = logging.getLogger(__name__)

MODES = ("portable", "native")
# Names the portable settings; part of every job's hash (config.job_hash) and recorded in each
# result. Change it whenever the settings below, or anything else that changes portable
# numbers, change.
VERSION = "fma-products+mkl-compatible+aten-avx2+numba-haswell/2"
PINS = {
    "MKL_CBWR": "COMPATIBLE",
    "ATEN_CPU_CAPABILITY": "avx2",
    "NUMBA_CPU_NAME": "haswell",
    "NUMBA_CPU_FEATURES": "",
    "NUMBA_DISABLE_INTEL_SVML": "1",
}
# recorded because they change native results (or would, for a portable job, if a pin failed)
WATCHED = ("MKL_ENABLE_INSTRUCTIONS", "FBGEMM_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE", "NPY_DISABLE_CPU_FEATURES")
# the process's mode before any job says otherwise; inherited by child processes
MODE_ENV = "PRUNING_LAB_NUMERICS"
# {pinned variable: its value before pinning, or null}, so native mode can undo the pins
PINNED_ENV = "PRUNING_LAB_PINNED"
# the portable products' instruction set (``products_isa``): auto (AVX-512 where the CPU has it)
# or avx2. Not part of a job's hash: the 8- and 16-lane tiles give the same bits (products.py)
ISAS = ("auto", "avx2")
ISA_ENV = "PRUNING_LAB_PORTABLE_ISA"
# the CPU features the AVX-512 tiles are compiled for (products.WIDE_CPU, x86-64-v4)
AVX512 = ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")

_MKL_BRANCH, _MKL_COMPATIBLE = 1, 3  # MKL_CBWR_BRANCH, MKL_CBWR_COMPATIBLE (mkl_cbwr.h)
_MKL_BRANCHES = {0: "OFF", 1: "BRANCH_OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 8: "SSE4_2", 10: "AVX2",
                 12: "AVX512", 14: "AVX512_E1", 16: "AVX512_E2"}


class NumericsError(RuntimeError):
    """Portable numerics were asked for and could not be established; the message says why."""


def _pinned() -> dict:
    try:
        return json.loads(os.environ.get(PINNED_ENV, "{}"))
    except ValueError:
        return {}


def mode() -> str:
    """This process's numerics mode: set by ``prepare``, which each job's ``establish`` calls."""
    return os.environ.get(MODE_ENV) or "portable"


def loaded() -> list[str]:
    """The libraries already imported, whose settings can no longer all change."""
    return [m for m in ("torch", "numba") if m in sys.modules]


def prepare(mode: str | None = None, isa: str | None = None) -> None:
    """Put ``mode``'s settings into the environment (default: $PRUNING_LAB_NUMERICS, else portable),
    and ``isa``, the portable products' instruction set, if given (else it stays as it is).

    A conflicting value of the user's is replaced for portable mode (with a warning naming
    numerics=native, which keeps it) and restored for native mode.
    """
    mode = mode or os.environ.get(MODE_ENV) or "portable"
    if mode not in MODES:
        raise NumericsError(f"numerics must be one of {', '.join(MODES)}, got {mode!r}")
    if isa is not None and isa not in ISAS:
        raise NumericsError(f"numerics.portable_isa must be one of {', '.join(ISAS)}, got {isa!r}")
    os.environ[MODE_ENV] = mode
    if isa is not None:
        os.environ[ISA_ENV] = isa
    pinned = _pinned()
    if mode == "portable":
        for name, value in PINS.items():
            old = os.environ.get(name)
            if old == value:
                continue
            pinned[name] = old  # not our value, so the user's (or nothing), to restore for native
            if old is not None:
                log.warning("numerics=portable replaces %s=%s with %r (numerics=native keeps it)", name, old, value)
            os.environ[name] = value
    else:
        for name, old in pinned.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        pinned = {}
    os.environ[PINNED_ENV] = json.dumps(pinned)


# -- what the libraries actually run ------------------------------------------------------------


def _libtorch() -> ctypes.CDLL | None:
    import torch

    path = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        lib = ctypes.CDLL(str(path))  # already loaded by torch: the same handle, nothing runs
        for name in ("mkl_serv_cbwr_get", "mkl_serv_cbwr_set", "mkl_serv_get_version_string"):
            getattr(lib, name)
    except (OSError, AttributeError):  # another torch build (no MKL inside, or not Linux)
        return None
    return lib


def mkl_version() -> str | None:
    lib = _libtorch()
    if lib is None:
        return None
    buf = ctypes.create_string_buffer(256)
    lib.mkl_serv_get_version_string(buf, len(buf))
    words = buf.value.decode(errors="replace").split()
    return next((w.split("-")[0] for w in words if w[:1].isdigit()), " ".join(words))


def mkl_branch(force_compatible: bool = False) -> str | None:
    """MKL's code branch; with ``force_compatible``, first set COMPATIBLE if MKL is still unused.

    mkl_cbwr_set takes effect only before MKL's first computation, and says so when too late;
    mkl_cbwr_get reports what MKL runs, whichever way it was set.
    """
    lib = _libtorch()
    if lib is None:
        return None
    lib.mkl_serv_cbwr_get.restype = lib.mkl_serv_cbwr_set.restype = ctypes.c_int
    if force_compatible and lib.mkl_serv_cbwr_get(_MKL_BRANCH) != _MKL_COMPATIBLE:
        lib.mkl_serv_cbwr_set(_MKL_COMPATIBLE)
    branch = lib.mkl_serv_cbwr_get(_MKL_BRANCH)
    return _MKL_BRANCHES.get(branch, str(branch))


def numba_target() -> dict:
    """The CPU name and features numba compiles for (what its cache keys code by)."""
    from numba.core import config
    from numba.core.registry import cpu_target

    _, name, features = cpu_target.target_context.codegen().magic_tuple()
    return {"cpu_name": name, "features": features if config.CPU_FEATURES is not None else "host",
            "svml": bool(config.USING_SVML)}


@functools.cache
def has_avx512() -> bool:
    """Whether this CPU, and the OS (which must save the 512-bit registers), run x86-64-v4's AVX-512:
    LLVM's reading of CPUID and XCR0, once per process."""
    from llvmlite import binding

    features = binding.get_host_cpu_features()
    return all(features.get(f, False) for f in AVX512)


def products_isa() -> str:
    """The instruction set of this process's portable products: avx512 (16-lane tiles) where the
    CPU has it and $PRUNING_LAB_PORTABLE_ISA (numerics.portable_isa) does not say avx2, else avx2."""
    return "avx512" if os.environ.get(ISA_ENV, "auto") != "avx2" and has_avx512() else "avx2"


def cpu() -> dict:
    """Vendor, model name and the vector extensions that matter here, from /proc/cpuinfo."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("vendor_id", "model name", "flags") and key not in info:
                info[key] = value.strip()
            if len(info) == 3:
                break
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    return {"vendor": info.get("vendor_id", platform.processor() or "unknown"),
            "model": info.get("model name", platform.machine()), "machine": platform.machine(),
            "extensions": [f for f in ("avx2", "fma", "avx512f") if f in flags]}


def library_versions() -> dict:
    """The versions of pruning-lab and of the libraries that compute (and of Python and libc): a
    result's one record of them (``environment.versions``)."""
    from importlib.metadata import version

    import llvmlite
    import numba
    import numpy
    import torch

    return {"pruning_lab": version("pruning-lab"), "torch": torch.__version__, "mkl": mkl_version(),
            "numba": numba.__version__, "llvmlite": llvmlite.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(), "libc": "-".join(platform.libc_ver()) or None}


def establish(mode: str) -> dict:
    """Check (and, where still possible, set) ``mode``'s settings; the job's ``environment`` record.

    ``portable`` in the record is what was verified: every pin in effect in the libraries
    themselves. A portable job that cannot have them raises ``NumericsError``.
    """
    prepare(mode)  # whatever the libraries have not read yet still takes effect
    import torch
    from numba.core import config as numba_config

    host = cpu()
    target = numba_target()
    branch = mkl_branch(force_compatible=mode == "portable")
    isa = {"aten": torch.backends.cpu.get_cpu_capability(), "mkl": branch,
           "numba": f"{target['cpu_name']} ({'host features' if target['features'] == 'host' else 'its own features'})",
           "products": {"avx512": "avx512 (16 lanes)", "avx2": "avx2 (8 lanes)"}[products_isa()]
           if mode == "portable" else "torch F.linear"}
    problems = []
    if host["machine"] not in ("x86_64", "AMD64") or not {"avx2", "fma"} <= set(host["extensions"]):
        problems.append(f"this CPU ({host['model']}) lacks AVX2 and FMA")
    if branch != "COMPATIBLE":
        problems.append(f"MKL runs branch {branch or 'unknown (no MKL in this torch)'}, not COMPATIBLE "
                        "(it computed under other settings before this job)")
    if isa["aten"] != "AVX2":
        problems.append(f"ATen runs {isa['aten']} kernels, not AVX2 (torch computed under other settings "
                        "before this job)")
    if target["cpu_name"] != PINS["NUMBA_CPU_NAME"] or target["features"] != PINS["NUMBA_CPU_FEATURES"]:
        problems.append(f"numba compiles for {target['cpu_name']} with {target['features'] or 'its own'} features, "
                        "not haswell's own (numba was loaded under other settings before this job)")
    if target["svml"]:
        problems.append("numba uses Intel SVML")
    if mode == "portable" and problems:
        raise NumericsError("numerics=portable could not be established: " + "; ".join(problems)
                            + ". Run it in a fresh process that imports pruning_lab before torch and numba, or "
                            "run numerics=native")
    settings = {name: os.environ.get(name) for name in (*PINS, *WATCHED)}
    settings.update(portable_isa=os.environ.get(ISA_ENV, "auto"), mkl_branch=branch, torch_threads=torch.get_num_threads(),
                    numba_cpu_name=numba_config.CPU_NAME, numba_cpu_features=numba_config.CPU_FEATURES)
    return {"numerics": mode, "portable": not problems, "version": VERSION, "settings": settings,
            "replaced": {k: v for k, v in _pinned().items() if v is not None},
            "unpinned": problems, "cpu": host, "isa": isa, "versions": library_versions()}
