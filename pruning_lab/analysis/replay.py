"""The replay verdict: ours aggregated and printed as the paper printed, against every printed value.

The papers' tables are the published code's printout: over the seeds, in seed order, NumPy's
mean and standard deviation (ddof = 0) with one decimal, a course's per-cycle values over the
seeds x cycles array (axis 0), and seed counts as whole numbers. A replay of that code
(rng=notebook) is judged the same way, digit by digit: a printed mean and its printed SD are
two values.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .load import ResultSet

COLUMNS = ["table", "row", "column", "stat", "published", "ours", "equal"]


def replayed(results: ResultSet) -> bool:
    """Whether every run replays the published notebook (rng=notebook)."""
    return bool(results.flat) and all(f.get("rng") == "notebook" for f in results.flat.values())


def _by_seed(frame: pd.DataFrame, arm: str, section: str, metric: str, x: float) -> pd.Series:
    rows = frame[(frame["arm"] == arm) & (frame["section"] == section) & (frame["metric"] == metric)]
    rows = rows[rows["x"].isna()] if x is None or (isinstance(x, float) and math.isnan(x)) else rows[rows["x"] == x]
    return rows.sort_values("seed").set_index("seed")["value"]


def _course(frame: pd.DataFrame, arm: str, metric: str) -> np.ndarray:
    """The seeds x cycles array of a course's ``metric``, seeds in order."""
    rows = frame[(frame["arm"] == arm) & (frame["section"] == "longitudinal") & (frame["metric"] == metric)]
    return rows.pivot(index="seed", columns="x", values="value").sort_index().to_numpy()


ABSENT = "(none)"  # a printed value this sweep has nothing for (another course length, an arm left out)


def statistic(frame: pd.DataFrame, p: dict) -> tuple[str, str | None]:
    """Our printed value and printed SD (None where the paper prints none) for published row ``p``."""
    arm, section, metric, x, stat = p["arm"], p["section"], p["metric"], p["x"], p["stat"]
    if section == "longitudinal" and metric in ("combined", "sparsity") and stat in ("mean", "sd"):
        course = _course(frame, arm, metric)  # the published code reduces the whole array along axis 0
        if course.ndim < 2 or course.shape[1] <= int(x):
            return ABSENT, ABSENT
        mean, sd = np.mean(course, axis=0)[int(x)], np.std(course, axis=0)[int(x)]
    else:
        values = _by_seed(frame, arm, section, metric, x).to_numpy()
        if not len(values):
            return ABSENT, ABSENT
        if stat in ("n_true", "n_false"):
            return str(int((values == (1.0 if stat == "n_true" else 0.0)).sum())), None
        if stat in ("min", "max"):
            return f"{(np.min if stat == 'min' else np.max)(values):.1f}", None
        mean, sd = np.mean(values), np.std(values)
    return f"{mean:.1f}", f"{sd:.1f}"


def compare(frame: pd.DataFrame, pub: pd.DataFrame) -> pd.DataFrame:
    """One row per printed value (a mean and its SD are two): the paper's text, ours, equal or not."""
    rows = []
    for p in pub.to_dict("records"):
        counts = p["stat"] in ("n_true", "n_false")
        published = str(int(p["value"])) if counts else f"{p['value']:.1f}"
        ours, ours_sd = statistic(frame, p)
        where = {"table": p["table"], "row": p["row"], "column": p["column"]}
        rows.append({**where, "stat": p["stat"], "published": published, "ours": ours, "equal": published == ours})
        if isinstance(p["sd"], float) and not math.isnan(p["sd"]):
            published_sd = f"{p['sd']:.1f}"
            rows.append({**where, "stat": "sd", "published": published_sd, "ours": ours_sd,
                         "equal": published_sd == ours_sd})
    return pd.DataFrame(rows, columns=COLUMNS)


def verdict(comp: pd.DataFrame, paper: int) -> str:
    return f"{int(comp['equal'].sum())} of {len(comp)} printed values equal paper {paper}'s"


def section(rep, frame: pd.DataFrame, pub: pd.DataFrame, paper: int) -> pd.DataFrame:
    """The replay verdict in report ``rep``: the count, the values that differ, then every value."""
    comp = compare(frame, pub)
    rep.heading("Replay verdict")
    rep.text(f"**{verdict(comp, paper)}.** Every run replays the published notebook (`rng=notebook`): its "
             "random draws in its order and its rounding. Ours are aggregated as it printed them (NumPy's mean "
             "and SD with ddof = 0 over the seeds in order, one decimal; seed counts) and compared as text.")
    differ = comp[~comp["equal"]]
    if len(differ):
        rep.text("The values that differ:")
        rep.frame(differ.drop(columns="equal"))
    rep.details("Every printed value", comp.assign(equal=comp["equal"].map({True: "yes", False: "no"})).to_markdown(
        index=False))
    rep.frames["replay"] = comp
    return comp
