"""Dose response: the numeric swept axes of a sweep, each as one axis of a curve.

An axis goes by the name the tables give it: a global config key (``pathology.sparsity``) or a
treatment knob as typed (``treatment.epochs``, whichever phases it feeds; ``load`` names them).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .load import SEED_KEYS, ResultSet
from .measures import BASELINE_ARMS, order_key


@dataclass
class DoseAxis:
    name: str
    values: pd.Series          # config_hash -> value (NaN: the run has no such knob)
    treatment: bool            # a treatment knob: the baseline arms do not depend on it

    @property
    def levels(self) -> list[float]:
        return sorted(self.values.dropna().unique().tolist())


def _numbers(col: pd.Series) -> pd.Series | None:
    """The axis values as floats (NaN where empty), or None if any is not a number."""
    filled = col.replace("", np.nan)
    out = pd.to_numeric(filled, errors="coerce")
    return None if out.notna().sum() != filled.notna().sum() else out


def dose_axes(results: ResultSet) -> tuple[list[DoseAxis], list[str]]:
    """The numeric swept axes with two values or more, and one note for every swept key without a curve."""
    runs = results.runs.set_index("config_hash")
    axes, notes = [], []
    for key in results.axes:
        col = _numbers(runs[key])
        if col is None:
            notes.append(f"`{key}` takes values that are not numbers: no dose curve.")
            continue
        axis = DoseAxis(key, col, key.startswith("treatment."))
        if len(axis.levels) < 2:
            notes.append(f"`{key}` has a single value ({axis.levels[0]:g}) in these results: no dose curve.")
        else:
            axes.append(axis)
    for key, vals in results.declared.items():
        if key in ("seed", "treatment", *SEED_KEYS) or key.startswith("hydra") or key in results.axes:
            continue
        if len(vals) == 1:
            notes.append(f"`{key}` was swept over a single value ({next(iter(vals))}): no dose curve.")
        else:
            notes.append(f"`{key}` was swept over {len(vals)} values, but the results hold one: no dose curve.")
    return axes, notes


def conditions(frame: pd.DataFrame, axis: DoseAxis, others: list[DoseAxis], split: list[str] = ()
               ) -> list[tuple[dict, pd.DataFrame]]:
    """The frame split by the other dose axes and by the ``split`` columns (other swept global
    keys, matched exactly), each part with a ``dose`` column for ``axis``; a row without a value on
    another axis (a knob its treatment lacks, a baseline arm) joins every part."""
    f = frame.assign(dose=frame["config_hash"].map(axis.values))
    if axis.treatment:
        f = f[~f["arm"].isin(list(BASELINE_ARMS))]
    f = f[f["dose"].notna()]
    for o in others:
        f[f"_{o.name}"] = f["config_hash"].map(o.values)
        if o.treatment:
            f.loc[f["arm"].isin(list(BASELINE_ARMS)), f"_{o.name}"] = np.nan
    exact = [list(k) if isinstance(k, tuple) else [k] for k in
             (f[list(split)].drop_duplicates().sort_values(list(split), key=order_key).itertuples(index=False)
              if split else [()])]
    out = []
    for ex in exact:
        base = pd.Series(True, index=f.index)
        for c, v in zip(split, ex):
            base &= f[c] == v
        for combo in itertools.product(*[o.levels for o in others]):
            m = base.copy()
            hit = base.copy()
            for o, v in zip(others, combo):
                col = f[f"_{o.name}"]
                m &= col.isna() | np.isclose(col.fillna(np.inf), v)
                hit &= np.isclose(col.fillna(np.inf), v)
            if (others and not hit.any()) or not m.any():
                continue
            fixed = {**dict(zip(split, ex)), **{o.name: v for o, v in zip(others, combo)}}
            out.append((fixed, f[m].drop(columns=[f"_{o.name}" for o in others])))
    return out


def show_value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def describe(fixed: dict) -> str:
    """A condition as a title gives it: ``pathology.sparsity = 0.9, treatment.epochs = 5``."""
    return ", ".join(f"{k} = {show_value(v)}" for k, v in fixed.items())
