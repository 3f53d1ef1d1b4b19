"""``python -m pruning_lab.verify``: rerun paper 2 and compare every per-seed metric with the reference.

The sweep runs from nothing (a temporary store and sweep directory, removed afterwards) in
the default, portable numerics, so on any x86-64 CPU with AVX2 and the locked packages it must
reproduce ``experiments/paper2/expected.csv`` value for value: the script prints how many
values it compared and each one that differs, and exits 1 if any does (2 if the sweep
itself failed). ``--write`` makes the reference from the run instead; ``--results DIR``
compares (or writes) results already computed, without running anything; ``--table`` prints
the README's results table (mean ± sample SD over seeds) from the reference. ``--replay``
does the same for the replay of the published notebook (experiment=replay_paper2, rng=notebook)
against ``experiments/paper2/replay.csv``: its numbers are native, so they hold on CPUs that
round torch's own products as the one that wrote the reference did.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from .analysis.measures import PAPER_TREATMENTS
from .tree import leaves

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ROOT / "experiments" / "paper2" / "expected.csv"
REPLAY = ROOT / "experiments" / "paper2" / "replay.csv"
FIELDS = ("treatment", "seed", "metric", "value")


def text(value) -> str:
    """A leaf as the CSV holds it: repr of a float (exact round trip), empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(float(value)) if isinstance(value, float) else str(value)


def rows(results_dir: Path) -> dict[tuple[str, str, str], str]:
    """{(treatment, seed, metric): value} of every result JSON under ``results_dir`` (once per hash)."""
    out: dict[tuple[str, str, str], str] = {}
    seen: dict[tuple[str, str], str] = {}  # (treatment, seed) -> config hash
    for path in sorted(results_dir.rglob("*.json")):
        try:
            result = json.loads(path.read_text())
        except ValueError:
            continue
        if not isinstance(result, dict) or "metrics" not in result:
            continue
        job = (result["treatment"], str(result["seed"]))
        if seen.setdefault(job, result["config_hash"]) != result["config_hash"]:
            print(f"pruning-lab: error: {results_dir} holds two results for {job[0]} seed {job[1]} "
                  f"(config hashes {seen[job]} and {result['config_hash']}): give it one sweep's", file=sys.stderr)
            sys.exit(2)
        for metric, value in leaves(result["metrics"]):  # list items by index: cycle 0, 1, ...
            out[(result["treatment"], str(result["seed"]), metric)] = text(value)
    return out


def read(path: Path) -> dict[tuple[str, str, str], str]:
    with path.open(newline="") as f:
        return {(r["treatment"], r["seed"], r["metric"]): r["value"] for r in csv.DictReader(f)}


def write(values: dict[tuple[str, str, str], str], path: Path) -> None:
    order = sorted(values, key=lambda k: (k[0], int(k[1]), k[2]))
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(FIELDS)
        w.writerows((*k, values[k]) for k in order)


def same(a: str, b: str) -> bool:
    """Equal values; NaN equals NaN (a metric undefined on both sides)."""
    if a == b:
        return True
    try:
        return math.isnan(float(a)) and math.isnan(float(b))
    except ValueError:
        return False


def compare(expected: dict, got: dict) -> list[str]:
    lines = []
    for key in sorted(set(expected) | set(got), key=lambda k: (k[0], int(k[1]), k[2])):
        e, g = expected.get(key), got.get(key)
        if e is not None and g is not None and same(e, g):
            continue
        where = f"{key[0]} seed {key[1]} {key[2]}"
        lines.append(f"{where}: expected {e if e is not None else '(none)'}, got {g if g is not None else '(none)'}")
    return lines


ARMS = PAPER_TREATMENTS
# the README's table: its label, the metric per arm (None: no cell) and the paper's values
TABLE = [
    ("untreated, combined stress", {"ketamine": "untreated.combined"}, "28.9 ± 2.4"),
    ("combined stress: ketamine / SSRI / neurosteroid", dict.fromkeys(ARMS, "treated.combined"), "97.3 / 81.3 / 97.8"),
    ("extreme noise (σ 2.5): ketamine / SSRI / neurosteroid", dict.fromkeys(ARMS, "treated.profile.2.5"),
     "81.7 / 42.0 / 41.2"),
    ("acute relapse drop (pp): ketamine / SSRI / neurosteroid", dict.fromkeys(ARMS, "relapse.drop"), "0.0 / 9.1 / 6.9"),
    ("cycle 8 accuracy: ketamine / SSRI / neurosteroid", dict.fromkeys(ARMS, "longitudinal.combined.8"),
     "97.6 / 93.2 / 88.2"),
]


def table(values: dict[tuple[str, str, str], str]) -> str:
    """The README's results table from reference ``values`` (mean ± sample SD over seeds)."""
    import statistics

    def per_seed(arm: str, metric: str) -> list[float]:
        return [float(v) for (t, _, m), v in sorted(values.items()) if t == arm and m == metric and v != ""]

    def cell(arm: str, metric: str) -> str:
        xs = per_seed(arm, metric)
        return f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs):.1f}"

    lines = ["| | ours | paper 2 |", "|---|---|---|"]
    for label, metrics, paper in TABLE:
        lines.append(f"| {label} | {' / '.join(cell(a, m) for a, m in metrics.items())} | {paper} |")
    lines.append(f"| neurosteroid off drug: combined / extreme | {cell('neurosteroid', 'off_drug.combined')} / "
                 f"{cell('neurosteroid', 'off_drug.profile.2.5')} | 68.8 / 51.9 |")
    relapsed = [sum(v != "" for (t, _, m), v in values.items() if t == a and m == "longitudinal.relapse_cycle")
                for a in ARMS]
    seeds = len({s for t, s, _ in values if t == ARMS[0]})
    lines.append(f"| seeds relapsed (< 80%): ketamine / SSRI / neurosteroid | {' / '.join(map(str, relapsed))} "
                 f"of {seeds} | 0 / 4 / 2 of 10 |")
    sparsity = {a: (statistics.mean(per_seed(a, "longitudinal.sparsity.0")),
                    statistics.mean(per_seed(a, "longitudinal.sparsity.8"))) for a in ARMS}
    lines.append("| sparsity, cycle 0 -> 8: " + " / ".join(ARMS) + " | "
                 + " / ".join(f"{a:.1f} -> {b:.1f}" for a, b in sparsity.values()) + " | 47.5 -> 77.4 / not printed / not printed |")
    return "\n".join(lines)


def sweep(tmp: Path, overrides: list[str], experiment: str = "paper2") -> Path:
    """Run ``experiment`` into ``tmp`` (store and sweep directory); the sweep directory."""
    out = tmp / "sweep"
    cmd = [sys.executable, "-m", "pruning_lab.run", f"experiment={experiment}", f"paths.store={tmp / 'store'}",
           f"hydra.sweep.dir={out}", *overrides]
    print("pruning-lab verify:", " ".join(cmd[1:]), flush=True)
    code = subprocess.call(cmd, cwd=ROOT)
    if code != 0:
        print(f"pruning-lab: error: the sweep exited with status {code}", file=sys.stderr)
        sys.exit(2)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pruning_lab.verify", description=__doc__.splitlines()[0])
    p.add_argument("--expected", type=Path, default=None,
                   help=f"reference CSV (default: {EXPECTED}, or {REPLAY} with --replay)")
    p.add_argument("--replay", action="store_true",
                   help="the replay of the published notebook (experiment=replay_paper2) instead of paper 2")
    p.add_argument("--results", type=Path, help="compare results already under this directory; run nothing")
    p.add_argument("--write", action="store_true", help="write the reference from the run instead of comparing")
    p.add_argument("--table", action="store_true", help="print the README's results table from the reference")
    p.add_argument("overrides", nargs="*", help="extra overrides for the sweep (e.g. hydra.launcher.n_jobs=2)")
    args = p.parse_args(argv)
    args.expected = args.expected or (REPLAY if args.replay else EXPECTED)
    if not args.write and not args.expected.is_file():
        print(f"pruning-lab: error: no reference {args.expected} (--write makes one)", file=sys.stderr)
        return 2
    if args.table:
        print(table(read(args.expected)))
        return 0

    with tempfile.TemporaryDirectory(prefix="pruning-lab-verify-") as tmp:
        got = rows(args.results if args.results else
                   sweep(Path(tmp), args.overrides, "replay_paper2" if args.replay else "paper2"))
    if not got:
        print("pruning-lab: error: no results to compare", file=sys.stderr)
        return 2
    if args.write:
        write(got, args.expected)
        print(f"pruning-lab verify: wrote {len(got)} values to {args.expected}")
        return 0
    expected = read(args.expected)
    differences = compare(expected, got)
    for line in differences:
        print(line)
    jobs = len({k[:2] for k in expected})
    print(f"pruning-lab verify: compared {len(expected)} values of {jobs} jobs with {args.expected.name}: "
          f"{len(differences)} difference(s)")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
