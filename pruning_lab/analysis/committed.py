"""Committed per-seed values read back as results, so every table of the docs is recomputed from them.

Two forms of file: ``experiments/paper*/expected.csv`` (``treatment, seed, metric, value``, the
metric a dotted path of the result's ``metrics``, as ``pruning_lab.verify`` writes it) and the
studies' ``per_seed.csv`` (``treatment, seed``, the swept config values, ``section, metric, x,
value``, as ``tools/per_seed.py`` writes it). Either gives a ``ResultSet`` with one run per
(treatment, swept values, seed), which ``arms``, the tables, the verdict and the claims read
like any other; it has no configs, so no protocol check.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import yaml

from .load import ENVIRONMENT, ResultSet, _metric_rows, show

CONF = Path(__file__).resolve().parents[2] / "conf" / "treatment"
KEYS = ("treatment", "seed", "section", "metric", "x", "value")


def read(path: Path | str) -> ResultSet:
    """A ResultSet of the per-seed values in ``path`` (either form)."""
    path = Path(path)
    df = pd.read_csv(path, dtype={"value": str}, keep_default_na=False)
    tidy = _expected(df) if "section" not in df else _per_seed(df)
    axes = [c for c in tidy.columns if c not in KEYS]
    for a in axes:
        tidy[a] = tidy[a].map(lambda v: show(v) if not isinstance(v, str) else v)
    condition = ["treatment", *axes, "seed"]
    runs = tidy[condition].drop_duplicates().reset_index(drop=True)
    runs["config_hash"] = runs.apply(lambda r: "/".join(str(r[c]) for c in condition), axis=1)
    global_axes = [a for a in axes if not a.startswith("treatment.")]
    # every treatment of a seed (and pathology) shares its baseline
    runs["baseline_key"] = runs.apply(lambda r: "/".join(str(r[c]) for c in ["seed", *global_axes]), axis=1)
    runs["arm"] = runs["treatment"]
    runs["label"] = runs["treatment"].map(_label)
    runs["path"] = str(path)
    runs = runs.assign(copies=1, cache_hit=None, wall_seconds=0.0, onset="recorded",
                       **dict.fromkeys(ENVIRONMENT, "unknown"))
    tidy = tidy.merge(runs[[*condition, "config_hash", "baseline_key", "label", "path"]], on=condition)
    tidy["seed"] = tidy["seed"].astype(int)
    runs["seed"] = runs["seed"].astype(int)
    tidy = tidy[["path", "config_hash", "seed", "treatment", "label", "baseline_key", *axes, "section", "metric",
                 "x", "value"]]
    return ResultSet(root=path, runs=runs, tidy=tidy, axes=axes)


def _label(treatment: str) -> str:
    """A treatment's label, as its config file gives it (its name where there is none)."""
    f = CONF / f"{treatment}.yaml"
    label = (yaml.safe_load(f.read_text()) or {}).get("label") if f.is_file() else None
    return label or treatment


def _per_seed(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["x"] = pd.to_numeric(df["x"].replace("", math.nan))
    df["value"] = pd.to_numeric(df["value"])
    df["seed"] = df["seed"].astype(int)
    return df


def _expected(df: pd.DataFrame) -> pd.DataFrame:
    """The tidy rows of each job's ``metrics``, rebuilt from its dotted leaves."""
    rows = []
    for (treatment, seed), job in df.groupby(["treatment", "seed"], sort=False):
        metrics = _unflatten(dict(zip(job["metric"], job["value"])))
        rows += [(treatment, int(seed), *r[1:]) for r in _metric_rows("", metrics)]
    return pd.DataFrame(rows, columns=list(KEYS))


def _unflatten(leaves: dict[str, str]) -> dict:
    """A result's ``metrics`` from its leaves (``treated.profile.2.5``, ``longitudinal.combined.3``):
    a profile is keyed by its σ, other numbered parts are list items; empty cells are null."""
    tree: dict = {}
    for key, text in leaves.items():
        parts = key.split(".")
        if len(parts) > 2 and parts[1] == "profile":
            parts = [*parts[:2], ".".join(parts[2:])]
        value = None if text == "" else (text == "true" if text in ("true", "false") else float(text))
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return _lists(tree)


def _lists(node, name: str = ""):
    """Mappings keyed 0..n-1 as lists, but a profile (keyed by σ, which may be 0, 1, ...)."""
    if not isinstance(node, dict):
        return node
    out = {k: _lists(v, k) for k, v in node.items()}
    if name != "profile" and out and sorted(out) == sorted(map(str, range(len(out)))):
        return [out[str(i)] for i in range(len(out))]
    return out
