"""Onset of response: epochs to response per treatment, and the share responded by epoch.

A seed responds at the first onset point whose combined-stress accuracy reaches the response
threshold (``metrics.response``). A seed that never responds is censored at its last onset
point, so the share responded by epoch is a Kaplan-Meier estimate (``lifelines``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .arms import Layout
from .measures import order_key
from .tables import DASH, Table

KEYS = ("responded", "epoch", "time", "threshold")


def per_seed(frame: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """One row per run with response data: the axes, arm, seed, responded (bool), epoch, time,
    threshold and the last onset epoch."""
    cols = [*layout.global_axes, "arm", *layout.treatment_axes, "seed", "config_hash"]
    r = frame[frame["section"] == "response"]
    if r.empty:
        return pd.DataFrame(columns=[*cols, *KEYS])
    wide = r.pivot_table(index=cols, columns="metric", values="value", aggfunc="first").reset_index()
    for k in KEYS:
        if k not in wide:
            wide[k] = np.nan
    wide["responded"] = wide["responded"].astype(bool)
    wide.columns.name = None
    on = frame[frame["section"] == "onset"].groupby("config_hash")["x"].max()
    wide["last_epoch"] = wide["config_hash"].map(on)
    return wide.sort_values(cols, key=order_key).reset_index(drop=True)


def kaplan_meier(seeds: pd.DataFrame):
    """The fitted ``lifelines.KaplanMeierFitter`` of time to response (never-responders censored)."""
    from lifelines import KaplanMeierFitter  # imported here: loading results stays light

    s = seeds.dropna(subset=["time"])
    return KaplanMeierFitter().fit(s["time"].to_numpy(float), event_observed=s["responded"].to_numpy(bool))


def groups(seeds: pd.DataFrame, layout: Layout) -> list[tuple[tuple, str, tuple, pd.DataFrame]]:
    """(global values, arm, treatment-axis values, its seeds) in the report's order."""
    keys = [*layout.global_axes, "arm", *layout.treatment_axes]
    if seeds.empty:
        return []
    out = []
    order = seeds[keys].drop_duplicates().sort_values(keys, key=order_key)
    for k in order.itertuples(index=False):
        k = tuple(k)
        m = np.ones(len(seeds), bool)
        for c, v in zip(keys, k):
            m &= (seeds[c] == v).to_numpy()
        g = len(layout.global_axes)
        out.append((k[:g], k[g], k[g + 1:], seeds[m]))
    return out


def summary(seeds: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """Per treatment: n, responders, never-responders, median and IQR of the response epoch among
    responders, and the Kaplan-Meier median time to response (inf: not reached)."""
    rows = []
    for g, arm, tv, s in groups(seeds, layout):
        ep = s.loc[s["responded"], "epoch"].to_numpy(float)
        q1, med, q3 = np.percentile(ep, [25, 50, 75]) if len(ep) else (math.nan,) * 3
        km = kaplan_meier(s) if s["time"].notna().any() else None
        rows.append({**dict(zip(layout.global_axes, g)), "arm": arm, **dict(zip(layout.treatment_axes, tv)),
                     "label": layout.label(arm, tv), "n": len(s), "responded": int(s["responded"].sum()),
                     "never": int((~s["responded"]).sum()), "median": med, "q1": q1, "q3": q3,
                     "km_median": float(km.median_survival_time_) if km is not None else math.nan,
                     "threshold": float(s["threshold"].mode().iloc[0]) if s["threshold"].notna().any() else math.nan})
    return pd.DataFrame(rows)


def table(summ: pd.DataFrame, layout: Layout) -> Table:
    if summ.empty:
        return Table("response", "Response", pd.DataFrame(), pd.DataFrame())
    thr = summ["threshold"].dropna()
    thr_text = f"{thr.mode().iloc[0]:g}%" if len(thr) else "the threshold"

    def med(r):
        if r["responded"] == 0:
            return DASH
        return f"{r['median']:g} ({r['q1']:g}–{r['q3']:g})"

    def km(v):
        return DASH if math.isnan(v) else ("not reached" if math.isinf(v) else f"{v:g}")

    display = pd.DataFrame({**{a: summ[a] for a in layout.global_axes}, "Treatment": summ["label"],
                            "n": summ["n"].astype(str),
                            "Responded": summ["responded"].astype(str) + "/" + summ["n"].astype(str),
                            "Never responded": summ["never"].astype(str),
                            "Median epochs to response (IQR)": [med(r) for r in summ.to_dict("records")],
                            "Kaplan-Meier median (epochs)": summ["km_median"].map(km)})
    cells = summ.drop(columns=["arm"]).rename(columns={"label": "row"})
    return Table("response", f"Response: first treatment epoch with combined-stress accuracy ≥ {thr_text}",
                 display, cells,
                 "Median and IQR over the seeds that respond. The Kaplan-Meier median also counts the seeds that "
                 "never respond, censored at their last onset point (epochs are cumulative over the treatment's "
                 "training phases; epoch 0 is after any regrow or modulate phase, before training).")
