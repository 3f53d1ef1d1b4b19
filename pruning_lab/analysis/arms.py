"""The tidy frame by arm, and how an arm is labelled in tables and figures.

An arm is what a table row or a figure line shows: a treatment under its name (the arm its
results record), or one of the baselines every treatment of a seed shares (the untreated and
the healthy network; ``measures.ARMS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from .load import TIDY_COLUMNS, ResultSet, show
from .measures import BASELINE_ARMS, order_key


@dataclass
class Layout:
    """What the tables and figures need to know about the sweep besides the numbers."""

    global_axes: list[str] = field(default_factory=list)
    treatment_axes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)   # arm -> label
    decimals: int = 1
    shared: dict[str, Any] = field(default_factory=dict)   # config keys every run has the same value of

    def fraction(self, key: str, frame: pd.DataFrame | None = None) -> str | None:
        """A shared config fraction (``longitudinal.prune_fraction``) as a percentage, or the one
        value of that column of ``frame``; None where the runs differ or do not say."""
        v = self.shared.get(key)
        if v is None and frame is not None and key in frame and frame[key].nunique() == 1:
            v = frame[key].iloc[0]
        try:
            return f"{100 * float(v):g}%"
        except (TypeError, ValueError):
            return None

    @property
    def chance(self) -> float | None:
        """The accuracy (%) of guessing among the classes, where every run has as many."""
        classes = self.shared.get("model.classes")
        return 100.0 / classes if isinstance(classes, int) and classes > 0 else None

    @property
    def axes(self) -> list[str]:
        return self.global_axes + self.treatment_axes

    def without(self, names: set[str]) -> "Layout":
        """This layout less the treatment axes ``names`` (the doses a dose-response splits by)."""
        return replace(self, treatment_axes=[t for t in self.treatment_axes if t not in names])

    def short(self, key: str) -> str:
        """An axis by its last name (``damping``) unless two axes share it."""
        last = key.rsplit(".", 1)[-1]
        clash = sum(k.rsplit(".", 1)[-1] == last for k in self.axes) > 1
        return key.removeprefix("treatment.") if clash else last

    def label(self, arm: str, tvals: tuple = ()) -> str:
        base = BASELINE_ARMS.get(arm) or self.labels.get(arm, arm)
        extra = [f"{self.short(k)}={v}" for k, v in zip(self.treatment_axes, tvals) if v != ""]
        return base + (f" ({', '.join(extra)})" if extra else "")


# columns of a tidy or arms frame that are not swept axes
FRAME_COLUMNS = (*TIDY_COLUMNS, "arm", "dose", "dose_a", "dose_b")


def _labels(runs: pd.DataFrame) -> dict[str, str]:
    """Each treatment arm's label (made unique beside the baseline arms)."""
    arm = runs["arm"] if "arm" in runs else runs["treatment"]
    labels = runs.groupby(arm)["label"].agg(lambda s: s.mode().iloc[0]).to_dict() if len(runs) else {}
    # a row label must name one arm: treatment "none" is labelled like the untreated baseline
    taken = pd.Series(list(labels.values()) + list(BASELINE_ARMS.values())).value_counts()
    return {t: (f"{v} [{t}]" if taken[v] > 1 else v) for t, v in labels.items()}


def layout(results: ResultSet) -> Layout:
    """The sweep's axes, each treatment's label (made unique beside the baseline arms) and the config
    its runs share."""
    return Layout(results.global_axes, results.treatment_axes, _labels(results.runs), shared=results.shared)


def infer(frame: pd.DataFrame) -> tuple[pd.DataFrame, Layout]:
    """A tidy frame (``load_results``) or an arms frame as the figures take it, and its layout: the
    axes are its other columns, their values as the tables print them."""
    axes = [c for c in frame.columns if c not in FRAME_COLUMNS]
    frame = frame.copy()
    for a in axes:
        frame[a] = frame[a].map(show)
    g = [a for a in axes if not a.startswith("treatment.")]
    t = [a for a in axes if a.startswith("treatment.")]
    lay = Layout(g, t, _labels(frame.drop_duplicates("config_hash")) if "label" in frame else {},
                 shared=frame.attrs.get("shared", {}))
    if "arm" not in frame:
        frame = by_arm(frame, g, t)
    return frame, lay


def arms(results: ResultSet) -> pd.DataFrame:
    """The tidy frame by arm: a treatment's own sections under its name; the untreated and healthy
    networks once per baseline (every treatment of a seed shares them), as arms of their own."""
    arm_of = results.runs.set_index("config_hash")["arm"]
    return by_arm(results.tidy, results.global_axes, results.treatment_axes, results.inconsistent, arm_of)


def by_arm(t: pd.DataFrame, global_axes: list[str], treatment_axes: list[str],
           inconsistent: list[str] | None = None, arm_of: pd.Series | None = None) -> pd.DataFrame:
    """``arms`` of a tidy frame with these axes; baselines whose jobs disagree are listed in ``inconsistent``.
    ``arm_of``: each config hash's arm (the results' record; without it, a treatment's is its name)."""
    if t.empty:
        return t.assign(arm=pd.Series(dtype=str))
    own = t[~t["section"].isin(list(BASELINE_ARMS))]
    own = own.assign(arm=own["config_hash"].map(arm_of) if arm_of is not None else own["treatment"])
    base = t[t["section"].isin(list(BASELINE_ARMS))].copy()
    for a in treatment_axes:
        base[a] = ""
    base["arm"] = base["section"]
    base["label"] = base["section"].map(BASELINE_ARMS)
    key = ["baseline_key", *global_axes, "section", "metric", "x"]
    # common random numbers make a baseline's metrics identical in every job that shares it;
    # if they are not, the jobs disagree about the protocol and the reader must know
    spread = base.groupby(key, dropna=False)["value"].agg(lambda v: v.max() - v.min())
    if (spread > 1e-9).any() and inconsistent is not None:
        bad = spread[spread > 1e-9].reset_index()
        inconsistent[:] = sorted({f"baseline {r.baseline_key}: {r.section}.{r.metric} differs between jobs"
                                  for r in bad.itertuples()})
    base = base.drop_duplicates(subset=key, keep="first")
    # the paired per-seed effect of taking a modulated network off drug
    on = own[own["section"] == "treated"][["config_hash", "metric", "x", "value"]]
    off = own[own["section"] == "off_drug"]
    change = off.merge(on, on=["config_hash", "metric", "x"], suffixes=("", "_on"))
    change = change.assign(section="off_minus_on", value=change["value"] - change["value_on"]).drop(columns="value_on")
    return pd.concat([base, own, change], ignore_index=True)


def arm_keys(frame: pd.DataFrame, layout: Layout) -> list[tuple[str, tuple]]:
    """Each (arm, its treatment axes' values) of ``frame``, in the order tables and figures show them."""
    keys = frame[["arm", *layout.treatment_axes]].drop_duplicates()
    keys = keys.sort_values(list(keys.columns), key=order_key)
    return [(r[0], tuple(r[1:])) for r in keys.itertuples(index=False)]


def select_arm(frame: pd.DataFrame, layout: Layout, arm: str, tv: tuple) -> pd.DataFrame:
    """The rows of ``frame`` of one arm at treatment-axis values ``tv``."""
    m = frame["arm"] == arm
    for a, v in zip(layout.treatment_axes, tv):
        m &= frame[a] == v
    return frame[m]
