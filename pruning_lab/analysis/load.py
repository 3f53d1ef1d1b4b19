"""Per-run result JSONs -> one tidy DataFrame.

Reads every ``*.json`` under a sweep directory or a result store (or a folder holding both),
whichever launcher wrote it. A file that is truncated, edited (checksum), foreign or of another
schema is named and skipped; one bad file never stops the reading. The same result found twice
(job dir and store) counts once, by ``config_hash``.

The tidy frame has one row per run x metric: ``path, config_hash, seed, treatment, label,
baseline_key, <axes...>, section, metric, x, value``. ``section`` is the key under
``metrics`` (healthy, untreated, treated, off_drug, relapse, longitudinal, onset, response);
``x`` is the internal sigma of a ``profile`` value, the cycle of a longitudinal series (for the
course summaries final, total_drop, relapsed, relapse_cycle: its last cycle), the treatment
epoch of an onset point, the layer of a ``layer_sparsity`` value, NaN otherwise. ``response``
holds threshold, responded (1/0), epoch (if it responded) and time (the epoch of response, or
of the last onset point for a seed that never responds: censored there). Axes are the config
values that differ across the sweep; a treatment knob goes by the name it is typed as
(``treatment.epochs``), not by the phase keys it feeds (``treatment.phases.1.epochs``): each
result records its knobs with their phase keys, and its arm, so nothing here reads ``conf/``
(a result of schema 1, which does not record them, is read through ``legacy``).
Nothing here imports torch or Hydra (Hydra's override parser only to read a ``multirun.yaml``).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import ADDED, SCHEMA, ConfigError, shown
from ..launch.status import STATUS, JobStatus
from ..store import READABLE, Corrupt, checked
from ..tree import leaves
from . import legacy
from .measures import order_key

log = logging.getLogger(__name__)

SCHEMA_PREFIX = SCHEMA.rsplit("/", 1)[0] + "/"
EVAL_SECTIONS = ("healthy", "untreated", "treated", "off_drug")
EVAL_SCALARS = ("sparsity", "clean", "standard", "combined")
ONSET_SERIES = ("combined", "standard", "extreme")   # metrics.onset[...] per point of metrics.onset["epoch"]
ENVIRONMENT = ("numerics", "portable", "cpu", "isa")
RELAPSE_KEYS = ("drop", "combined_before", "combined_after", "sparsity_before", "sparsity_after", "target")
LONGITUDINAL_KEYS = ("combined", "sparsity", "relapsed", "relapse_cycle", "final", "total_drop")
RESPONSE_KEYS = ("threshold", "responded", "epoch", "time")
# every ``section.metric`` a tidy frame can hold (``_metric_rows``): what a margin or a claim may name
MEASURE_NAMES = frozenset(
    [f"{s}.{m}" for s in EVAL_SECTIONS for m in (*EVAL_SCALARS, "profile", "layer_sparsity")]
    + [f"relapse.{k}" for k in RELAPSE_KEYS] + [f"longitudinal.{k}" for k in LONGITUDINAL_KEYS]
    + [f"onset.{k}" for k in ONSET_SERIES] + [f"response.{k}" for k in RESPONSE_KEYS])
# Keys that follow the seed rather than define a condition of the sweep.
SEED_KEYS = ("seed", "data.seed")
NAME_KEYS = ("treatment.name", "treatment.label")


# -- reading one file ------------------------------------------------------------------------


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _missing_fields(obj: dict) -> list[str]:
    """Dotted names of the fields the tables need that ``obj`` lacks or holds in the wrong type."""
    bad = [k for k, t in (("config_hash", str), ("treatment", str), ("config", dict), ("metrics", dict))
           if not isinstance(obj.get(k), t)]
    if not isinstance(obj.get("seed"), int) or isinstance(obj.get("seed"), bool):
        bad.append("seed")
    m = obj.get("metrics") if isinstance(obj.get("metrics"), dict) else {}
    for section in EVAL_SECTIONS:
        ev = m.get(section)
        if ev is None and section == "off_drug":
            continue
        if not isinstance(ev, dict):
            bad.append(f"metrics.{section}")
            continue
        bad += [f"metrics.{section}.{k}" for k in EVAL_SCALARS if not _is_number(ev.get(k))]
        prof = ev.get("profile")
        if not isinstance(prof, dict) or not all(_is_number(v) for v in prof.values()):
            bad.append(f"metrics.{section}.profile")
    rel = m.get("relapse")
    if not isinstance(rel, dict) or not _is_number(rel.get("drop")):
        bad.append("metrics.relapse.drop")
    lg = m.get("longitudinal")
    if lg is not None:
        ok = (isinstance(lg, dict) and isinstance(lg.get("combined"), list) and isinstance(lg.get("sparsity"), list)
              and all(_is_number(v) for v in lg["combined"] + lg["sparsity"]) and len(lg["combined"]) > 0
              and (lg.get("relapse_cycle") is None or isinstance(lg.get("relapse_cycle"), int)))
        if not ok:
            bad.append("metrics.longitudinal")
    on = m.get("onset")
    if on is not None:
        series = [on.get(k) for k in ONSET_SERIES] if isinstance(on, dict) else [None]
        if not (isinstance(on, dict) and all(isinstance(v, list) and len(v) == len(on.get("epoch") or [])
                                             and all(_is_number(x) for x in v) for v in series + [on.get("epoch")])
                and len(on["epoch"]) > 0):
            bad.append("metrics.onset")
    resp = m.get("response")
    if resp is not None:
        e = resp.get("epoch") if isinstance(resp, dict) else None
        if not (isinstance(resp, dict) and _is_number(resp.get("threshold"))
                and (e is None or (isinstance(e, int) and not isinstance(e, bool)))):
            bad.append("metrics.response")
    if not isinstance(obj.get("arm", ""), str):
        bad.append("arm")
    knobs = obj.get("knobs", {})
    if not (isinstance(knobs, dict) and all(isinstance(r, dict) and "value" in r
                                            and isinstance(r.get("phase_keys"), list) for r in knobs.values())):
        bad.append("knobs")
    return bad


def read_result(path: Path) -> tuple[dict | None, str | None]:
    """``(result, None)`` for a whole, valid result JSON, else ``(None, why)``; ``why == ""`` means
    a file that is not a result and not a problem (a baseline-cache record)."""
    try:
        obj = json.loads(Path(path).read_bytes())
    except OSError as e:
        if Path(path).is_symlink() and not Path(path).exists():
            return None, f"dangling symlink (to {os.readlink(path)})"
        return None, f"unreadable ({e.strerror or type(e).__name__})"
    except ValueError:
        return None, "not valid JSON (truncated or damaged)"
    if not isinstance(obj, dict):
        return None, "foreign JSON (not an object)"
    schema = obj.get("schema")
    if schema is None:
        # the baseline cache keeps its metadata beside the results; it is no result and no fault
        if {"key", "sha256", "config"} <= set(obj):
            return None, ""
        return None, "foreign JSON (no schema field)"
    if schema not in READABLE:
        kind = "unsupported schema version" if str(schema).startswith(SCHEMA_PREFIX) else "foreign schema"
        return None, f"{kind} {schema!r} (expected {' or '.join(map(repr, READABLE))})"
    try:
        obj = {**checked(obj), "checksum": obj.get("checksum")}
    except Corrupt as e:
        return None, str(e)
    if schema != SCHEMA and isinstance(obj.get("config"), dict) and isinstance(obj.get("treatment"), str):
        obj = legacy.upgrade(obj)
    bad = _missing_fields(obj)
    if bad:
        return None, "malformed: missing or invalid " + ", ".join(bad[:4]) + (" ..." if len(bad) > 4 else "")
    # a result may leave out what it has not: its arm is then its treatment's, and it has no knobs
    return {"arm": obj["treatment"], "knobs": {}, **obj}, None


# -- config flattening and swept axes --------------------------------------------------------


def flatten(d: dict) -> dict:
    """Dotted keys; lists of mappings (phases) by index, other lists as one JSON value."""
    return {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in leaves(d, into_lists=False)}


def knob_columns(flat: dict, knobs: dict) -> dict:
    """A flattened config with the phase keys each treatment knob feeds replaced by the knob (``knobs``:
    a result's record, ``{"treatment.epochs": {"value": 15, "phase_keys": ["treatment.phases.1.epochs"]}}``)."""
    fed = {p for r in knobs.values() for p in r["phase_keys"]}
    out = {k: v for k, v in flat.items() if k not in fed}
    out.update({k: json.dumps(r["value"]) if isinstance(r["value"], list) else r["value"] for k, r in knobs.items()})
    return out


def show(v) -> str:
    """An axis value as the tables print it."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def swept_axes(configs: pd.DataFrame, treatments: pd.Series) -> list[str]:
    """Config keys that define conditions: a non-treatment key varying anywhere, or a treatment
    key varying within one treatment (between treatments their phases differ by design)."""
    axes = []
    for key in configs.columns:
        if key in NAME_KEYS or key in SEED_KEYS:
            continue
        col = configs[key].map(show)
        if key.startswith("treatment."):
            varies = col.groupby(treatments.values).nunique(dropna=False).max() > 1
        else:
            varies = col.nunique(dropna=False) > 1
        if varies:
            axes.append(key)
    if "data.seed" in configs and (configs["data.seed"] != configs["seed"]).any() \
            and configs["data.seed"].nunique() > 1:
        axes.append("data.seed")  # a data seed swept apart from the model seed is a condition
    return axes


def xkey(x):
    """An ``x`` value as a lookup key: None for NaN, else rounded so 2.5 finds 2.5000000001."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), 6)


# -- the whole sweep -------------------------------------------------------------------------


@dataclass
class ResultSet:
    """Everything read from a directory: the tidy frame and what was wrong with it."""

    root: Path
    runs: pd.DataFrame            # one row per distinct result
    tidy: pd.DataFrame            # one row per run x metric
    axes: list[str]
    problems: list[tuple[str, str]] = field(default_factory=list)   # (path, why), skipped files
    duplicates: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # same hash, different content
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)     # expected (.., seed, treatment) cells
    incomplete_dirs: list[str] = field(default_factory=list)        # "<job dir>: why" without result.json
    inconsistent: list[str] = field(default_factory=list)
    configs: dict = field(default_factory=dict)                     # config_hash -> resolved config
    flat: dict = field(default_factory=dict)                        # config_hash -> flat config, knobs by name
    versions: pd.DataFrame = field(default_factory=pd.DataFrame)
    timings: pd.DataFrame = field(default_factory=pd.DataFrame)     # config_hash x phase seconds
    declared: dict[str, set[str]] = field(default_factory=dict)     # swept key -> values a multirun asked for
    control: str | None = None                                      # the control arm its multirun.yaml names

    @property
    def treatment_axes(self) -> list[str]:
        return [a for a in self.axes if a.startswith("treatment.")]

    @property
    def global_axes(self) -> list[str]:
        return [a for a in self.axes if not a.startswith("treatment.")]

    @property
    def seeds(self) -> list[int]:
        return sorted(self.runs["seed"].unique().tolist()) if len(self.runs) else []

    @property
    def longitudinal(self) -> bool:
        return bool(len(self.tidy)) and (self.tidy["section"] == "longitudinal").any()

    @functools.cached_property
    def shared(self) -> dict:
        """The flattened config values (knobs by name) every run has alike."""
        if not self.flat:
            return {}
        first, *rest = self.flat.values()
        return {k: v for k, v in first.items() if all(k in f and f[k] == v for f in rest)}


def _metric_rows(key: str, m: dict) -> list[tuple]:
    rows = []
    nan = math.nan
    for section in EVAL_SECTIONS:
        ev = m.get(section)
        if ev is None:
            continue
        rows += [(key, section, k, nan, float(ev[k])) for k in EVAL_SCALARS]
        rows += [(key, section, "profile", float(s), float(v)) for s, v in ev["profile"].items()]
        rows += [(key, section, "layer_sparsity", float(i), float(v))
                 for i, v in enumerate(ev.get("layer_sparsity") or [])]
    rel = m["relapse"]
    rows += [(key, "relapse", k, nan, float(rel[k])) for k in RELAPSE_KEYS if _is_number(rel.get(k))]
    lg = m.get("longitudinal")
    if lg is not None:
        acc, spars = lg["combined"], lg["sparsity"]
        rows += [(key, "longitudinal", "combined", float(c), float(v)) for c, v in enumerate(acc)]
        rows += [(key, "longitudinal", "sparsity", float(c), float(v)) for c, v in enumerate(spars)]
        # course summaries carry the course's last cycle as x: a 2-cycle course's "final" is
        # not the published cycle-8 value and must not be matched with it
        last = float(len(acc) - 1)
        rc = lg.get("relapse_cycle")
        rows.append((key, "longitudinal", "relapsed", last, float(rc is not None)))
        if rc is not None:
            rows.append((key, "longitudinal", "relapse_cycle", last, float(rc)))
        # recomputed from the series, so a result from an older writer still reads the same
        rows.append((key, "longitudinal", "final", last, float(acc[-1])))
        rows.append((key, "longitudinal", "total_drop", last, float(acc[0] - acc[-1])))
    on = m.get("onset")
    if on is not None:
        rows += [(key, "onset", k, float(e), float(v)) for k in ONSET_SERIES for e, v in zip(on["epoch"], on[k])]
    resp = m.get("response")
    if resp is not None:
        e = resp["epoch"]
        rows.append((key, "response", "threshold", nan, float(resp["threshold"])))
        rows.append((key, "response", "responded", nan, float(e is not None)))
        if e is not None:
            rows.append((key, "response", "epoch", nan, float(e)))
        # time to response, or, for a seed that never responds, to the last point it was seen
        # below the threshold (censored)
        last = float(on["epoch"][-1]) if on else nan
        if e is not None or on:
            rows.append((key, "response", "time", nan, float(e) if e is not None else last))
    return rows


def _hydra_declared(root: Path) -> dict[str, set[str]]:
    """The swept keys of the Hydra multiruns under ``root`` (``multirun.yaml``), seed and treatment
    always, each with the values asked for: a sweep override, or a key of the preset's
    ``hydra.sweeper.params`` even when it lists one value."""
    asked: dict[str, set[str]] = {"seed": set(), "treatment": set()}
    files = list(root.rglob("multirun.yaml"))
    if not files:
        return asked
    import yaml

    from ..launch.overrides import sweep_arguments, values

    for f in files:
        try:
            hy = (yaml.safe_load(f.read_text()) or {}).get("hydra", {}) or {}
            task = (hy.get("overrides") or {}).get("task") or []
            params = (hy.get("sweeper") or {}).get("params") or {}
            # the last override of a key wins, as in the sweep itself
            last = {o.key_or_group: o for o in sweep_arguments(task, params)}
            for key, o in last.items():
                if key in asked or o.is_sweep_override() or key in params:
                    asked.setdefault(key, set()).update(values(o))
        except Exception as e:  # a damaged multirun.yaml only costs the declared grid
            log.warning("could not read %s (%s)", f, type(e).__name__)
    return asked


def _declared_control(root: Path) -> str | None:
    """The control arm the multiruns under ``root`` name (a preset's ``control:``), if they agree on one."""
    import yaml

    named = set()
    for f in root.rglob("multirun.yaml"):
        try:
            named.add((yaml.safe_load(f.read_text()) or {}).get("control"))
        except Exception:  # a damaged multirun.yaml only costs its control
            continue
    named.discard(None)
    return named.pop() if len(named) == 1 else None


def _missing_cells(runs: pd.DataFrame, axes: list[str], declared: dict[str, set[str]]) -> pd.DataFrame:
    """Every (global condition x treatment condition x seed) the sweep implies but lacks."""
    t_axes = [a for a in axes if a.startswith("treatment.")]
    g_axes = [a for a in axes if not a.startswith("treatment.")]
    cols = g_axes + ["treatment"] + t_axes + ["seed"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    seeds = pd.DataFrame({"seed": sorted(set(runs["seed"]) | {int(v) for v in declared["seed"]})})
    conditions = runs[["treatment"] + t_axes].drop_duplicates()
    extra = sorted(declared["treatment"] - set(conditions["treatment"]))
    if extra:
        conditions = pd.concat([conditions, pd.DataFrame({"treatment": extra})], ignore_index=True).fillna("")
    grid = conditions.merge(seeds, how="cross")
    if g_axes:
        grid = runs[g_axes].drop_duplicates().merge(grid, how="cross")
    have = runs[cols].drop_duplicates().assign(_have=True)
    grid = grid[cols].merge(have, on=cols, how="left")
    missing = grid[grid["_have"].isna()].drop(columns="_have")
    return missing.sort_values(cols, key=order_key).reset_index(drop=True)


TIDY_COLUMNS = ["path", "config_hash", "seed", "treatment", "label", "baseline_key", "section", "metric", "x", "value"]


def read_results(root: Path | str, only: set[str] | None = None) -> ResultSet:
    """Read every result JSON under ``root`` (or the file ``root``) into a :class:`ResultSet`;
    never raises on a bad file. ``only``: keep only the results of these config hashes."""
    root = Path(root)
    # the report writes no JSON, so an output directory inside or around ``root`` is harmless
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*.json") if p.is_file() or p.is_symlink())
    problems, conflicts = [], []
    results: dict[str, dict] = {}
    where: dict[str, list[str]] = {}
    duplicates = 0
    for p in paths:
        obj, why = read_result(p)
        if obj is None:
            if why:
                problems.append((str(p), why))
            continue
        h = obj["config_hash"]
        if only is not None and h not in only:
            continue
        if h in results:
            duplicates += 1
            if results[h]["checksum"] != obj["checksum"]:
                conflicts.append((str(p), where[h][0]))
            where[h].append(str(p))
            continue
        results[h] = obj
        where[h] = [str(p)]

    # a result from before a key was added ran at its old value (config.ADDED)
    flat = {h: knob_columns(flatten({**ADDED, **r["config"]}), r["knobs"]) for h, r in results.items()}
    configs = pd.DataFrame.from_dict(flat, orient="index") if flat else pd.DataFrame()
    run_rows = [{"config_hash": h, "path": where[h][0], "copies": len(where[h]), "seed": r["seed"],
                 "treatment": r["treatment"], "arm": r["arm"], "label": r.get("label") or r["treatment"],
                 "baseline_key": (r.get("baseline") or {}).get("key", ""),
                 "cache_hit": (r.get("baseline") or {}).get("cache_hit"),
                 "wall_seconds": float(r.get("wall_seconds") or 0.0), "onset": _onset_state(r["metrics"]),
                 **_environment(r)} for h, r in results.items()]
    runs = pd.DataFrame(run_rows, columns=["config_hash", "path", "copies", "seed", "treatment", "arm", "label",
                                           "baseline_key", "cache_hit", "wall_seconds", "onset", *ENVIRONMENT])
    axes = swept_axes(configs, runs.set_index("config_hash").loc[configs.index, "treatment"]) if len(runs) else []
    for a in axes:
        runs[a] = runs["config_hash"].map(configs[a].map(show))
    runs = runs.sort_values(["treatment", *axes, "seed"], key=order_key).reset_index(drop=True)

    metric_rows = [row for h, r in results.items() for row in _metric_rows(h, r["metrics"])]
    metrics = pd.DataFrame(metric_rows, columns=["config_hash", "section", "metric", "x", "value"])
    keep = ["config_hash", "path", "seed", "treatment", "label", "baseline_key", *axes]
    tidy = runs[keep].merge(metrics, on="config_hash", how="inner")

    versions = pd.DataFrame([{"config_hash": h, **_versions(r)} for h, r in results.items()])
    timings = pd.DataFrame([{"config_hash": h, **(r.get("timings") or {})} for h, r in results.items()])

    rs = ResultSet(root=root, runs=runs, tidy=tidy, axes=axes, problems=problems, duplicates=duplicates,
                   conflicts=conflicts, configs={h: r["config"] for h, r in results.items()}, flat=flat,
                   versions=versions, timings=timings)
    if root.is_dir():
        rs.declared = _hydra_declared(root)
        rs.control = _declared_control(root)
        rs.missing = _missing_cells(runs, axes, rs.declared)
        rs.incomplete_dirs = [f"{d}: {_job_state(d)}" for d in sorted({s.parent for s in root.rglob(STATUS)})
                              if not (d / "result.json").exists()]
    return rs


def _onset_state(m: dict) -> str:
    """"recorded", "off" (the course was turned off) or "absent" (a result from before it existed)."""
    if "onset" not in m:
        return "absent"
    return "off" if m["onset"] is None else "recorded"


def _versions(r: dict) -> dict:
    """The library versions a result records (``environment.versions``; a schema-1 result has a
    second record, ``versions``, of some of them and of Hydra's)."""
    env = r.get("environment") if isinstance(r.get("environment"), dict) else {}
    return {**(env.get("versions") or {}), **(r.get("versions") or {})}


def _environment(r: dict) -> dict:
    """Where a result's numbers were computed; "unknown" for results that do not say."""
    env = r.get("environment") if isinstance(r.get("environment"), dict) else {}
    return {k: _short(k, env.get(k)) for k in ENVIRONMENT}


def _short(key: str, v) -> str:
    """An environment entry in one table cell: a CPU by its model and vector extensions, an ISA
    record as "library: code path" pairs."""
    if v is None:
        return "unknown"
    if isinstance(v, dict) and key == "cpu":
        ext = v.get("extensions") or []
        return str(v.get("model") or v.get("vendor") or "unknown") + (f" ({' '.join(map(str, ext))})" if ext else "")
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x}" for k, x in v.items())
    return str(v)


def _job_state(job_dir: Path) -> str:
    """Why a job dir has no result, from its ``job.status``."""
    st = JobStatus.read(job_dir)
    if st is None:
        return "unreadable status (being rewritten, or damaged)"
    if st.state == "running":
        return "running, or killed while running"
    return f"{st.state}: {st.error}" if st.state == "failed" and st.error else str(st.state)


def results_path(path: object, name: str) -> Path:
    """The sweep dir, store or result file ``path`` names, for argument ``name``: ``TypeError`` if
    it is no path, ``ConfigError`` if it names nothing (a path that does not exist is a typo far
    more often than an empty study)."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
        raise TypeError(f"{name} must be a path (a str or a pathlib.Path), got {shown(path)}")
    text = os.fspath(path)
    if not text.strip() or "\0" in text:
        raise ConfigError(f"{name} must name a sweep dir, a store or a result file, got {shown(text)}")
    try:
        exists = Path(text).exists()
    except OSError as e:  # a name too long
        raise ConfigError(f"{name} {shown(text)} cannot be read ({e.strerror})") from None
    if not exists:
        raise ConfigError(f"{name} {text} does not exist")
    return Path(text)


def warn_if_empty(rs: ResultSet, where: object, stacklevel: int = 3) -> None:
    """The one warning of a read that found no valid result (``load_results``, ``report``)."""
    if rs.runs.empty:
        warnings.warn(f"{where} holds no valid result", stacklevel=stacklevel)


def load_results(path: Path | str) -> pd.DataFrame:
    """The tidy frame of every result under ``path`` (a store, a sweep dir, a folder with both, or
    one result file): one row per run x metric, with ``config_hash``, ``seed``, ``treatment``, the
    swept config values (numbers where they all are), ``section``, ``metric``, ``x`` and ``value``.

    Skipped files are named in a warning each; with no result, an empty frame and a warning. A
    path that does not exist is refused (``ConfigError``)."""
    path = results_path(path, "path")
    rs = read_results(path)
    for p, why in rs.problems:
        warnings.warn(f"skipped {p}: {why}", stacklevel=2)
    warn_if_empty(rs, path)
    if rs.runs.empty:
        return pd.DataFrame(columns=TIDY_COLUMNS)
    tidy = rs.tidy.copy()
    for a in rs.axes:
        as_number = pd.to_numeric(tidy[a].replace("", None), errors="coerce")
        if as_number.notna().sum() == (tidy[a] != "").sum():
            tidy[a] = as_number
    tidy.attrs["root"] = str(path)   # where pruning_lab.report reads the results back from
    tidy.attrs["shared"] = rs.shared  # what the figures label with: the course's prune fraction, the classes
    return tidy
