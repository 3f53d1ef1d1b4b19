"""Per-run result JSONs -> one tidy DataFrame; ``python -m pruning_lab.aggregate DIR`` -> report.

Reads every ``*.json`` under a sweep directory or a result store, whichever launcher wrote it.
A file that is truncated, edited (checksum), foreign or of another schema is reported by path
and skipped; one bad file never stops the aggregation. The same result found twice (job dir
and store) counts once, by ``config_hash``.

The tidy frame has one row per run x metric: ``path, config_hash, seed, treatment, label,
baseline_key, <axes...>, section, metric, x, value``. ``section`` is the key under
``metrics`` (healthy, untreated, treated, off_drug, relapse, longitudinal); ``x`` is the
internal sigma of a ``profile`` value, the cycle of a longitudinal series (for the course
summaries final, total_drop, relapsed, relapse_cycle: its last cycle), the layer of a
``layer_sparsity`` value, NaN otherwise. Axes are the config values that differ across the sweep.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .config import SCHEMA
from .store import canonical, sha256

log = logging.getLogger(__name__)

SCHEMA_PREFIX = SCHEMA.rsplit("/", 1)[0] + "/"
JOB_STATUS = "job.status"   # written by every Hydra job (pruning_lab.hydra_callbacks.STATUS)
EVAL_SECTIONS = ("healthy", "untreated", "treated", "off_drug")
EVAL_SCALARS = ("sparsity", "clean", "standard", "combined")
RELAPSE_KEYS = ("drop", "combined_before", "combined_after", "sparsity_before", "sparsity_after", "target")
# Keys that follow the seed rather than define a condition of the sweep.
SEED_KEYS = ("seed", "data.seed")
NAME_KEYS = ("treatment.name", "treatment.label")
# Arms that come from every job's own baseline rather than from its treatment.
BASELINE_ARMS = {"untreated": "Untreated (pruned)", "healthy": "Healthy (dense)"}
PUBLISHED_ORDER = ("healthy", "untreated", "ketamine", "ssri", "neurosteroid")


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
    return bad


def read_result(path: Path) -> tuple[dict | None, str | None]:
    """``(result, None)`` for a whole, valid result JSON, else ``(None, why)``; ``why == ""`` means
    a file that is not a result and not a problem (a baseline-cache record)."""
    try:
        obj = json.loads(Path(path).read_bytes())
    except OSError as e:
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
    if schema != SCHEMA:
        kind = "unsupported schema version" if str(schema).startswith(SCHEMA_PREFIX) else "foreign schema"
        return None, f"{kind} {schema!r} (expected {SCHEMA!r})"
    checksum = obj.pop("checksum", None)
    if checksum is None:
        return None, "no checksum"
    # the same rule as store.load_json: the checksum covers the canonical form of the rest
    if sha256(canonical(obj)) != checksum:
        return None, "checksum mismatch (edited or damaged)"
    obj["checksum"] = checksum
    bad = _missing_fields(obj)
    if bad:
        return None, "malformed: missing or invalid " + ", ".join(bad[:4]) + (" ..." if len(bad) > 4 else "")
    return obj, None


# -- config flattening and swept axes --------------------------------------------------------


def flatten(d: dict, prefix: str = "") -> dict:
    """Dotted keys; lists of mappings (phases) by index, other lists as one JSON value."""
    out: dict = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                out.update(flatten(x, f"{key}.{i}."))
        elif isinstance(v, list):
            out[key] = json.dumps(v)
        else:
            out[key] = v
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


def order_key(values: pd.Series) -> pd.Series:
    """Sort numbers as numbers and known arms in the papers' order."""
    def one(v):
        if v in PUBLISHED_ORDER:
            return (0, PUBLISHED_ORDER.index(v), "")
        try:
            return (1, float(v), "")
        except (TypeError, ValueError):
            return (2, 0.0, str(v))
    return values.map(one)


# -- the whole sweep -------------------------------------------------------------------------


@dataclass
class Sweep:
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
    versions: pd.DataFrame = field(default_factory=pd.DataFrame)
    timings: pd.DataFrame = field(default_factory=pd.DataFrame)     # config_hash x phase seconds

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
    return rows


def _hydra_declared(root: Path) -> tuple[set[int], set[str]]:
    """Seeds and treatments a Hydra multirun under ``root`` was asked for (``multirun.yaml``)."""
    seeds: set[int] = set()
    treatments: set[str] = set()
    files = list(root.rglob("multirun.yaml"))
    if not files:
        return seeds, treatments
    try:
        import yaml
        from hydra.core.override_parser.overrides_parser import OverridesParser
        parser = OverridesParser.create()
    except ImportError:  # pragma: no cover - hydra is a dependency
        return seeds, treatments
    for f in files:
        try:
            cfg = yaml.safe_load(f.read_text()) or {}
            hy = cfg.get("hydra", {}) or {}
            overrides = list((hy.get("overrides") or {}).get("task") or [])
            params = (hy.get("sweeper") or {}).get("params") or {}
            overrides += [f"{k}={v}" for k, v in params.items()]
            for o in parser.parse_overrides(overrides):
                if o.key_or_group not in ("seed", "treatment"):
                    continue
                values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [str(o.value())]
                if o.key_or_group == "seed":
                    seeds.update(int(v) for v in values)
                else:
                    treatments.update(values)
        except Exception as e:  # a damaged multirun.yaml only costs the declared grid
            log.warning("could not read %s (%s)", f, type(e).__name__)
    return seeds, treatments


def _missing_cells(runs: pd.DataFrame, axes: list[str], declared: tuple[set[int], set[str]]) -> pd.DataFrame:
    """Every (global condition x treatment condition x seed) the sweep implies but lacks."""
    t_axes = [a for a in axes if a.startswith("treatment.")]
    g_axes = [a for a in axes if not a.startswith("treatment.")]
    cols = g_axes + ["treatment"] + t_axes + ["seed"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    seeds = pd.DataFrame({"seed": sorted(set(runs["seed"]) | declared[0])})
    conditions = runs[["treatment"] + t_axes].drop_duplicates()
    extra = sorted(declared[1] - set(conditions["treatment"]))
    if extra:
        conditions = pd.concat([conditions, pd.DataFrame({"treatment": extra})], ignore_index=True).fillna("")
    grid = conditions.merge(seeds, how="cross")
    if g_axes:
        grid = runs[g_axes].drop_duplicates().merge(grid, how="cross")
    have = runs[cols].drop_duplicates().assign(_have=True)
    grid = grid[cols].merge(have, on=cols, how="left")
    missing = grid[grid["_have"].isna()].drop(columns="_have")
    return missing.sort_values(cols, key=order_key).reset_index(drop=True)


def load_sweep(root: Path | str) -> Sweep:
    """Read every result JSON under ``root`` into a :class:`Sweep` (never raises on a bad file)."""
    root = Path(root)
    # the report writes no JSON, so an output directory inside or around ``root`` is harmless
    paths = sorted(p for p in root.rglob("*.json") if p.is_file())
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
        if h in results:
            duplicates += 1
            if results[h]["checksum"] != obj["checksum"]:
                conflicts.append((str(p), where[h][0]))
            where[h].append(str(p))
            continue
        results[h] = obj
        where[h] = [str(p)]

    flat = {h: flatten(r["config"]) for h, r in results.items()}
    configs = pd.DataFrame.from_dict(flat, orient="index") if flat else pd.DataFrame()
    run_rows = [{"config_hash": h, "path": where[h][0], "copies": len(where[h]), "seed": r["seed"],
                 "treatment": r["treatment"], "label": r.get("label") or r["treatment"],
                 "baseline_key": (r.get("baseline") or {}).get("key", ""),
                 "cache_hit": (r.get("baseline") or {}).get("cache_hit"),
                 "wall_seconds": float(r.get("wall_seconds") or 0.0)} for h, r in results.items()]
    runs = pd.DataFrame(run_rows, columns=["config_hash", "path", "copies", "seed", "treatment", "label",
                                           "baseline_key", "cache_hit", "wall_seconds"])
    axes = swept_axes(configs, runs.set_index("config_hash").loc[configs.index, "treatment"]) if len(runs) else []
    for a in axes:
        runs[a] = runs["config_hash"].map(configs[a].map(show))
    runs = runs.sort_values(["treatment", *axes, "seed"], key=order_key).reset_index(drop=True)

    metric_rows = [row for h, r in results.items() for row in _metric_rows(h, r["metrics"])]
    metrics = pd.DataFrame(metric_rows, columns=["config_hash", "section", "metric", "x", "value"])
    keep = ["config_hash", "path", "seed", "treatment", "label", "baseline_key", *axes]
    tidy = runs[keep].merge(metrics, on="config_hash", how="inner")

    versions = pd.DataFrame([{"config_hash": h, **(r.get("versions") or {})} for h, r in results.items()])
    timings = pd.DataFrame([{"config_hash": h, **(r.get("timings") or {})} for h, r in results.items()])

    declared = _hydra_declared(root)
    sweep = Sweep(root=root, runs=runs, tidy=tidy, axes=axes, problems=problems, duplicates=duplicates,
                  conflicts=conflicts, configs={h: r["config"] for h, r in results.items()},
                  versions=versions, timings=timings)
    sweep.missing = _missing_cells(runs, axes, declared)
    sweep.incomplete_dirs = [f"{d}: {_job_state(d)}" for d in sorted(h.parent for h in root.rglob(".hydra")
                                                                       if h.is_dir())
                             if not (d / "result.json").exists()]
    return sweep


def _job_state(job_dir: Path) -> str:
    """Why a Hydra job dir has no result, from the status file the job writes (if any)."""
    try:
        st = json.loads((job_dir / JOB_STATUS).read_text())
    except (OSError, ValueError):
        return "no status (not started, killed, or from an older version)"
    state = st.get("state", "unknown") if isinstance(st, dict) else "unknown"
    if state == "running":
        return "running, or killed while running"
    return f"{state}: {st['error']}" if state == "failed" and st.get("error") else str(state)


def arms(sweep: Sweep) -> pd.DataFrame:
    """The tidy frame by arm: a treatment's own sections under its name; the untreated and healthy
    networks once per baseline (every treatment of a seed shares them), as arms of their own."""
    t = sweep.tidy
    if t.empty:
        return t.assign(arm=pd.Series(dtype=str))
    own = t[~t["section"].isin(list(BASELINE_ARMS))].assign(arm=t["treatment"])
    base = t[t["section"].isin(list(BASELINE_ARMS))].copy()
    for a in sweep.treatment_axes:
        base[a] = ""
    base["arm"] = base["section"]
    base["label"] = base["section"].map(BASELINE_ARMS)
    key = ["baseline_key", *sweep.global_axes, "section", "metric", "x"]
    # common random numbers make a baseline's metrics identical in every job that shares it;
    # if they are not, the jobs disagree about the protocol and the reader must know
    spread = base.groupby(key, dropna=False)["value"].agg(lambda v: v.max() - v.min())
    if (spread > 1e-9).any():
        bad = spread[spread > 1e-9].reset_index()
        sweep.inconsistent = sorted({f"baseline {r.baseline_key}: {r.section}.{r.metric} differs between jobs"
                                     for r in bad.itertuples()})
    base = base.drop_duplicates(subset=key, keep="first")
    # the paired per-seed effect of taking a modulated network off drug
    on = own[own["section"] == "treated"][["config_hash", "metric", "x", "value"]]
    off = own[own["section"] == "off_drug"]
    change = off.merge(on, on=["config_hash", "metric", "x"], suffixes=("", "_on"))
    change = change.assign(section="off_minus_on", value=change["value"] - change["value_on"]).drop(columns="value_on")
    return pd.concat([base, own, change], ignore_index=True)


# -- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pruning_lab.aggregate",
                                 description="Tables, figures and a reproduction report from per-run result JSONs.")
    ap.add_argument("dir", type=Path, help="a Hydra sweep directory or a result store (searched recursively)")
    ap.add_argument("--out", type=Path, default=None, help="where report.md, tables/ and figures/ go (default: DIR)")
    ap.add_argument("--population-sd", action="store_true",
                    help="SD with ddof=0, as the papers reported (default: sample SD, ddof=1)")
    ap.add_argument("--paper", choices=("auto", "1", "2", "none"), default="auto",
                    help="published study to compare with (auto: 1 for one seed without a longitudinal course, else 2)")
    ap.add_argument("--published", type=Path, default=None,
                    help="directory holding paper1/ and paper2/ published.csv (default: the repo's experiments/)")
    ap.add_argument("--no-figures", action="store_true", help="skip the figures (faster)")
    ap.add_argument("--quiet", action="store_true", help="only print where the report is")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    if not args.dir.is_dir():
        print(f"pruning-lab: error: {args.dir} is not a directory", file=sys.stderr)
        return 2
    from .report import build

    out = args.out or args.dir
    sweep = load_sweep(args.dir)
    paper = {"auto": "auto", "none": None, "1": 1, "2": 2}[args.paper]
    path = build(sweep, out, ddof=0 if args.population_sd else 1, paper=paper, published_dir=args.published,
                 figures=not args.no_figures)
    if not args.quiet:
        n_t = sweep.runs["treatment"].nunique() if len(sweep.runs) else 0
        print(f"{len(sweep.runs)} runs ({len(sweep.seeds)} seeds x {n_t} treatments"
              f"{', axes: ' + ', '.join(sweep.axes) if sweep.axes else ''}); "
              f"{len(sweep.problems)} bad file(s) skipped, {len(sweep.missing)} missing cell(s)")
    print(f"report: {path}")
    return 0 if len(sweep.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
