"""``python -m pruning_lab.aggregate DIR``: tables, figures and a report (report.md, report.html) from per-run
result JSONs."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from ..config import ConfigError
from ..store import check_dir
from .load import read_results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pruning_lab.aggregate",
                                 description="Tables, figures and a report (Markdown and HTML) from per-run result JSONs.")
    ap.add_argument("dir", type=Path, help="a Hydra sweep directory or a result store (searched recursively)")
    ap.add_argument("--out", type=Path, default=None,
                    help="where report.md, report.html, tables/ and figures/ go (default: DIR)")
    ap.add_argument("--population-sd", action="store_true",
                    help="SD with ddof=0, as the papers reported (default: sample SD, ddof=1)")
    ap.add_argument("--paper", choices=("auto", "1", "2", "none"), default="auto",
                    help="published study to compare with (auto: the paper whose protocol every run follows, "
                         "if any; otherwise a study report)")
    ap.add_argument("--published", type=Path, default=None,
                    help="directory holding paper1/ and paper2/ published.csv (default: the repo's experiments/)")
    ap.add_argument("--control", metavar="ARM", default=None,
                    help="compare every other arm with this one, paired by seed (default: the control the sweep's "
                         "preset names, if any)")
    ap.add_argument("--no-figures", action="store_true", help="skip the figures (faster)")
    ap.add_argument("--quiet", action="store_true", help="only print where the report is")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    if not args.dir.is_dir():
        print(f"pruning-lab: error: {args.dir} is not a directory", file=sys.stderr)
        return 2
    try:
        return _aggregate(args)
    except ConfigError as e:  # --out or --published that cannot serve
        print(f"pruning-lab: error: {e}", file=sys.stderr)
        return 2


def _aggregate(args: argparse.Namespace) -> int:
    out = check_dir(args.out or args.dir, "--out")
    if args.published is not None and not args.published.is_dir():
        raise ConfigError(f"--published {args.published} is not a directory")
    for record in ("search.json", "sensitivity.json"):
        if (args.dir / record).is_file():  # a study's directory: its own tables and figures
            from ..studies.search import tables as search
            from ..studies.sensitivity import tables as sensitivity

            tables = search if record == "search.json" else sensitivity
            print(f"report: {tables.write(args.dir, out)}")
            return 0
    from . import claims, verdict
    from .sections import build

    # the papers' margins and claims are read before anything is written: a bad line stops here
    for paper in (1, 2):
        verdict.published_with_margins(paper, args.published)
        claims.load_paper(paper, args.published)
    results = read_results(args.dir)
    paper = {"auto": None, "none": "none", "1": 1, "2": 2}[args.paper]
    with warnings.catch_warnings():  # no result: the count below says so, in the command's own words
        warnings.filterwarnings("ignore", ".*holds no valid result", UserWarning)
        path = build(results, out, ddof=0 if args.population_sd else 1, paper=paper, published_dir=args.published,
                     figures=not args.no_figures, control=args.control)
    if not args.quiet:
        n_t = results.runs["treatment"].nunique() if len(results.runs) else 0
        print(f"{len(results.runs)} runs ({len(results.seeds)} seeds x {n_t} treatments"
              f"{', axes: ' + ', '.join(results.axes) if results.axes else ''}); "
              f"{len(results.problems)} bad file(s) skipped, {len(results.missing)} missing cell(s)")
    print(f"report: {path}")
    return 0 if len(results.runs) else 1

if __name__ == "__main__":
    sys.exit(main())
