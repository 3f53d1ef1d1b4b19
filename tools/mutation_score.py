"""Mutation score of the last ``make mutants`` run, per module, from mutmut's records in mutants/.

mutmut keeps one ``<module>.py.meta`` file per mutated module (exit code of the test run per
mutant). The score is mutmut's own: (killed + timeout) / (mutants - skipped). A mutant with
no test reaching its function counts against the score; one not yet checked is listed apart.
Usage: python tools/mutation_score.py [--survivors]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

COLUMNS = ("killed", "timeout", "survived", "no tests", "not checked")


def read(root: Path) -> dict[str, dict[str, str]]:
    """{module: {mutant: status}} for every module mutmut has records of."""
    out = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module = meta.relative_to(root).as_posix().removesuffix(".py.meta").replace("/", ".")
        out[module] = {k: status_by_exit_code[v] for k, v in codes.items()}
    return out


def score(counts: Counter) -> float | None:
    tested = sum(counts.values()) - counts["skipped"] - counts["not checked"]
    return 100.0 * (counts["killed"] + counts["timeout"]) / tested if tested else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants (mutmut show NAME)")
    args = parser.parse_args()
    modules = read(args.root)
    if not modules:
        raise SystemExit(f"no mutmut records under {args.root}/: run make mutants first")
    rows, total = [], Counter()
    for module, statuses in modules.items():
        c = Counter(statuses.values())
        total += c
        rows.append((module, c))
    rows.append(("all", total))
    width = max(len(m) for m, _ in rows)
    print(f"{'module':<{width}}  {'mutants':>7}  " + "  ".join(f"{c:>11}" for c in COLUMNS) + "  score")
    for module, c in rows:
        s = score(c)
        other = sum(c.values()) - sum(c[k] for k in COLUMNS)  # suspicious, segfault, ...
        print(f"{module:<{width}}  {sum(c.values()):>7}  " + "  ".join(f"{c[k]:>11}" for k in COLUMNS)
              + f"  {'-' if s is None else f'{s:.1f}%'}" + (f"  (+{other} other)" if other else ""))
    if args.survivors:
        for module, statuses in modules.items():
            for name, status in statuses.items():
                if status in ("survived", "no tests"):
                    print(f"{status:>9}  {name}")


if __name__ == "__main__":
    main()
