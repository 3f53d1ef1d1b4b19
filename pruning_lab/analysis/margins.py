"""Equivalence margins: the rule that sets one, and the margins files that declare them
(``experiments/paper<N>/margins.csv``, one line per line of ``published.csv``).

The rule (``margin``): ±2 pp for accuracies within 3 pp of their Bayes ceiling, or of chance,
where little room is left; ±5 pp elsewhere. A margin is fixed before any result is looked at:
the files apply the rule to the published value alone.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd

from ..config import ConfigError
from .load import MEASURE_NAMES
from .measures import ARMS

NEAR = 3.0     # pp from the ceiling (or from chance) within which an accuracy counts as near it
TIGHT = 2.0    # the margin near a bound
WIDE = 5.0     # the margin elsewhere
# paper 2's Bayes ceilings (%), by metric (stats.ceilings: clean set, standard set and every
# internal-noise level, combined stress), and chance with four balanced classes
CEILINGS = {"clean": 100.0, "standard": 99.98, "profile": 99.98, "combined": 98.1, "final": 98.1}
CHANCE = 25.0
STATS = ("mean", "min", "max", "n_true", "n_false")
UNITS = ("pp", "risk difference", "cycles")
KEY = ("table", "row", "column", "arm", "section", "metric", "x", "stat")


def margin(values, ceiling: float, chance: float | None = CHANCE) -> float:
    """±2 pp when every accuracy of ``values`` lies within 3 pp of ``ceiling`` (or every one within
    3 pp of ``chance``), else ±5 pp: the margin of a value, or of a comparison of several."""
    values = [float(v) for v in values if v is not None and not math.isnan(v)]  # an arm a sweep lacks
    near_top = not math.isnan(ceiling) and all(ceiling - v <= NEAR for v in values)
    near_chance = chance is not None and all(v - chance <= NEAR for v in values)
    return TIGHT if values and (near_top or near_chance) else WIDE


# -- the files ------------------------------------------------------------------------------


def lines(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    """A CSV file's rows with the line each starts on; ConfigError naming the file when a column is missing."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"{path}:1: missing column(s) {', '.join(missing)}")
            out, start = [], 2
            for row in reader:
                out.append((start, {k: (v or "").strip() for k, v in row.items() if k is not None}))
                start = reader.line_num + 1
            return out
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(f"{path}: cannot be read ({e})") from None


def side(where: str, arm: str, name: str, x: str, arms=None) -> None:
    """ConfigError unless ``arm`` is an arm (the registry's, or one of ``arms``), ``name`` a
    ``section.metric`` results hold and ``x`` empty or a number."""
    if arm not in ARMS and arm not in (arms or ()):
        raise ConfigError(f"{where}: unknown arm {arm!r} (one of {', '.join(ARMS)})")
    if name not in MEASURE_NAMES:
        raise ConfigError(f"{where}: unknown metric {name!r} (a section.metric results hold, e.g. treated.combined)")
    if x:
        number(where, "x", x)


def number(where: str, column: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"{where}: {column} must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise ConfigError(f"{where}: {column} must be finite, got {text!r}")
    return v


def load(path: Path, published: pd.DataFrame, published_path: Path | str = "published.csv") -> pd.DataFrame:
    """``published`` (``published.load``) with each value's ``margin``, ``unit``, ``rule`` and
    ``rationale`` from the margins file ``path``; ConfigError (file and line) on a margin that is
    not a number > 0, an unknown arm, metric or published row, or a published value without one."""
    rows = lines(path, (*KEY, "value", "margin", "unit", "rule", "rationale"))
    index = {(r["table"], r["row"], r["column"]): i for i, r in enumerate(published.to_dict("records"))}
    found: dict[int, dict] = {}
    for line, r in rows:
        where = f"{path}:{line}"
        side(where, r["arm"], f"{r['section']}.{r['metric']}", r["x"])
        if r["stat"] not in STATS:
            raise ConfigError(f"{where}: unknown stat {r['stat']!r} (one of {', '.join(STATS)})")
        m = number(where, "margin", r["margin"])
        if m <= 0:
            raise ConfigError(f"{where}: the margin must be > 0, got {r['margin']}")
        if r["unit"] not in UNITS:
            raise ConfigError(f"{where}: unknown unit {r['unit']!r} (one of {', '.join(UNITS)})")
        i = index.get((r["table"], r["row"], r["column"]))
        if i is None:
            raise ConfigError(f"{where}: no published value at {r['table']} | {r['row']} | {r['column']} "
                              f"(unknown table row)")
        p = published.iloc[i]
        px = "" if pd.isna(p["x"]) else f"{float(p['x']):g}"
        rx = f"{float(r['x']):g}" if r["x"] else ""
        if (r["arm"], r["section"], r["metric"], rx, r["stat"]) != (p["arm"], p["section"], p["metric"], px, p["stat"]):
            raise ConfigError(f"{where}: {r['table']} | {r['row']} | {r['column']} is "
                              f"{p['arm']} {p['section']}.{p['metric']} {px} {p['stat']} in {published_path}")
        if i in found:
            raise ConfigError(f"{where}: a second margin for {r['table']} | {r['row']} | {r['column']}")
        found[i] = {"margin": m, "unit": r["unit"], "rule": r["rule"], "rationale": r["rationale"]}
    missing = [i for i in range(len(published)) if i not in found]
    if missing:
        p = published.iloc[missing[0]]
        raise ConfigError(f"{published_path}:{missing[0] + 2}: no margin for {p['table']} | {p['row']} | "
                          f"{p['column']} in {path}")
    return published.assign(**{k: [found[i][k] for i in range(len(published))]
                               for k in ("margin", "unit", "rule", "rationale")})
