"""Dose response: the numeric swept axes of a sweep, each as one axis of a curve.

A global axis (``pathology.sparsity``) is its config key. A treatment knob is stored in its
phases (``treatment.phases.1.epochs`` for one treatment, ``treatment.phases.0.epochs`` for
another), so the phase keys that share a name become one axis under the treatment's knob name
(``treatment.epochs``; ``treatment.maintenance_epochs`` for the maintenance phases), the name
the sweep was asked with.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .load import SEED_KEYS, ResultSet, order_key

_PHASE = re.compile(r"^treatment\.(phases|maintenance)\.\d+\.(.+)$")


@dataclass
class DoseAxis:
    name: str
    keys: list[str]            # the swept config keys it stands for
    values: pd.Series          # config_hash -> value (NaN: the run has no such knob)
    treatment: bool            # a treatment knob: the baseline arms do not depend on it

    @property
    def levels(self) -> list[float]:
        return sorted(self.values.dropna().unique().tolist())


def _name(key: str) -> str:
    m = _PHASE.match(key)
    if not m:
        return key
    return f"treatment.{m.group(2)}" if m.group(1) == "phases" else f"treatment.maintenance_{m.group(2)}"


def _numbers(col: pd.Series) -> pd.Series | None:
    """The axis values as floats (NaN where empty), or None if any is not a number."""
    filled = col.replace("", np.nan)
    out = pd.to_numeric(filled, errors="coerce")
    return None if out.notna().sum() != filled.notna().sum() else out


def dose_axes(results: ResultSet) -> tuple[list[DoseAxis], list[str]]:
    """The numeric swept axes with two values or more, and one note for every swept key without a curve."""
    runs = results.runs.set_index("config_hash")
    by_name: dict[str, list[str]] = {}
    for key in results.axes:
        by_name.setdefault(_name(key), []).append(key)
    axes, notes = [], []
    for name, keys in by_name.items():
        cols = [_numbers(runs[k]) for k in keys]
        if any(c is None for c in cols):
            notes.append(f"`{name}` takes values that are not numbers: no dose curve.")
            continue
        both = pd.concat(cols, axis=1)
        if len(keys) > 1 and (both.notna().sum(axis=1) > 1).any():
            # two phases of one treatment take the knob: each keeps its own axis
            axes += [DoseAxis(k, [k], c, k.startswith("treatment.")) for k, c in zip(keys, cols)]
            continue
        axes.append(DoseAxis(name, keys, both.bfill(axis=1).iloc[:, 0], name.startswith("treatment.")))
    kept = []
    for a in axes:
        if len(a.levels) < 2:
            notes.append(f"`{a.name}` has a single value ({a.levels[0]:g}) in these results: no dose curve.")
        else:
            kept.append(a)
    names = {a.name for a in kept} | {n for n in by_name}
    for key, vals in results.declared.items():
        if key in ("seed", "treatment", *SEED_KEYS) or key.startswith("hydra") or key in names:
            continue
        if len(vals) == 1:
            notes.append(f"`{key}` was swept over a single value ({next(iter(vals))}): no dose curve.")
        else:
            notes.append(f"`{key}` was swept over {len(vals)} values, but the results hold one: no dose curve.")
    return kept, notes


def conditions(frame: pd.DataFrame, axis: DoseAxis, others: list[DoseAxis]) -> list[tuple[dict, pd.DataFrame]]:
    """The frame split by the other dose axes, each part with a ``dose`` column for ``axis``; a row
    without a value on another axis (a knob its treatment lacks, a baseline arm) joins every part."""
    f = frame.assign(dose=frame["config_hash"].map(axis.values))
    if axis.treatment:
        f = f[~f["arm"].isin(["untreated", "healthy"])]
    f = f[f["dose"].notna()]
    for o in others:
        f[f"_{o.name}"] = f["config_hash"].map(o.values)
        if o.treatment:
            f.loc[f["arm"].isin(["untreated", "healthy"]), f"_{o.name}"] = np.nan
    out = []
    for combo in itertools.product(*[o.levels for o in others]):
        m = pd.Series(True, index=f.index)
        exact = pd.Series(True, index=f.index)
        for o, v in zip(others, combo):
            col = f[f"_{o.name}"]
            m &= col.isna() | np.isclose(col.fillna(np.inf), v)
            exact &= np.isclose(col.fillna(np.inf), v)
        if others and not (m & exact).any():
            continue
        out.append(({o.name: v for o, v in zip(others, combo)}, f[m].drop(columns=[f"_{o.name}" for o in others])))
    return out


def sort_arms(keys):
    return sorted(keys, key=lambda k: order_key(pd.Series([k[0]]))[0])
