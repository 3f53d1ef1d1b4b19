"""The launch path at scale: sweeps of trivial jobs through the real CLI.

For each size it prints the time from the command to the first stored result, the whole
sweep's time, the full-reuse rerun's time, the framework's CPU seconds per job (the sweep's
CPU time minus what the jobs' own phases took), the launcher's peak memory, and the store's
size. Run on an otherwise idle machine:

    .venv/bin/python bench/launch_bench.py               # 1000 and 10 000 jobs
    .venv/bin/python bench/launch_bench.py --jobs 50     # a quick check that it runs
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIVIAL = ["treatment=none", "longitudinal=none", "baseline.epochs=0", "model.hidden=[8]", "data.train_size=100",
           "data.test_size=100", "data.clean_size=100"]


def peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def sweep(n: int, tmp: Path, workers: int) -> dict:
    """One run of the n-job sweep; times, the launcher's peak memory and the CPU it and its workers used."""
    results = tmp / "store" / "results"
    cmd = [sys.executable, "-m", "pruning_lab.run", "-m", *TRIVIAL, f"seed=range({n})",
           f"paths.store={tmp / 'store'}", f"hydra.sweep.dir={tmp / 'sweep'}", f"hydra.launcher.n_jobs={workers}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    had = len(list(results.glob("*.json"))) if results.is_dir() else 0
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first, peak = None, 0
    while proc.poll() is None:
        peak = max(peak, peak_kib(proc.pid))
        if first is None and results.is_dir() and len(list(results.glob("*.json"))) > had:
            first = time.monotonic() - start
        time.sleep(0.05)
    wall = time.monotonic() - start
    out, err = proc.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"the sweep failed ({proc.returncode}): {err[-2000:]}")
    summary = next(ln for ln in out.splitlines() if " jobs: " in ln)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"first": first, "wall": wall, "cpu": cpu, "peak_mib": peak / 1024, "summary": summary}


def size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--workers", type=int, default=-1, help="hydra.launcher.n_jobs (default: every core)")
    args = parser.parse_args()
    for n in args.jobs:
        with tempfile.TemporaryDirectory(prefix="launch-bench-") as tmp:
            tmp = Path(tmp)
            fresh = sweep(n, tmp, args.workers)
            phases = sum(sum(json.loads(p.read_text()).get("timings", {}).values())
                         for p in (tmp / "store" / "results").glob("*.json"))
            overhead = (fresh["cpu"] - phases) / n
            reuse = sweep(n, tmp, args.workers)
            results = tmp / "store" / "results"
            print(f"{n} jobs ({os.cpu_count()} cores, n_jobs={args.workers}):")
            print(f"  first result after     {fresh['first']:.1f} s" if fresh["first"] is not None else
                  "  first result after     (not seen)")
            print(f"  whole sweep            {fresh['wall']:.1f} s   [{fresh['summary']}]")
            print(f"  full-reuse rerun       {reuse['wall']:.1f} s   [{reuse['summary']}]")
            print(f"  framework CPU per job  {overhead * 1000:.0f} ms")
            print(f"  launcher peak memory   {fresh['peak_mib']:.0f} MiB (rerun {reuse['peak_mib']:.0f} MiB)")
            print(f"  store                  {size_mib(tmp / 'store'):.1f} MiB, "
                  f"{len(list(results.glob('*.json')))} results ({size_mib(results) * 2**20 / n / 1024:.1f} KiB each)")


if __name__ == "__main__":
    main()
