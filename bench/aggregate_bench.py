"""Time the aggregation of many result files: ``python bench/aggregate_bench.py [--files 1000]``.

Synthetic results (the real configs of conf/, random metrics, real checksums) of 4 treatments x
10 values of pathology.sparsity x seeds, as a sweep over an axis writes them; then the time to
read them, to make the report without figures, and with them. Prints seconds.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pruning_lab import api  # noqa: E402
from pruning_lab.analysis.load import read_results  # noqa: E402
from pruning_lab.analysis.sections import build  # noqa: E402
from pruning_lab.config import SCHEMA, content_hash  # noqa: E402
from pruning_lab.store import dump_json  # noqa: E402

TREATMENTS = ("ketamine", "ssri", "neurosteroid", "random_regrowth")


def synthetic(config: dict, rng) -> dict:
    s, acc = 100 * config["pathology"]["sparsity"], lambda level: float(np.clip(rng.normal(level, 3.0), 0, 100))

    def evaluation(level: float, sparsity: float) -> dict:
        return {"sparsity": sparsity, "layer_sparsity": [sparsity] * 4, "clean": acc(level), "standard": acc(level),
                "combined": acc(level), "profile": {f"{x:g}": acc(level) for x in config["stress"]["profile"]}}

    treated, course = evaluation(90, s), [acc(90) for _ in range(config["longitudinal"]["cycles"] + 1)]
    relapsed = [c for c, a in enumerate(course) if a < 80]
    modulated = any(p["kind"] == "modulate" for p in config["treatment"]["phases"])
    return {
        "schema": SCHEMA, "config_hash": content_hash(config), "config": config, "seed": config["seed"],
        "treatment": config["treatment"]["name"], "label": config["treatment"]["label"],
        "metrics": {"healthy": evaluation(99, 0.0), "untreated": evaluation(30, s), "treated": treated,
                    "off_drug": evaluation(60, s) if modulated else None,
                    "relapse": {"drop": 5.0, "combined_before": treated["combined"], "combined_after":
                                treated["combined"] - 5, "sparsity_before": s, "sparsity_after": s + 2, "target": s + 2},
                    "longitudinal": {"combined": course, "sparsity": [s + c for c in range(len(course))],
                                     "relapse_cycle": relapsed[0] if relapsed else None, "final": course[-1],
                                     "total_drop": course[0] - course[-1]}},
        "baseline": {"key": f"b{config['seed']}", "cache_hit": True}, "wall_seconds": 60.0,
        "timings": {"baseline": 1.0, "evaluate": 2.0, "longitudinal": 30.0}, "versions": {"pruning_lab": "bench"},
    }


def write_sweep(folder: Path, files: int) -> None:
    rng, configs = np.random.default_rng(0), [api.job(["experiment=paper2", f"treatment={t}"]).to_dict() for t in TREATMENTS]
    for n in range(files):  # the seed varies slowest, as in a sweep that lists it first
        c = copy.deepcopy(configs[n % len(TREATMENTS)])
        c["seed"] = c["data"]["seed"] = n // (10 * len(TREATMENTS))
        c["pathology"]["sparsity"] = round(0.5 + 0.05 * (n // len(TREATMENTS) % 10), 2)
        (folder / str(n)).mkdir()
        (folder / str(n) / "result.json").write_bytes(dump_json(synthetic(c, rng)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sweep_dir, out = Path(tmp) / "sweep", Path(tmp) / "out"
        sweep_dir.mkdir()
        t0 = time.perf_counter()
        write_sweep(sweep_dir, args.files)
        print(f"wrote {args.files} synthetic result files in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        sweep = read_results(sweep_dir)
        took = {"read + tidy frame": time.perf_counter() - t0}
        for figures in (False, True):
            t0 = time.perf_counter()
            build(sweep, out / str(figures), figures=figures)
            took["tables + statistics + report" + (" + figures" if figures else "")] = time.perf_counter() - t0
        for what, s in took.items():
            print(f"{what}: {s:.2f} s" + (f" ({len(sweep.runs)} runs, axes {sweep.axes})" if what.startswith("read") else ""))
        print(f"aggregation of {args.files} files, with figures: {took['read + tidy frame'] + s:.2f} s")


if __name__ == "__main__":
    main()
