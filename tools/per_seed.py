"""A study's per-seed values as a CSV to commit beside its README, or checked against the one committed.

One row per run x metric of every result under DIR, as ``pruning_lab.load_results`` reads them:
``treatment, seed``, the config values the study sweeps (``pathology.sparsity``,
``treatment.lr``, ...), ``section, metric, x, value``; sorted, values at full precision (a
float's repr), so the same results always give the same file, on any machine.
Usage: python tools/per_seed.py DIR OUT.csv [--check]   (--check: compare, exit 1 on a difference)
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pandas as pd

from pruning_lab import load_results

# the tidy frame's bookkeeping: where a result was read and how it is keyed, not what it measured
DROP = ("config_hash", "path", "label", "baseline_key")


def frame(results: Path) -> pd.DataFrame:
    tidy = load_results(results)
    if tidy.empty:
        sys.exit(f"pruning-lab: error: no results under {results}")
    tidy = tidy.drop(columns=[c for c in DROP if c in tidy])
    axes = [c for c in tidy.columns if c not in ("treatment", "seed", "section", "metric", "x", "value")]
    keys = ["treatment", "seed", *axes, "section", "metric", "x"]
    tidy = tidy[[*keys, "value"]]
    # x is NaN where a metric has none: sort it first, as an empty cell
    return tidy.sort_values(keys, na_position="first", kind="stable").reset_index(drop=True)


def text(df: pd.DataFrame) -> str:
    out = io.StringIO()
    df.to_csv(out, index=False, lineterminator="\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python tools/per_seed.py", description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path, help="a sweep directory or a store")
    p.add_argument("out", type=Path, help="the per-seed CSV")
    p.add_argument("--check", action="store_true", help="compare with OUT instead of writing it")
    args = p.parse_args(argv)
    if args.check and not args.out.is_file():
        sys.exit(f"pruning-lab: error: {args.out} does not exist: write it first (without --check)")
    new = text(frame(args.results))
    if not args.check:
        args.out.write_text(new)
        print(f"pruning-lab: wrote {new.count(chr(10)) - 1} values to {args.out}")
        return 0
    old = args.out.read_text().splitlines()
    got = new.splitlines()
    differ = sorted(set(old) ^ set(got))
    for line in differ[:20]:
        print(("only in the committed file: " if line in old else "only in the results: ") + line)
    print(f"pruning-lab: compared {len(got) - 1} values with {args.out}: {len(differ)} line(s) differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
