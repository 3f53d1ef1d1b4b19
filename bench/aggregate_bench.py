"""Time the aggregation of many result files: ``python bench/aggregate_bench.py [--files 1000]``.

Writes synthetic results (real configs, random metrics, real checksums) into a temporary
directory: 4 treatments x 10 values of pathology.sparsity x seeds, as a sweep over an axis
would, then times reading, the report without figures, and the figures. Prints seconds.
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

from pruning_lab.analysis.load import read_results  # noqa: E402
from pruning_lab.analysis.sections import build  # noqa: E402
from pruning_lab.config import SCHEMA, Job, content_hash  # noqa: E402
from pruning_lab.store import dump_json  # noqa: E402

TREATMENTS = ("ketamine", "ssri", "neurosteroid", "random_regrowth")
SPARSITIES = [round(0.5 + 0.05 * i, 2) for i in range(10)]
SIGMAS = ("0", "0.5", "1", "1.5", "2.5")


def base_configs() -> dict[str, dict]:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return {t: Job.from_config(compose("config", overrides=["experiment=paper2", f"treatment={t}"])).to_dict()
                for t in TREATMENTS}


def evaluation(rng, level: float, sparsity: float) -> dict:
    acc = lambda: float(np.clip(rng.normal(level, 3.0), 0, 100))  # noqa: E731
    return {"sparsity": sparsity, "layer_sparsity": [sparsity] * 4, "clean": acc(), "standard": acc(),
            "combined": acc(), "profile": {s: acc() for s in SIGMAS}}


def synthetic(config: dict, rng) -> dict:
    s = 100 * config["pathology"]["sparsity"]
    treated = evaluation(rng, 90, s)
    course = list(np.clip(rng.normal(90, 5, 9), 0, 100).astype(float))
    relapsed = [c for c, a in enumerate(course) if a < 80]
    modulated = any(p["kind"] == "modulate" for p in config["treatment"]["phases"])
    return {
        "schema": SCHEMA, "config_hash": content_hash(config), "config": config, "seed": config["seed"],
        "treatment": config["treatment"]["name"], "label": config["treatment"]["label"],
        "metrics": {"healthy": evaluation(rng, 99, 0.0), "untreated": evaluation(rng, 30, s), "treated": treated,
                    "off_drug": evaluation(rng, 60, s) if modulated else None,
                    "relapse": {"drop": float(rng.normal(5, 3)), "combined_before": treated["combined"],
                                "combined_after": treated["combined"] - 5, "sparsity_before": s,
                                "sparsity_after": s + 2, "target": s + 2},
                    "longitudinal": {"combined": course, "sparsity": [s + c for c in range(9)],
                                     "relapse_cycle": relapsed[0] if relapsed else None, "final": course[-1],
                                     "total_drop": course[0] - course[-1]}},
        "baseline": {"key": f"b{config['seed']}-{config['pathology']['sparsity']}", "cache_hit": True},
        "timings": {"baseline": 1.0, "evaluate": 2.0, "longitudinal": 30.0}, "wall_seconds": 60.0,
        "versions": {"pruning_lab": "bench", "torch": "bench"},
    }


def write_sweep(folder: Path, files: int) -> int:
    configs = base_configs()
    rng = np.random.default_rng(0)
    seeds = -(-files // (len(TREATMENTS) * len(SPARSITIES)))
    n = 0
    for t in TREATMENTS:
        for sp in SPARSITIES:
            for seed in range(seeds):
                if n == files:
                    return n
                c = copy.deepcopy(configs[t])
                c["seed"] = c["data"]["seed"] = seed
                c["pathology"]["sparsity"] = sp
                job = folder / f"{n}_{t}_s{seed}"
                job.mkdir()
                (job / "result.json").write_bytes(dump_json(synthetic(c, rng)))
                n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--no-figures", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sweep_dir, out = Path(tmp) / "sweep", Path(tmp) / "out"
        sweep_dir.mkdir()
        t0 = time.perf_counter()
        n = write_sweep(sweep_dir, args.files)
        print(f"wrote {n} synthetic result files in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        sweep = read_results(sweep_dir)
        t_read = time.perf_counter() - t0
        print(f"read + tidy frame: {t_read:.2f} s ({len(sweep.runs)} runs, {len(sweep.tidy)} rows, "
              f"axes {sweep.axes})")
        t0 = time.perf_counter()
        build(sweep, out, figures=False)
        t_report = time.perf_counter() - t0
        print(f"tables + statistics + report: {t_report:.2f} s")
        total = t_read + t_report
        if not args.no_figures:
            from pruning_lab.analysis.arms import arms, layout
            from pruning_lab.analysis.figures import all_figures, save
            from pruning_lab.analysis.sections import _threshold

            t0 = time.perf_counter()
            figs = all_figures(arms(sweep), layout(sweep), 1, _threshold(sweep))
            for name, fig, _ in figs:
                save(fig, out / "figures", name)
            t_fig = time.perf_counter() - t0
            print(f"figures: {t_fig:.2f} s ({len(figs)} PNG + SVG pairs)")
            total += t_fig
        print(f"aggregation of {n} files: {total:.2f} s")


if __name__ == "__main__":
    main()
