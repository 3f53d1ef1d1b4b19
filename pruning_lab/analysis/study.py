"""A study's own statistics: each numeric axis as a table, dose-response fits, and which arm is best.

- ``axis_tables``: per numeric swept axis, mean ± SD and n of the headline measures per value and
  treatment (one block per combination of the other swept axes).
- ``fits``: with 4 values or more on an axis, a 4-parameter logistic per arm and accuracy measure
  (``scipy.optimize.curve_fit``), its half-effect dose, and that dose's percentile bootstrap CI
  from resampling seeds (each seed keeps its whole curve).
- ``best_arms``: per condition and headline measure, the best arm, the runner-up, and the paired
  (by seed) difference between them with its test.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats as st
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.special import expit

from . import dose
from .arms import Layout, arm_keys, select_arm
from .measures import BASELINE_ARMS, FITTED, HEADLINE, Measure, ranked
from .stats import bootstrap_distribution, compare_paired, compare_two, holm, pairable, percentile
from .tables import DASH, Table, mean_sd, num

MIN_LEVELS = 4
MIN_SEEDS_CI = 4   # with fewer seeds, a handful of distinct resamples: no interval to speak of
RESAMPLES = 1000
LEVEL = 0.95       # of the half-effect dose's bootstrap interval
ALPHA = 0.05


def extreme_sigma(frame: pd.DataFrame) -> float | None:
    xs = frame.loc[frame["metric"] == "profile", "x"]
    return float(xs.max()) if len(xs) else None


def measure(frame: pd.DataFrame, h: Measure, arm_own: bool = True) -> pd.DataFrame:
    """Rows of one headline measure; a baseline arm's treated measures are its own section's."""
    xe = extreme_sigma(frame) if h.x == "extreme" else h.x
    sections = [h.section] + (list(BASELINE_ARMS) if h.section == "treated" and arm_own else [])
    m = frame[frame["section"].isin(sections) & (frame["metric"] == h.metric)]
    m = m[(m["section"] == h.section) | (m["arm"] == m["section"])]
    if xe is not None:
        m = m[np.isclose(m["x"].astype(float), xe)]
    return m


def _measures(frame: pd.DataFrame) -> list[Measure]:
    present = set(zip(frame["section"], frame["metric"]))
    return [h for h in HEADLINE if (h.section, h.metric) in present]


# -- a table per axis ------------------------------------------------------------------------


def axis_tables(frame: pd.DataFrame, layout: Layout, ddof: int, axes: list) -> list[Table]:
    """Per numeric axis: mean ± SD and n per value and arm of each headline measure."""
    names = {a.name for a in axes}
    split = [g for g in layout.global_axes if g not in names]
    lay = layout.without(names)
    frame = frame[frame["arm"] != "healthy"]
    measures = _measures(frame)
    out = []
    for axis in axes:
        others = [o for o in axes if o is not axis]
        rows, cells = [], []
        for fixed, sub in dose.conditions(frame, axis, others, split):
            for arm, tv in arm_keys(sub, lay):
                a = select_arm(sub, lay, arm, tv)
                for level in axis.levels:
                    at = a[np.isclose(a["dose"], level)]
                    if at.empty:
                        continue
                    recs = []
                    for h in measures:
                        v = measure(at, h)["value"]
                        rec = None if v.empty else {"n": len(v), "mean": v.mean(),
                                                    "sd": v.std(ddof=ddof) if len(v) > 1 else math.nan}
                        recs.append((h.title, rec))
                    n = max((r["n"] for _, r in recs if r), default=0)
                    row = {k: dose.show_value(v) for k, v in fixed.items()}
                    row.update({axis.name: f"{level:g}", "Treatment": lay.label(arm, tv), "n": str(n)})
                    row.update({name: mean_sd(r, lay.decimals, n) for name, r in recs})
                    rows.append(row)
                    cells += [{**{k: dose.show_value(v) for k, v in fixed.items()}, axis.name: level,
                               "row": lay.label(arm, tv), "column": name,
                               **({"n": r["n"], "mean": r["mean"], "sd": r["sd"]} if r else
                                  {"n": 0, "mean": math.nan, "sd": math.nan})} for name, r in recs]
        if rows:
            out.append(Table(f"axis_{axis.name}", f"Across {axis.name}: mean ± SD per value and treatment",
                             pd.DataFrame(rows), pd.DataFrame(cells),
                             "n: seeds; a cell whose n differs from its row's says so. The untreated network "
                             "appears where the axis applies to it."))
    return out


# -- 4-parameter logistic ---------------------------------------------------------------------


def logistic4(t, low, high, t50, k):
    """``low`` at low doses, ``high`` at high doses, half-way at ``t50``, steepness ``k`` >= 0."""
    return low + (high - low) * expit(k * (np.asarray(t, float) - t50))


def curve(x, row) -> np.ndarray:
    """A fit's curve at doses ``x`` (``row``: a line of ``fits``)."""
    t = np.log10(x) if row["log"] else np.asarray(x, float)
    return logistic4(t, row["low"], row["high"], row["t50"], row["k"])


def _fit(t: np.ndarray, means: np.ndarray, counts: np.ndarray, p0=None) -> np.ndarray | None:
    """Least squares of the per-seed values, through their per-dose means weighted by count (the
    same minimum); None if it does not converge."""
    ok = counts > 0
    t, means, counts = t[ok], means[ok], counts[ok]
    if len(t) < MIN_LEVELS:
        return None
    span_t = float(t.max() - t.min()) or 1.0
    ymin, ymax = float(means.min()), float(means.max())
    span_y = max(ymax - ymin, 1.0)
    lower = [ymin - span_y, ymin - span_y, t.min() - span_t, 0.0]
    upper = [ymax + span_y, ymax + span_y, t.max() + span_t, 1000.0 / span_t]
    if p0 is None:
        order = np.argsort(t)
        lo_y, hi_y = means[order[0]], means[order[-1]]
        # the dose where the means cross half-way, as a start
        half = (lo_y + hi_y) / 2
        cross = np.nonzero(np.diff(np.sign(means[order] - half)))[0]
        t50 = t[order][cross[0]] if len(cross) else float(np.median(t))
        p0 = [lo_y, hi_y, t50, 4.0 / span_t]
    p0 = np.clip(p0, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            popt, _ = curve_fit(logistic4, t, means, p0=p0, sigma=1 / np.sqrt(counts), bounds=(lower, upper),
                                maxfev=2000)
    except (RuntimeError, ValueError):
        return None
    return popt if np.all(np.isfinite(popt)) else None


def fit_dose_response(doses, seeds, values, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """4-parameter logistic of ``values`` against ``doses`` (one value per seed and dose), its
    half-effect dose and that dose's 95% percentile bootstrap CI over resampled seeds."""
    d = pd.DataFrame({"dose": np.asarray(doses, float), "seed": np.asarray(seeds), "value": np.asarray(values, float)})
    grid = d.pivot_table(index="seed", columns="dose", values="value", aggfunc="mean")
    levels = grid.columns.to_numpy(float)
    log = bool(levels.min() > 0 and levels.max() / levels.min() >= 10)
    t = np.log10(levels) if log else levels
    y = grid.to_numpy(float)
    out = {"log": log, "n_levels": len(levels), "n_seeds": len(grid), "ok": False, "low": math.nan,
           "high": math.nan, "t50": math.nan, "k": math.nan, "x50": math.nan, "x50_lo": math.nan,
           "x50_hi": math.nan, "resamples": 0, "note": ""}
    if len(levels) < MIN_LEVELS:
        out["note"] = f"fewer than {MIN_LEVELS} doses"
        return out
    full = _fit(t, np.nanmean(y, axis=0), (~np.isnan(y)).sum(axis=0))
    if full is None:
        out["note"] = "the fit did not converge"
        return out
    low, high, t50, k = map(float, full)
    out.update(ok=True, low=low, high=high, t50=t50, k=k, x50=10 ** t50 if log else t50)
    # a half-effect dose needs an effect: a plateau difference above the noise of a dose's mean
    within = np.nanmean(np.nanvar(y, axis=0, ddof=1)) if len(grid) > 1 else 0.0
    noise = 2 * math.sqrt(within / len(grid)) if not math.isnan(within) else 0.0
    if abs(high - low) < max(noise, 1.0):
        out["note"] = "no effect across these doses (plateaus within the noise): no half-effect dose"
        out["x50"] = math.nan
        return out
    notes = []
    if len(levels) == MIN_LEVELS:
        notes.append("4 doses for 4 parameters: the curve runs through the means, its plateaus loosely set")
    if not t.min() <= t50 <= t.max():
        notes.append("half-effect dose outside the tested doses (extrapolated)")
    if len(grid) < MIN_SEEDS_CI:
        notes.append(f"fewer than {MIN_SEEDS_CI} seeds: no CI")
    out["note"] = "; ".join(notes)
    if len(grid) >= MIN_SEEDS_CI and resamples:
        def t50_of(seeds):
            pick = y[np.asarray(seeds, int)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # a dose no resampled seed reached
                means = np.nanmean(pick, axis=0)
            p = _fit(t, means, (~np.isnan(pick)).sum(axis=0), p0=full)
            return p[2] if p is not None else math.nan
        # seeds resampled with replacement, each keeping its whole curve
        got = bootstrap_distribution((np.arange(len(grid)),), t50_of, resamples, seed, vectorized=False)
        out["resamples"] = int(np.isfinite(got).sum())
        # too many failed refits and the interval would describe only the easy resamples
        lo, hi = percentile(got, LEVEL, 0.9 * resamples)
        if not math.isnan(lo):
            out["x50_lo"], out["x50_hi"] = (10 ** lo, 10 ** hi) if log else (lo, hi)
        else:
            out["note"] = (out["note"] + "; " if out["note"] else "") + \
                f"only {out['resamples']} of {resamples} resampled fits converged: no CI"
    return out


def fits(frame: pd.DataFrame, layout: Layout, axes: list, resamples: int = RESAMPLES) -> pd.DataFrame:
    """A fit per axis with 4+ values, condition, arm and accuracy measure (``fit_dose_response``)."""
    names = {a.name for a in axes}
    split = [g for g in layout.global_axes if g not in names]
    lay = layout.without(names)
    frame = frame[frame["arm"] != "healthy"]
    rows = []
    for axis in axes:
        if len(axis.levels) < MIN_LEVELS:
            continue
        others = [o for o in axes if o is not axis]
        for fixed, sub in dose.conditions(frame, axis, others, split):
            for h in FITTED:
                m = measure(sub, h)
                for arm, tv in arm_keys(m, lay):
                    a = select_arm(m, lay, arm, tv)
                    r = fit_dose_response(a["dose"], a["seed"], a["value"], resamples)
                    rows.append({"axis": axis.name, "condition": dose.describe(fixed), "Treatment": lay.label(arm, tv),
                                 "Measure": h.title, **r})
    return pd.DataFrame(rows)


def fits_table(f: pd.DataFrame) -> Table:
    """The fits as the report prints them."""
    def dose_text(v):
        return DASH if v is None or math.isnan(v) else f"{v:.3g}"
    rows = []
    for r in f.to_dict("records"):
        ci = DASH if math.isnan(r["x50_lo"]) else f"[{dose_text(r['x50_lo'])}, {dose_text(r['x50_hi'])}]"
        rows.append({"Axis": r["axis"], **({"Condition": r["condition"]} if f["condition"].astype(bool).any() else {}),
                     "Treatment": r["Treatment"], "Measure": r["Measure"], "Doses (seeds)": f"{r['n_levels']} ({r['n_seeds']})",
                     "Low-dose plateau": num(r["low"]), "High-dose plateau": num(r["high"]),
                     "Half-effect dose [95% CI]": dose_text(r["x50"]) + ("" if ci == DASH else f" {ci}"),
                     "Scale": "log" if r["log"] else "linear", "Note": r["note"] or ""})
    return Table("dose_fits", "Dose-response fits: 4-parameter logistic per treatment", pd.DataFrame(rows), f,
                 f"y = low + (high − low) / (1 + exp(−k (t − t50))), t the dose (its log10 where the doses span a "
                 f"decade or more), fitted to every seed's value by least squares (scipy.optimize.curve_fit). The "
                 f"half-effect dose is where the curve is half-way between its plateaus; its {LEVEL:.0%} CI is the "
                 f"percentile interval of {RESAMPLES} refits on seeds resampled with replacement (each seed keeps "
                 f"its values at every dose).")


# -- which arm is best -----------------------------------------------------------------------


def best_arms(frame: pd.DataFrame, layout: Layout, ddof: int = 1, margin=None) -> Table:
    """Per condition (the global swept axes) and headline measure: the best treatment, the
    runner-up, and their paired per-seed difference (paired t-test, Holm over the table); "best"
    only by at least the comparison's equivalence margin (``margin(measure, condition's rows,
    layout, [best, runner-up])``, in pp), "equivalent" when the difference's 90% interval lies inside it."""
    t = frame[~frame["arm"].isin(list(BASELINE_ARMS))]
    g = layout.global_axes
    groups = [((), t)] if not g else ranked(t.groupby(g, sort=False))
    rows = []
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        for h in _measures(sub):
            m = measure(sub, h, arm_own=False)
            values, keys = {}, {}
            for arm, tv in arm_keys(m, layout):
                s = select_arm(m, layout, arm, tv)
                values[layout.label(arm, tv)] = s.drop_duplicates("seed").set_index("seed")["value"].sort_index()
                keys[layout.label(arm, tv)] = (arm, tv)
            if len(values) < 2:
                continue
            best, second = sorted(values, key=lambda k: -h.better * values[k].mean())[:2]
            a, b = values[best], values[second]
            within = margin(h, sub, layout, [keys[best], keys[second]]) if margin is not None else 0.0
            paired = pairable(a, b)
            r = compare_paired(a, b.loc[a.index]) if paired else compare_two(a.to_numpy(), b.to_numpy())
            diff = r["diff"] if paired else r["mean_a"] - r["mean_b"]
            wins = int((h.better * (a - b.loc[a.index]) > 0).sum()) if paired else None
            rows.append({**dict(zip(g, key)), "measure": h.title, "best": best, "best_mean": a.mean(),
                         "best_sd": a.std(ddof=ddof) if len(a) > 1 else math.nan, "runner_up": second,
                         "runner_up_mean": b.mean(), "runner_up_sd": b.std(ddof=ddof) if len(b) > 1 else math.nan,
                         "n": len(a) if paired else f"{len(a)}, {len(b)}", "design": "paired" if paired else "unpaired",
                         "diff": diff, "diff_lo": r.get("diff_lo", math.nan), "diff_hi": r.get("diff_hi", math.nan),
                         "wins": wins, "p": r["p_t"], "margin": within,
                         "diff_lo90": _interval90(a, b, paired)[0], "diff_hi90": _interval90(a, b, paired)[1]})
    cells = pd.DataFrame(rows)
    if cells.empty:
        return Table("best_arm", "Which treatment is best", pd.DataFrame(), cells)
    cells["p_holm"] = holm(cells["p"].to_numpy(float))

    def verdict(r):
        if r["margin"] and r["diff_lo90"] >= -r["margin"] and r["diff_hi90"] <= r["margin"]:
            return f"equivalent to {r['runner_up']} (±{r['margin']:g} pp)"
        if math.isnan(r["p_holm"]):
            return "untested (fewer than 2 seeds, or no spread)"
        if r["p_holm"] < ALPHA and abs(r["diff"]) >= r["margin"]:
            return "best"
        return f"not told apart from {r['runner_up']}" + (f" (by less than the ±{r['margin']:g} pp margin)"
                                                          if r["p_holm"] < ALPHA else "")

    def ci(r):
        return num(r["diff"], 2) + ("" if math.isnan(r["diff_lo"]) else f" [{r['diff_lo']:.2f}, {r['diff_hi']:.2f}]")
    display = pd.DataFrame({
        **{a: cells[a] for a in g},
        "Measure": cells["measure"],
        "Best": [f"{r['best']}: {num(r['best_mean'])}" + ("" if math.isnan(r["best_sd"]) else f" ± {num(r['best_sd'])}")
                 for r in cells.to_dict("records")],
        "Runner-up": [f"{r['runner_up']}: {num(r['runner_up_mean'])}"
                      + ("" if math.isnan(r["runner_up_sd"]) else f" ± {num(r['runner_up_sd'])}")
                      for r in cells.to_dict("records")],
        "Best − runner-up [95% CI]": [ci(r) for r in cells.to_dict("records")],
        "Better in (seeds)": [DASH if r["wins"] is None or (isinstance(r["wins"], float) and math.isnan(r["wins"]))
                              else f"{int(r['wins'])} of {r['n']}" for r in cells.to_dict("records")],
        "p (Holm)": cells["p_holm"].map(lambda p: DASH if math.isnan(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")),
        "Verdict": [verdict(r) for r in cells.to_dict("records")],
    })
    return Table("best_arm", "Which treatment is best on each headline measure", display, cells,
                 "Best: the highest mean (the lowest for a drop). The treatments of a seed share its pruned "
                 "network, so the best and the runner-up are compared seed by seed: the mean paired difference "
                 "with its bootstrap 95% CI, the seeds in which the best does better, and the paired t-test "
                 "(Welch's when the seeds differ), Holm-adjusted over this table. "
                 + ("\"Best\" takes a significant difference of at least the equivalence margin (2 pp where every "
                    "accuracy involved lies within 3 pp of its Bayes ceiling or of chance, else 5 pp); the two are "
                    "equivalent when the difference's 90% t interval lies inside ±margin."
                    if margin is not None else ""))


def _interval90(a: pd.Series, b: pd.Series, paired: bool) -> tuple[float, float]:
    """The 90% t interval of the difference a − b (paired by seed, or Welch's): the TOST interval."""
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    res = st.ttest_rel(a, b.loc[a.index]) if paired else st.ttest_ind(a, b, equal_var=False)
    if math.isnan(res.statistic):
        d = (a - b.loc[a.index]) if paired else None
        return (float(d.iloc[0]), float(d.iloc[0])) if d is not None and d.nunique() == 1 else (math.nan, math.nan)
    ci = res.confidence_interval(0.90)
    return float(ci.low), float(ci.high)
