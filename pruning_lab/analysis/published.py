"""The published values (``experiments/paper*/published.csv``) beside ours, and the protocol check.

A published value and ours are called consistent when their difference lies within two
standard errors of the difference, sqrt(s_ours^2/n_ours + s_pub^2/n_pub) with sample SDs (the
papers' population SDs are converted), plus half a unit of the published rounding (0.05).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd

from .load import flatten, show, xkey

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = REPO / "experiments"
CONF = REPO / "conf"
PAPER_TREATMENTS = ("ketamine", "ssri", "neurosteroid")
PAPER_SEEDS = {1: [42], 2: list(range(10))}
ROUNDING = 0.05   # every published value has one decimal
COLUMNS = ["paper", "table", "row", "column", "arm", "section", "metric", "x", "stat", "value", "sd", "n", "note"]


def load(paper: int, root: Path | None = None) -> pd.DataFrame:
    """The published values of one paper (empty frame if the file is absent)."""
    path = (root or EXPERIMENTS) / f"paper{paper}" / "published.csv"
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    df = pd.read_csv(path)
    df["x"] = pd.to_numeric(df["x"], errors="coerce")
    df["note"] = df["note"].fillna("")
    return df


# -- the protocol as published ---------------------------------------------------------------


def reference_configs(paper: int, treatments=PAPER_TREATMENTS) -> dict[str, dict] | None:
    """Flattened resolved config of each of the paper's treatments, composed from ``conf/``
    with ``experiment=paper<N>`` (None when the configs cannot be composed here)."""
    try:
        from hydra import compose, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        from ..config import Job

        if not CONF.is_dir():
            return None
        GlobalHydra.instance().clear()
        out = {}
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            for t in treatments:
                cfg = compose("config", overrides=[f"experiment=paper{paper}", f"treatment={t}"])
                out[t] = flatten(Job.from_config(cfg).to_dict())
        return out
    except Exception as e:  # the report is still useful without the check
        log.warning("could not compose the paper-%d configs (%s)", paper, e)
        return None


def protocol_check(configs: dict[str, dict], runs: pd.DataFrame, paper: int, ref: dict[str, dict]) -> pd.DataFrame:
    """Every config key on which runs differ from the published preset of their treatment."""
    rows = []
    by_treatment = runs.groupby("treatment")["config_hash"].apply(list)
    for t, hashes in by_treatment.items():
        if t not in ref:
            rows.append({"treatment": t, "key": "treatment", "ours": t, "paper": "not in the paper", "runs": len(hashes)})
            continue
        flat = pd.DataFrame([flatten(configs[h]) for h in hashes])
        for key in sorted(set(flat.columns) | set(ref[t])):
            if key in ("seed", "data.seed"):
                continue
            want = show(ref[t].get(key))
            have = flat[key].map(show) if key in flat else pd.Series([""] * len(flat))
            off = have != want
            if off.any():
                rows.append({"treatment": t, "key": key, "ours": ", ".join(sorted(set(have[off]))), "paper": want,
                             "runs": int(off.sum())})
        seeds = sorted(int(runs.loc[runs["config_hash"] == h, "seed"].iloc[0]) for h in hashes)
        extra = sorted(set(seeds) - set(PAPER_SEEDS[paper]))
        if extra:
            rows.append({"treatment": t, "key": "seed", "ours": ", ".join(map(str, extra)),
                         "paper": _seed_text(paper), "runs": sum(s in extra for s in seeds)})
        data_seeds = [(configs[h]["seed"], configs[h]["data"]["seed"]) for h in hashes]
        bad = [(s, d) for s, d in data_seeds if d != (0 if paper == 1 else s)]
        if bad:
            rows.append({"treatment": t, "key": "data.seed", "ours": ", ".join(sorted({str(d) for _, d in bad})),
                         "paper": "0" if paper == 1 else "= seed", "runs": len(bad)})
    return pd.DataFrame(rows, columns=["treatment", "key", "ours", "paper", "runs"])


def _seed_text(paper: int) -> str:
    s = PAPER_SEEDS[paper]
    return str(s[0]) if len(s) == 1 else f"{s[0]}..{s[-1]}"


def on_protocol(summary: pd.DataFrame, global_axes: list[str], treatment_axes: list[str],
                ref: dict[str, dict] | None) -> pd.Series:
    """Rows of a summary whose swept-axis values are the published ones."""
    mask = pd.Series(True, index=summary.index)
    if not global_axes and not treatment_axes:
        return mask
    if ref is None:
        return pd.Series(False, index=summary.index)
    any_ref = next(iter(ref.values()))
    for a in global_axes:
        mask &= summary[a] == show(any_ref.get(a))
    for a in treatment_axes:
        want = summary["arm"].map(lambda arm: show(ref.get(arm, {}).get(a)))
        mask &= (summary[a] == want) | (summary[a] == "")
    return mask


# -- comparison ------------------------------------------------------------------------------


def _sample_sd(sd: float, n: float) -> float:
    """The papers' population SD (ddof=0) as a sample SD (ddof=1)."""
    return sd * math.sqrt(n / (n - 1)) if n > 1 and not math.isnan(sd) else math.nan


def compare(pub: pd.DataFrame, summary: pd.DataFrame, spread: pd.DataFrame | None = None) -> pd.DataFrame:
    """One line per published value: ours, the difference, 2 SE and whether it lies within.

    ``summary`` must hold only on-protocol rows. ``spread`` (optional, paper 2's values) lends
    its between-seed SD to single-seed comparisons, where neither side has one of its own.
    """
    idx = {(r["arm"], r["section"], r["metric"], xkey(r["x"])): r for r in summary.to_dict("records")}
    lend = {}
    if spread is not None:
        for r in spread[spread["stat"] == "mean"].to_dict("records"):
            lend[(r["arm"], r["section"], r["metric"], xkey(r["x"]))] = _sample_sd(r["sd"], r["n"])
    out = []
    for p in pub.to_dict("records"):
        key = (p["arm"], p["section"], p["metric"], xkey(p["x"]))
        ours = idx.get(key)
        row = {k: p[k] for k in ("table", "row", "column", "stat", "note")}
        row.update(pub_value=p["value"], pub_sd=p["sd"], pub_n=int(p["n"]), ours=math.nan, ours_sd=math.nan,
                   ours_n=0, diff=math.nan, tol=math.nan, within=None, basis="")
        if ours is None or ours["n"] == 0:
            row["basis"] = "not in this sweep"
            out.append(row)
            continue
        n, stat = int(ours["n"]), p["stat"]
        row["ours_n"] = n
        if stat in ("n_true", "n_false"):
            k = round(ours["n_true"]) if stat == "n_true" else n - round(ours["n_true"])
            row["ours"] = k
            pa, pb = k / n, p["value"] / p["n"]
            se = math.sqrt(pa * (1 - pa) / n + pb * (1 - pb) / p["n"])
            row["diff"] = k - p["value"] * n / p["n"]
            row["tol"] = 2 * se * n
            row["within"] = abs(row["diff"]) <= row["tol"] + 1e-9
            row["basis"] = "binomial SE of both proportions"
        elif stat in ("min", "max"):
            row["ours"] = ours[stat]
            row["diff"] = ours[stat] - p["value"]
            row["basis"] = "extreme of the seeds: no standard error"
        else:
            row["ours"], row["ours_sd"] = ours["mean"], ours["sd"]
            row["diff"] = ours["mean"] - p["value"]
            s_pub = _sample_sd(p["sd"], p["n"])
            s_ours = ours["sd_sample"]
            basis = "SE from both SDs"
            if p["n"] == 1 and n == 1:
                s_pub = s_ours = lend.get(key, math.nan)
                basis = "one seed each: paper 2's between-seed SD"
            elif math.isnan(s_pub):
                s_pub, basis = s_ours, "no published SD: ours used for both"
            elif n == 1:
                s_ours, basis = s_pub, "one seed: the paper's SD used for ours"
            se = math.sqrt(s_ours ** 2 / n + s_pub ** 2 / p["n"]) if not (math.isnan(s_ours) or math.isnan(s_pub)) \
                else math.nan
            if math.isnan(se):
                row["basis"] = "no SD on either side"
            else:
                row["tol"] = 2 * se + ROUNDING
                row["within"] = abs(row["diff"]) <= row["tol"]
                row["basis"] = basis
        out.append(row)
    return pd.DataFrame(out)

