"""What one process computes and sees, as JSON on its last line; run under qemu-x86_64 by
tests/test_portability.py, or directly:

    python tests/portability_probe.py golden   # the golden job in portable numerics, and the CPU seen
    PRUNING_LAB_NUMERICS=native python tests/portability_probe.py golden numerics=native
    python tests/portability_probe.py native   # MKL's and the fixed-order products' bits, natively

Both print the CPU as the process sees it through CPUID (vendor, brand string, AVX2, FMA,
AVX-512F) and numba's host CPU: under user-mode emulation /proc/cpuinfo is the real machine's,
so CPUID is the only witness that the emulated model is the one the libraries dispatch on.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import mmap
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# cpuid(leaf, subleaf, out): out[0..3] = eax, ebx, ecx, edx. System V AMD64: leaf in edi,
# subleaf in esi, out in rdx (moved to r8 first, as cpuid overwrites edx); rbx is callee-saved.
_CPUID_CODE = bytes([
    0x53,                    # push rbx
    0x49, 0x89, 0xD0,        # mov r8, rdx
    0x89, 0xF8,              # mov eax, edi
    0x89, 0xF1,              # mov ecx, esi
    0x0F, 0xA2,              # cpuid
    0x41, 0x89, 0x00,        # mov [r8], eax
    0x41, 0x89, 0x58, 0x04,  # mov [r8+4], ebx
    0x41, 0x89, 0x48, 0x08,  # mov [r8+8], ecx
    0x41, 0x89, 0x50, 0x0C,  # mov [r8+12], edx
    0x5B,                    # pop rbx
    0xC3,                    # ret
])


def _cpuid_function():
    # no library in the environment reports the CPUID vendor and brand string (numba's LLVM
    # gives the CPU name and features only, torch its ATen capability), hence the 26 bytes
    buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    buf.write(_CPUID_CODE)
    address = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    fn = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32))(address)
    fn._keep = buf  # the code must outlive the function object
    return fn


def cpuid_cpu() -> dict:
    """Vendor, brand string and the vector extensions that matter here, from CPUID itself."""
    fn = _cpuid_function()
    out = (ctypes.c_uint32 * 4)()

    def regs(leaf, sub=0):
        fn(leaf, sub, out)
        return tuple(out)

    _, ebx, ecx, edx = regs(0)
    vendor = struct.pack("<3I", ebx, edx, ecx).decode()
    brand = b"".join(struct.pack("<4I", *regs(leaf)) for leaf in (0x80000002, 0x80000003, 0x80000004))
    _, _, ecx1, _ = regs(1)
    _, ebx7, _, _ = regs(7)
    return {"vendor": vendor, "brand": brand.rstrip(b"\0").decode().strip(),
            "avx2": bool(ebx7 >> 5 & 1), "fma": bool(ecx1 >> 12 & 1), "avx512f": bool(ebx7 >> 16 & 1)}


def numba_host() -> dict:
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    return {"name": llvm.get_host_cpu_name(), "avx512f": bool(features.get("avx512f"))}


def digest(array) -> str:
    return hashlib.sha256(array.tobytes()).hexdigest()[:16]


# the full network's dense-engine products at batch 128, feature-major as products._Linear
# computes them: forward W h^T, input gradient W^T g^T, weight gradient g^T h
SHAPES = [(512, 512, 128), (256, 512, 128), (512, 512, 128), (512, 128, 512), (4, 256, 128)]


def native() -> dict:
    """MKL's sgemm (numerics=native's products) and the fixed-order kernel compiled for this
    CPU's own target, on the same operands; digests of their bits."""
    assert os.environ.get("PRUNING_LAB_NUMERICS") == "native" and "MKL_CBWR" not in os.environ
    sys.path.insert(0, str(ROOT))  # this checkout's pruning_lab, whichever one the venv installed
    import pruning_lab  # noqa: F401
    import numpy as np
    import torch

    from pruning_lab import numerics
    from pruning_lab.sim.products import matmul

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    mkl, fixed = [], []
    for m, k, n in SHAPES:
        a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
        mkl.append(digest(torch.mm(a, b).numpy()))
        c = np.empty((m, n), np.float32)
        matmul(a.numpy(), b.numpy(), c)
        fixed.append(digest(c))
    return {"mkl": mkl, "fixed_order": fixed, "mkl_auto_branch": mkl_auto_branch(numerics),
            "numba_target": numerics.numba_target()["cpu_name"]}


def mkl_auto_branch(numerics) -> str | None:
    """The code branch MKL's own dispatch picks for this CPU (mkl_cbwr_get_auto_branch)."""
    lib = numerics._libtorch()  # numerics' handle on the MKL inside torch; torch exposes none
    if lib is None:
        return None
    lib.mkl_serv_cbwr_get_auto_branch.restype = ctypes.c_int
    branch = lib.mkl_serv_cbwr_get_auto_branch()
    return numerics._MKL_BRANCHES.get(branch, str(branch))


def golden(*overrides: str) -> dict:
    sys.path.insert(0, str(ROOT))  # this checkout's pruning_lab and tests, as pytest has them
    import pruning_lab  # noqa: F401  (first, as in every process that computes)
    import torch

    from tests.test_golden import golden_run

    torch.set_num_threads(1)
    return golden_run(*overrides)


if __name__ == "__main__":
    what = sys.argv[1]
    seen = {"cpuid": cpuid_cpu()}
    result = golden(*sys.argv[2:]) if what == "golden" else native()
    seen["numba_host"] = numba_host()
    print(json.dumps({**result, **seen}))
