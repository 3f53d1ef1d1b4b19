"""Every arm against a control arm, paired by seed, and the margin a difference must clear.

Per condition (the sweep's global axes), headline measure and arm: the mean paired difference
arm − control with its 95% t interval, Hedges' g, the paired t-test and the Wilcoxon signed-rank
test, each Holm-adjusted over every arm × measure × condition of the table, and a verdict by the
equivalence margin of ``margins`` (the difference's 90% interval inside ±margin: equivalent; a
Holm-significant difference at least the margin in the measure's better direction: better, or
worse; anything else: not told apart).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats as st

from ..config import ConfigError
from .arms import Layout, arm_keys, select_arm
from .margins import margin
from .measures import BASELINE_ARMS, Measure, ranked
from .stats import ALPHA, ceilings, hedges_g, holm, near_constant
from .study import _measures, extreme_sigma, measure
from .tables import DASH, Table, num

# the accuracies (section, metric, x) a headline measure involves, and the ceiling they sit under:
# a drop involves both of its ends ("last": the course's last cycle)
ENDS = {("treated", "combined"): ("combined", [("treated", "combined", None)]),
        ("treated", "profile"): ("standard", [("treated", "profile", "extreme")]),
        ("longitudinal", "final"): ("combined", [("longitudinal", "final", None)]),
        ("relapse", "drop"): ("combined", [("relapse", "combined_before", None), ("relapse", "combined_after", None)]),
        ("longitudinal", "total_drop"): ("combined", [("longitudinal", "combined", 0.0),
                                                      ("longitudinal", "combined", "last")])}


class ControlError(ConfigError):
    """A control arm the results cannot be compared with; the message is one line."""


def min_signed_rank_p(n: int) -> float:
    """The smallest two-sided p the exact Wilcoxon signed-rank test can give with ``n`` nonzero differences."""
    return 2.0 ** (1 - n) if n > 0 else 1.0


def t_interval(d: np.ndarray, level: float) -> tuple[float, float]:
    """The ``level`` t interval of the mean of ``d`` (the paired t-test's); NaN below 2 values or without spread."""
    if len(d) < 2 or np.ptp(d) == 0:
        return (math.nan, math.nan) if len(d) < 2 else (float(d[0]), float(d[0]))
    lo, hi = st.t.interval(level, len(d) - 1, loc=d.mean(), scale=d.std(ddof=1) / math.sqrt(len(d)))
    return float(lo), float(hi)


class MarginRule:
    """The margin of a comparison between arms of a sweep, from its configs' Bayes ceilings."""

    def __init__(self, configs: dict, layout: Layout):
        self.configs, self.chance = configs, layout.chance

    def __call__(self, h: Measure, sub: pd.DataFrame, layout: Layout, keys: list[tuple[str, tuple]]) -> float:
        """The margin of measure ``h`` between the arms ``keys`` of ``sub`` (one condition)."""
        kind, ends = ENDS.get((h.section, h.metric), ("combined", []))
        config = next((self.configs[c] for c in sub["config_hash"] if c in self.configs), None)
        ceiling = next((c["ceiling"] for c in ceilings(config) if c["metric"] == kind), math.nan) \
            if config is not None else math.nan
        xe, means = extreme_sigma(sub), []
        for section, metric, x in ends:
            m = sub[(sub["section"] == section) & (sub["metric"] == metric)]
            if x == "extreme":
                x = xe
            if x == "last":
                x = m["x"].max() if len(m) else None
            if x is not None:
                m = m[np.isclose(m["x"].astype(float), x)]
            means += [select_arm(m, layout, arm, tv)["value"].mean() for arm, tv in keys]
        return margin(means, ceiling, self.chance)


def _by_seed(m: pd.DataFrame, layout: Layout, arm: str, tv: tuple) -> pd.Series:
    return select_arm(m, layout, arm, tv).drop_duplicates("seed").set_index("seed")["value"].sort_index()


def check(frame: pd.DataFrame, control: str) -> pd.DataFrame:
    """The treatment arms of ``frame``; ``ControlError`` if ``control`` is not one of them."""
    t = frame[~frame["arm"].isin(list(BASELINE_ARMS))]
    if control not in set(t["arm"]):
        raise ControlError(f"control arm {control!r} is not in these results; arms: "
                           + ", ".join(sorted(set(t["arm"]))))
    return t


def compare(frame: pd.DataFrame, layout: Layout, control: str, margin: Callable, ddof: int = 1) -> pd.DataFrame:
    """One row per condition, headline measure and arm: the arm against ``control`` (an arm name), paired by seed."""
    t = check(frame, control)
    g = layout.global_axes
    rows = []
    for key, sub in ([((), t)] if not g else ranked(t.groupby(g, sort=False))):
        key = key if isinstance(key, tuple) else (key,)
        for h in _measures(sub):
            m = measure(sub, h, arm_own=False)
            keys = arm_keys(m, layout)
            mine = [k for k in keys if k[0] == control]
            if len(mine) > 1:
                raise ControlError(f"control arm {control!r} has {len(mine)} variants here "
                                   f"({', '.join(layout.treatment_axes)}): compare within one, or name another")
            if not mine:
                continue
            c = _by_seed(m, layout, *mine[0])
            for other in (k for k in keys if k != mine[0]):
                a = _by_seed(m, layout, *other)
                seeds = a.index.intersection(c.index)
                d = (a.loc[seeds] - c.loc[seeds]).to_numpy(float)
                row = {**dict(zip(g, key)), "measure": h.title, "metric": f"{h.section}.{h.metric}",
                       "arm": other[0], "label": layout.label(*other), "control": layout.label(*mine[0]),
                       "better": h.better, "n": len(seeds), "arm_mean": a.loc[seeds].mean(),
                       "arm_sd": a.loc[seeds].std(ddof=ddof), "control_mean": c.loc[seeds].mean(),
                       "control_sd": c.loc[seeds].std(ddof=ddof), "diff": d.mean() if len(d) else math.nan,
                       "margin": margin(h, sub, layout, [other, mine[0]])}
                row["diff_lo"], row["diff_hi"] = t_interval(d, 0.95)
                row["diff_lo90"], row["diff_hi90"] = t_interval(d, 0.90)
                row["g"] = hedges_g(a.loc[seeds], c.loc[seeds])
                with near_constant():
                    row["p_t"] = float(st.ttest_rel(a.loc[seeds], c.loc[seeds]).pvalue) \
                        if len(d) > 1 and np.ptp(d) > 0 else math.nan
                nonzero = int((d != 0).sum())
                row["p_W"] = float(st.wilcoxon(d).pvalue) if nonzero else math.nan
                row["n_W"], row["min_p_W"] = nonzero, min_signed_rank_p(nonzero) if nonzero else math.nan
                rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_t_holm"] = holm(out["p_t"].to_numpy(float))
    out["p_W_holm"] = holm(out["p_W"].to_numpy(float))
    out["verdict"] = [verdict(r, len(out)) for r in out.to_dict("records")]
    return out


def verdict(r: dict, family: int) -> str:
    """better / worse / equivalent / not told apart, with why when it is the last."""
    if math.isnan(r["p_t_holm"]) and math.isnan(r["diff_lo90"]):
        return "untested (fewer than 2 paired seeds)"
    if r["diff_lo90"] >= -r["margin"] and r["diff_hi90"] <= r["margin"]:
        return "equivalent"
    signed = r["better"] * r["diff"]
    if r["p_t_holm"] < ALPHA and signed >= r["margin"]:
        return "better"
    if r["p_t_holm"] < ALPHA and -signed >= r["margin"]:
        return "worse"
    if r["p_t_holm"] < ALPHA:
        return "not told apart (a difference, but smaller than the margin)"
    if not math.isnan(r["p_t"]) and r["p_t"] < ALPHA:
        return f"not told apart (the 95% CI excludes 0, but not after Holm over {family} comparisons)"
    return "not told apart"


def table(cells: pd.DataFrame, layout: Layout, control: str) -> Table:
    """The comparisons as the report prints them."""
    def ms(m, s):
        return num(m) + ("" if math.isnan(s) else f" ± {num(s)}")

    def p(v):
        return DASH if math.isnan(v) else ("<0.001" if v < 0.001 else f"{v:.3f}")
    recs = cells.to_dict("records")
    display = pd.DataFrame({
        **{a: cells[a] for a in layout.global_axes},
        "Measure": cells["measure"], "Arm": cells["label"], "n": cells["n"].astype(str),
        "Arm mean ± SD": [ms(r["arm_mean"], r["arm_sd"]) for r in recs],
        "Control mean ± SD": [ms(r["control_mean"], r["control_sd"]) for r in recs],
        "Arm − control [95% CI]": [num(r["diff"], 2) + ("" if math.isnan(r["diff_lo"]) else
                                                         f" [{r['diff_lo']:.2f}, {r['diff_hi']:.2f}]") for r in recs],
        "Hedges' g": cells["g"].map(lambda v: num(v, 2)),
        "p, paired t (Holm)": cells["p_t_holm"].map(p),
        "p, signed-rank (Holm)": cells["p_W_holm"].map(p),
        "Margin (pp)": cells["margin"].map(lambda v: f"±{v:g}"),
        "Verdict": cells["verdict"],
    })
    return Table("control", f"Every arm against the control, {cells['control'].iloc[0]}", display, cells,
                 "Paired by seed (the arms of a seed share its pruned network): the mean difference arm − control "
                 "with its 95% t interval, Hedges' g (pooled SD, bias-corrected), the paired t-test and the Wilcoxon "
                 f"signed-rank test (two-sided), each Holm-adjusted over the {len(cells)} comparisons of this table. "
                 "Verdict: equivalent when the 90% interval of the difference lies inside ±margin (two one-sided "
                 "tests at α = 0.05); better (worse) when the paired t-test is significant after Holm and the "
                 "difference is at least the margin in the measure's better (worse) direction (higher accuracy, a "
                 "smaller drop); otherwise not told apart. Margin: 2 pp where every accuracy the comparison "
                 "involves (both arms; both ends of a drop) lies within 3 pp of its Bayes ceiling or of chance, "
                 "else 5 pp.")


def notes(cells: pd.DataFrame) -> list[str]:
    """What a reader must know to read the table: tests that cannot reach α at these n."""
    out = []
    floor = cells[cells["min_p_W"] > ALPHA]
    if len(floor):
        n = int(floor["n_W"].max())
        out.append(f"**The signed-rank test cannot reach p < {ALPHA:g} in {len(floor)} of these comparisons**: with "
                   f"n ≤ {n} nonzero paired differences its smallest two-sided p is {floor['min_p_W'].min():.4g} "
                   "(2^(1−n)), so there its p-values say nothing about a difference; the verdicts rest on the paired "
                   "t-test.")
    held = cells[cells["min_p_W"] * len(cells) > ALPHA]
    if len(held) and not len(floor):
        out.append(f"After Holm over {len(cells)} comparisons the signed-rank test's smallest attainable adjusted p "
                   f"is {(cells['min_p_W'].min() * len(cells)):.3g}: above α = {ALPHA:g} for "
                   f"{len(held)} of them, which it cannot call different.")
    return out


def tally(cells: pd.DataFrame) -> str:
    """How many comparisons came out better, worse, equivalent and not told apart."""
    counts = cells["verdict"].str.split(" ").str[0].value_counts()
    told = [f"{counts.get(v, 0)} {v}" for v in ("better", "worse", "equivalent")]
    rest = len(cells) - sum(counts.get(v, 0) for v in ("better", "worse", "equivalent"))
    return ", ".join(told) + f", {rest} not told apart"


def section(rep, frame: pd.DataFrame, layout: Layout, control: str, margin: Callable, ddof: int = 1) -> None:
    """The report's section: every arm against ``control`` (``ControlError`` if it is not in ``frame``)."""
    cells = compare(frame, layout, control, margin, ddof)
    rep.heading(f"Against the control: {layout.label(control)}")
    if cells.empty:
        rep.text("_(no other arm to compare with the control)_")
        return
    rep.text(f"{len(cells)} comparisons ({cells['arm'].nunique()} arms × {cells['measure'].nunique()} headline "
             f"measures): {tally(cells)}.")
    rep.text(*notes(cells))
    rep.table(table(cells, layout, control))
    rep.frames["control"] = cells
