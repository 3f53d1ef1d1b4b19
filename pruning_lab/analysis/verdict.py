"""The reproduction verdict: each published value equivalent to ours, different, or inconclusive.

Per value (``published.compare`` gives the difference, its test and the 2-SE check): the
difference's 95% CI, Hedges' g with its CI, and two one-sided tests (TOST) against the value's
declared margin Δ (``margins.csv``): equivalent when the 90% CI lies inside ±Δ. A value is

- **equivalent**: TOST passes;
- **different**: its two-sided test is significant after Holm over the primary family, and TOST fails;
- **inconclusive**: neither; the report gives the smallest difference its n detects at 80% power
  and the seeds that would settle it.

Counts of seeds are compared as a risk difference (Newcombe's interval) against a margin in
shares of seeds. Only primary values are counted: a repeated, derived or by-construction value
(``published.csv``'s ``family``) is shown, judged at the family's Bonferroni level, and marked.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import margins as marginsmod
from . import published as pubmod
from .stats import (ALPHA, detectable, detectable_share, difference_power, hedges_g_ci, holm, risk_difference,
                    t_interval, tost, tost_power, welch_df)
from .tables import DASH, num

EQUIVALENT, DIFFERENT, INCONCLUSIVE = "equivalent", "different", "inconclusive"
PRIMARY = "primary"
POWER = 0.8
MAX_SEEDS = 1000   # the seeds-to-settle search stops here
COUNTS = ("n_true", "n_false")


def published_with_margins(paper: int, root: Path | None = None) -> pd.DataFrame:
    """A paper's published values with their margins (NaN where it has no margins file);
    ConfigError on a bad margins file."""
    pub = pubmod.load(paper, root)
    path = (root or pubmod.EXPERIMENTS) / f"paper{paper}" / "margins.csv"
    if not path.is_file() or pub.empty:
        return pub.assign(margin=math.nan, unit="", rule="", rationale="")
    return marginsmod.load(path, pub, (root or pubmod.EXPERIMENTS) / f"paper{paper}" / "published.csv")


def judge(comp: pd.DataFrame, pub: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """``comp`` (``published.compare`` of ``pub``, line for line) with each value's margin, family,
    intervals, TOST, Hedges' g, Holm over the primary family, verdict and power."""
    out = comp.copy()
    for k in ("margin", "unit", "family", "of"):
        out[k] = pub[k].to_numpy() if k in pub else (math.nan if k == "margin" else "")
    out["primary"] = out["family"].eq(PRIMARY)
    rows = [_intervals(r, alpha) for r in out.to_dict("records")]
    out = pd.concat([out.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    tested = out["primary"] & out["p"].notna()
    out["p_holm"] = math.nan
    out.loc[tested, "p_holm"] = holm(out.loc[tested, "p"].to_numpy(float))
    m = max(int(tested.sum()), 1)
    # outside the family: the family's strictest level, Bonferroni's
    bonferroni = np.minimum(out["p"].to_numpy(float) * m, 1.0)
    out["p_adj"] = np.where(out["primary"], out["p_holm"], bonferroni)
    out["differs"] = [None if math.isnan(q) else bool(q < alpha) for q in out["p_adj"]]
    out["verdict"] = [EQUIVALENT if r["equivalent"] else DIFFERENT if r["differs"] else INCONCLUSIVE
                      for r in out.to_dict("records")]
    power = [_power(r, alpha / m) if r["verdict"] == INCONCLUSIVE and r["primary"] and r["ours_n"] else {} for r in
             out.to_dict("records")]
    out["mde"] = [p.get("mde", math.nan) for p in power]
    out["seeds"] = [p.get("seeds", math.nan) for p in power]
    out["seeds_both"] = [p.get("seeds_both", math.nan) for p in power]
    out["family_size"] = m
    return out


def _intervals(r: dict, alpha: float) -> dict:
    """A value's 95% CI, TOST (its 90% CI) and Hedges' g with its 95% CI; ``why`` when it has none."""
    out = {"lo": math.nan, "hi": math.nan, "lo90": math.nan, "hi90": math.nan, "p_tost": math.nan,
           "equivalent": False, "g": math.nan, "g_lo": math.nan, "g_hi": math.nan, "why": ""}
    if r["ours_n"] == 0:
        return {**out, "why": "not in this sweep"}
    if r["stat"] in COUNTS:
        k, n, kp, n_pub = int(r["ours"]), int(r["ours_n"]), int(round(r["pub_value"])), int(r["pub_n"])
        _, out["lo"], out["hi"] = risk_difference(k, n, kp, n_pub, 1 - alpha)
        d, out["lo90"], out["hi90"] = risk_difference(k, n, kp, n_pub, 1 - 2 * alpha)
        out["diff_share"] = d
        if not math.isnan(r["margin"]):
            out["equivalent"] = bool(-r["margin"] < out["lo90"] and out["hi90"] < r["margin"])
        return out
    if math.isnan(r["se"]):
        why = "an extreme across seeds: no interval" if r["stat"] in ("min", "max") else "no SD on either side"
        return {**out, "why": why}
    d, se, df = r["diff"], r["se"], r["df"]
    out["lo"], out["hi"] = t_interval(d, se, df, 1 - alpha)
    if not math.isnan(r["margin"]):
        t = tost(d, se, df, r["margin"], alpha)
        out.update(lo90=t["lo"], hi90=t["hi"], p_tost=t["p"], equivalent=bool(t["equivalent"]))
    else:
        out["lo90"], out["hi90"] = t_interval(d, se, df, 1 - 2 * alpha)
    lent = r["pub_n"] == 1 or r["ours_n"] == 1
    out["g"], out["g_lo"], out["g_hi"] = hedges_g_ci(d, r["s_ours"], int(r["ours_n"]), r["s_pub"], int(r["pub_n"]),
                                                     df if lent else None, 1 - alpha)
    return out


def _power(r: dict, level: float) -> dict:
    """The smallest difference the value's n detects at 80% power (a two-sided test at ``level``,
    Holm's first step), and the fewest seeds that would settle it, were the true difference the
    one observed and the SDs as measured: TOST passing with 80% power (a difference inside the
    margin) or the test (outside it). ``seeds``: more seeds of ours, the published side as printed;
    ``seeds_both``: as many seeds on both sides. NaN beyond ``MAX_SEEDS``."""
    n, n_pub = int(r["ours_n"]), int(r["pub_n"])
    if r["stat"] in COUNTS:
        p_pub, share = r["pub_value"] / n_pub, r["ours"] / n

        def settles(m, m_pub):
            return _count_settles(share, m, p_pub, m_pub, r["margin"], level)
        mde = detectable_share(p_pub, n, n_pub, level, POWER)
    elif not math.isnan(r.get("se", math.nan)):
        s_o, s_p, d = r["s_ours"], r["s_pub"], r["diff"]
        inside = not math.isnan(r["margin"]) and abs(d) < r["margin"]

        def settles(m, m_pub):
            se = math.sqrt(s_o ** 2 / m + s_p ** 2 / m_pub)
            # one seed a side borrows paper 2's SD and its degrees of freedom
            df = r["df"] if min(m, m_pub) == 1 else welch_df(s_o, m, s_p, m_pub)
            power = tost_power(d, se, df, r["margin"], ALPHA) if inside else difference_power(d, se, df, level)
            return power >= POWER
        mde = detectable(r["se"], r["df"], level, POWER)
    else:
        return {}
    ours = next((m for m in range(n + 1, MAX_SEEDS + 1) if settles(m, n_pub)), math.nan)
    both = next((m for m in range(max(n, n_pub) + 1, MAX_SEEDS + 1) if settles(m, m)), math.nan)
    return {"mde": mde, "seeds": ours, "seeds_both": both}


def _count_settles(share: float, n: int, p_pub: float, n_pub: int, margin: float, level: float) -> bool:
    """Whether ``n`` seeds of ours and ``n_pub`` published at the observed shares would settle a count:
    its 90% interval inside the margin (the difference inside it), or the interval at ``level``
    clear of 0 (outside it)."""
    k, kp = round(share * n), round(p_pub * n_pub)
    d = share - p_pub
    if not math.isnan(margin) and abs(d) < margin:
        _, lo, hi = risk_difference(k, n, kp, n_pub, 1 - 2 * ALPHA)
        return -margin < lo and hi < margin
    _, lo, hi = risk_difference(k, n, kp, n_pub, 1 - level)
    return lo > 0 or hi < 0


def counts(judged: pd.DataFrame) -> dict[str, int]:
    """Primary values in this sweep by verdict."""
    here = judged[judged["primary"] & (judged["ours_n"] > 0)]
    return {v: int((here["verdict"] == v).sum()) for v in (EQUIVALENT, DIFFERENT, INCONCLUSIVE)}


# -- as printed --------------------------------------------------------------------------------


def _pub_text(r: dict) -> str:
    if r["stat"] in COUNTS:
        return f"{int(r['pub_value'])}/{r['pub_n']}"
    v = num(r["pub_value"])
    if r["stat"] == "mean" and not math.isnan(r["pub_sd"]):
        v += f" ± {num(r['pub_sd'])}"
    return v + ("" if r["stat"] == "mean" else f" ({r['stat']})")


def _ours_text(r: dict) -> str:
    if r["ours_n"] == 0:
        return DASH
    if r["stat"] in COUNTS:
        return f"{int(r['ours'])}/{r['ours_n']}"
    v = num(r["ours"])
    if r["stat"] == "mean" and r["ours_n"] > 1 and not math.isnan(r["ours_sd"]):
        v += f" ± {num(r['ours_sd'])}"
    return v


def _decimals(v: float) -> int:
    return 2 if abs(v) < 0.1 else 1


def diff_text(r: dict) -> str:
    """The difference (ours − paper; a difference of shares for a count) with its 95% CI."""
    if r["stat"] in COUNTS and r["ours_n"]:
        d = r.get("diff_share", math.nan)
        return f"{d:+.2f} [{r['lo']:+.2f}, {r['hi']:+.2f}]"
    if math.isnan(r["diff"]):
        return DASH
    k = _decimals(r["diff"])
    ci = "" if math.isnan(r["lo"]) else f" [{r['lo']:.{k}f}, {r['hi']:.{k}f}]"
    return f"{r['diff']:+.{k}f}{ci}"


def verdict_text(r: dict) -> str:
    if r["ours_n"] == 0:
        return DASH
    word = f"**{r['verdict']}**" if r["verdict"] == DIFFERENT else r["verdict"]
    return word if r["primary"] else f"{word} ({r['family']}, not counted)"


def value_frame(judged: pd.DataFrame) -> pd.DataFrame:
    """Published values beside ours with their verdict, as the report prints them."""
    rows = []
    for r in judged.to_dict("records"):
        counts_ = r["stat"] in COUNTS
        unit = "" if math.isnan(r["margin"]) else (f"±{r['margin']:g}" if counts_ else f"±{r['margin']:g}")
        ninety = DASH if math.isnan(r["lo90"]) else (f"[{r['lo90']:+.2f}, {r['hi90']:+.2f}]" if counts_ else
                                                     f"[{r['lo90']:.{_decimals(r['lo90'])}f}, "
                                                     f"{r['hi90']:.{_decimals(r['hi90'])}f}]")
        g = DASH if math.isnan(r["g"]) else f"{r['g']:.2f}" + (
            "" if math.isnan(r["g_lo"]) else f" [{r['g_lo']:.2f}, {r['g_hi']:.2f}]")
        within = DASH if r["within"] is None else ("yes" if r["within"] else "no")
        rows.append({"Paper": r["table"], "Row": r["row"], "Column": r["column"],
                     "Published (n)": f"{_pub_text(r)} ({r['pub_n']})", "Ours (n)": f"{_ours_text(r)} ({r['ours_n']})",
                     "Ours − paper [95% CI]": diff_text(r), "Margin": unit or DASH, "90% CI": ninety,
                     "Hedges' g [95% CI]": g, "p (Holm)": _p(r["p_adj"]), "Verdict": verdict_text(r),
                     "Within 2 SE": within,
                     "Basis": "; ".join(x for x in (r["basis"], r["test"], r["why"]) if x)})
    return pd.DataFrame(rows)


def _p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def power_frame(judged: pd.DataFrame) -> pd.DataFrame:
    """The inconclusive primary values: what their n can detect and the seeds that would settle them."""
    rows = []
    for r in judged[judged["primary"] & (judged["verdict"] == INCONCLUSIVE) & (judged["ours_n"] > 0)].to_dict("records"):
        counts_ = r["stat"] in COUNTS
        unit = "" if counts_ else f" {r['unit'] or 'pp'}"
        mde = DASH if math.isnan(r["mde"]) else (f"{r['mde']:.2f} of the share" if counts_ else f"{r['mde']:.1f}{unit}")

        def seeds(v):
            return (r["why"] or f"over {MAX_SEEDS}") if math.isnan(v) else f"{int(v)}"
        rows.append({"Where": f"{r['table']}, {r['row']} / {r['column']}", "Published": _pub_text(r),
                     "Ours": f"{_ours_text(r)} (n = {r['ours_n']})", "Ours − paper [95% CI]": diff_text(r),
                     "Margin": DASH if math.isnan(r["margin"]) else f"±{r['margin']:g}",
                     "Detectable at 80% power": mde, "Seeds of ours to settle": seeds(r["seeds"]),
                     "Seeds a side to settle": seeds(r["seeds_both"])})
    return pd.DataFrame(rows)


def section(rep, judged: pd.DataFrame, paper: int, proto: pd.DataFrame | None, lay) -> None:
    """The reproduction verdict: counts over the primary values, by arm, the values that differ,
    the inconclusive ones with their power, then the 2-SE check."""
    from .stats import misses_by_chance

    here = judged[judged["ours_n"] > 0]
    primary = here[here["primary"]]
    c = counts(judged)
    absent = int((judged["ours_n"] == 0).sum())
    others = here[~here["primary"]]["family"].value_counts()
    m = int(judged["family_size"].iloc[0]) if len(judged) else 0
    lent = (here["basis"] == "one seed each: paper 2's between-seed SD").any()
    rep.heading("Reproduction verdict")
    missing = int((judged["primary"] & (judged["ours_n"] == 0)).sum())
    rep.text(f"**Of paper {paper}'s {int(judged['primary'].sum())} primary published values: {c[EQUIVALENT]} "
             f"equivalent, {c[DIFFERENT]} different, {c[INCONCLUSIVE]} inconclusive"
             + (f", {missing} not in this sweep" if missing else "") + ".** Each value has an equivalence margin Δ "
             "declared before any result was looked at (`margins.csv`: ±2 pp near the Bayes ceiling or chance, "
             "±5 pp elsewhere, a share of 0.2 for counts of seeds, each with its rule and rationale). "
             "*Equivalent*: two one-sided tests at α = 0.05 (TOST) pass, the 90% CI of ours − published lying "
             f"inside ±Δ. *Different*: the two-sided test (Welch's t from both sides' mean, SD and n, the "
             f"published SD a population SD converted; Fisher's exact test for counts of seeds) is significant "
             f"after Holm over the {m} primary values tested, and TOST fails. *Inconclusive*: neither; below, "
             "the smallest difference each one's n detects and the seeds that would settle it. Counts of seeds "
             "are compared as a difference of shares (Newcombe's hybrid score interval)."
             + (" With one run on each side, a difference has no standard error of its own: **its interval uses "
                "paper 2's between-seed SD of the same quantity** (SE = √2 × SD, t with 9 degrees of freedom), "
                "as the basis column says." if lent else "")
             + (f" Outside the counts, shown and marked in the tables: "
                + ", ".join(f"{k} {v}" for k, v in others.items()) + " (the same quantity printed again, computed "
                "from others, or fixed by the protocol), each judged at the family's Bonferroni level."
                if len(others) else "")
             + (f" {absent} published values in all are not in this sweep." if absent else ""))
    if proto is not None and len(proto):
        rep.text(f"**These runs depart from the paper-{paper} protocol** (see the protocol check), so differences "
                 "are expected.")
    arm_rows = []
    for arm, g in primary.groupby("arm", sort=False):
        arm_rows.append({"Arm": lay.label(arm), "Primary values": str(len(g)),
                         **{v.capitalize(): str(int((g["verdict"] == v).sum()))
                            for v in (EQUIVALENT, DIFFERENT, INCONCLUSIVE)},
                         "Outside 2 SE": str(int((g["within"].notna() & ~g["within"].astype(bool)).sum()))})
    if arm_rows:
        rep.text("By arm (primary values):")
        rep.frame(pd.DataFrame(arm_rows))
    differ = here[here["verdict"] == DIFFERENT]
    if len(differ):
        rep.text("Values that differ:")
        rep.frame(value_frame(differ)[["Paper", "Row", "Column", "Published (n)", "Ours (n)", "Ours − paper [95% CI]",
                                       "Margin", "p (Holm)", "Verdict"]])
    pw = power_frame(judged)
    if len(pw):
        rep.text(f"Inconclusive values: the smallest true difference each one's n detects with 80% power (a "
                 f"two-sided test at α/{m}, Holm's first step; counts on the arcsine scale), and the fewest seeds "
                 "that would settle it, were the true difference the one observed and the SDs as measured: TOST "
                 "passing with 80% power (a difference inside the margin) or the test (outside it); for a count, "
                 "its interval at the observed shares. *Of ours*: more seeds of ours, the published side as "
                 "printed (whose own standard error often rules it out); *a side*: as many seeds on both sides, "
                 "as a rerun of the published study would have.")
        rep.frame(pw)
    checked = here[here["within"].notna()]
    outside = checked[~checked["within"].astype(bool)]
    expected, lo, hi = misses_by_chance(checked["p_outside"])
    rep.text(f"The 2-SE check, for comparison with earlier reports: {len(outside)} of {len(checked)} values lie "
             f"outside 2 SE of ours (SE of the difference from both sides, widened by 0.05 for the published "
             f"rounding), where chance alone would put about {expected:.1f} (95% range {lo}–{hi}); the values are "
             "not independent (the same networks appear in several tables).")
