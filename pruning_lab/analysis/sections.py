"""The report of a sweep, section by section: ``report(results, paper=None)`` returns a
``document.Report`` (tables and figures by name, shown inline in a notebook); ``build`` saves one
where the command line asks.

A sweep of a published protocol gets the comparison with that paper and its reproduction verdict;
any other sweep gets a study report: its protocol's departures from the published one, a table per
numeric axis, dose-response fits, and which treatment is best.
"""

from __future__ import annotations

import math
import numbers
import os
import platform
import sys
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import ConfigError, shown
from . import claims as claimsmod
from . import dose
from . import published as pubmod
from . import control as controls
from . import replay, response, study, verdict
from .arms import Layout, arms, layout
from .document import Report
from .load import ResultSet, read_results, results_path, warn_if_empty
from .measures import BASELINE_ARMS, HEADLINE, order_key, rank
from .stats import binomial_se, ceilings, pairwise, summary_frame
from .tables import DASH, Lookup, Table, all_tables, num

PAPER2_HOME = {"Table 1": "efficacy", "Table 2": "stress_profile", "Table 3": "cycle_combined",
               "Table 4": "relapse_summary"}
PAPER1_HOME = {"Table 1": "overview", "Table 2": "stress_profile"}
ORDER = {1: ["overview", "stress_profile", "acute_relapse", "state_dependence", "efficacy"],
         2: ["efficacy", "stress_profile", "acute_relapse", "state_dependence", "cycle_combined", "cycle_sparsity",
             "cycle_range", "relapse_summary", "relapse_cycle_per_seed", "overview"]}
MAX_LISTED = 40


def home(paper: int, entry: dict) -> str | None:
    """Which of our tables a published value belongs beside."""
    if paper == 1:
        return PAPER1_HOME.get(entry["table"])
    if entry["table"] in PAPER2_HOME:
        return PAPER2_HOME[entry["table"]]
    if entry["section"] == "relapse":
        return "acute_relapse"
    if entry["section"] == "off_drug":
        return "state_dependence"
    if entry["section"] == "longitudinal":
        return "cycle_sparsity" if entry["metric"] == "sparsity" else "cycle_range"
    return None


# -- formatting ------------------------------------------------------------------------------


def pval(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


# -- sections --------------------------------------------------------------------------------


def _threshold(results: ResultSet) -> float | None:
    vals = [c.get("longitudinal", {}).get("relapse_threshold") for c in results.configs.values()
            if c.get("longitudinal", {}).get("cycles", 0) > 0]
    return float(pd.Series(vals).mode().iloc[0]) if vals else None


def _response_threshold(frame: pd.DataFrame) -> float | None:
    thr = frame.loc[(frame["section"] == "response") & (frame["metric"] == "threshold"), "value"]
    return float(thr.mode().iloc[0]) if len(thr) else None


def data_quality(rep: Report, results: ResultSet) -> None:
    rep.heading("Data quality")
    items = []
    n_files = len(results.runs) + results.duplicates + len(results.problems)
    items.append(f"Result files read: {n_files}; distinct results: {len(results.runs)}; duplicate copies "
                 f"(same config hash, e.g. job dir and store): {results.duplicates}.")
    if results.problems:
        items.append((f"**{len(results.problems)} file(s) skipped** (listed in `bad_files.csv`):",
                      [f"`{p}`: {why}" for p, why in results.problems[:MAX_LISTED]]
                      + ([f"... and {len(results.problems) - MAX_LISTED} more"]
                         if len(results.problems) > MAX_LISTED else [])))
        rep.frames["bad_files"] = pd.DataFrame(results.problems, columns=["path", "problem"])
    else:
        items.append("No truncated, edited, foreign or malformed files.")
    if results.conflicts:
        items.append((f"**{len(results.conflicts)} conflicting copies** (same config hash, different content; the "
                       "first was used):", [f"`{a}` differs from `{b}`" for a, b in results.conflicts[:MAX_LISTED]]))
    if len(results.missing):
        items.append(f"**{len(results.missing)} missing cell(s)** (seed x treatment x condition implied by the sweep "
                     "but without a result; all listed in `missing_cells.csv`"
                     + (f"; the first {MAX_LISTED} below" if len(results.missing) > MAX_LISTED else ", below") + ").")
        rep.frames["missing_cells"] = results.missing
    else:
        items.append("No missing (seed, treatment) cells.")
    if results.incomplete_dirs:
        items.append((f"**{len(results.incomplete_dirs)} job director(ies) without `result.json`** "
                      "(job failed, interrupted, killed or still running):",
                      [f"`{d.split(': ', 1)[0]}`: {d.split(': ', 1)[-1]}" for d in results.incomplete_dirs[:MAX_LISTED]]))
    if results.inconsistent:
        items.append(("**Jobs sharing a baseline disagree about its metrics** (they should be identical):",
                      results.inconsistent[:MAX_LISTED]))
    items += onset_lines(results)
    env_items, combos = environment_lines(results)
    items += env_items
    rep.bullets(items)
    if len(results.missing):
        rep.frame(results.missing.head(MAX_LISTED).astype(str))
    if combos is not None:
        rep.frame(combos)


def onset_lines(results: ResultSet) -> list[str]:
    """Which results carry the onset course; older ones still count everywhere else."""
    state = results.runs["onset"].value_counts()
    n = len(results.runs)
    lines = []
    if not n:
        return lines
    if state.get("absent", 0):
        lines.append(f"**{state['absent']} of {n} result(s) have no onset data** (written before the onset course "
                     "was recorded): their onset and response cells are missing.")
    if state.get("off", 0):
        lines.append(f"{state['off']} of {n} result(s) ran with the onset course off (`onset.every=0`): no onset "
                     "or response cells.")
    if state.get("recorded", 0) == n:
        lines.append("Every result has its onset course.")
    return lines


def environment_lines(results: ResultSet) -> tuple[list[str], pd.DataFrame | None]:
    """Whether the results were computed in one numeric environment (numerics mode, CPU, ISA)."""
    env = results.runs[["numerics", "portable", "cpu", "isa"]]
    combos = env.value_counts().reset_index(name="runs")
    unknown = int((env == "unknown").all(axis=1).sum())
    if len(combos) > 1:
        modes = sorted(set(env["numerics"]))
        what = "numerics modes" if len(modes) > 1 else "numeric environments"
        return [f"**This sweep mixes {what}**: results computed under different numerics modes, CPUs or "
                "instruction sets may differ in their last digits, and native results are not bit-reproducible "
                "elsewhere (\"unknown\": a result that does not record it), as below."], combos
    if len(combos) == 1:
        r = combos.iloc[0]
        return [f"Numeric environment: numerics {r['numerics']}, portable {r['portable']}, CPU {r['cpu']}, "
                f"ISA {r['isa']}" + (" (not recorded by these results)." if unknown == len(env) else ".")], None
    return [], None


def protocol_section(rep: Report, proto: pd.DataFrame | None, paper: int, compared: bool) -> None:
    rep.heading(f"Protocol check against paper {paper}" if compared else "Departures from the published protocol")
    if proto is None:
        rep.text("The published configs could not be composed here (`conf/` not found); not checked.")
        return
    if proto.empty:
        rep.text(f"Every run follows the published paper-{paper} protocol (`experiment=paper{paper}`), seeds included.")
        return
    rep.text(f"**These runs depart from the paper-{paper} protocol** (`experiment=paper{paper}`) in every key "
             "listed" + ("; differences from the published values are expected where they do." if compared else
                         ": this is a study of its own, not a reproduction, so no published value is set beside "
                         f"ours (`--paper {paper}` or `paper={paper}` asks for them)."))
    rep.frame(proto.rename(columns={"key": "config key", "runs": "runs affected"}).astype(str))


def ceiling_section(rep: Report, results: ResultSet, summary: pd.DataFrame) -> None:
    rep.heading("Bayes-optimal ceilings")
    rep.text("With four equiprobable clusters at (±a, ±a) and independent per-axis spread r, the Bayes rule picks "
             "the quadrant and its accuracy is (1 − Φ(−a/r))². r is 0 on the clean set, the data spread on the "
             "standard set, and sqrt(spread² + input σ²) under combined stress, where the input noise adds to "
             "the spread. Internal noise acts inside the network, so it has no closed-form ceiling: a network "
             "can scale its hidden activations to drown a fixed σ, and the only analytic bound is the input-level "
             "one (the standard-set ceiling), which is not tight. The combined-stress ceiling likewise ignores "
             "its internal noise and is an upper bound. Test sets are finite: the Bayes rule itself scores "
             "within about ±2 binomial SE of its ceiling.")
    rows = []
    combos = {}
    for h, c in results.configs.items():
        key = (str(c["data"]["centres"]), c["data"]["spread"], c["stress"]["input_sigma"], str(c["stress"]["profile"]))
        combos.setdefault(key, c)
    treated = summary[summary["section"].isin(["treated", "off_drug"])]
    for c in combos.values():
        n_test = {"clean": c["data"]["clean_size"], "standard": c["data"]["test_size"],
                  "combined": c["data"]["test_size"]}
        for ce in ceilings(c):
            metric, x = ce["metric"], None
            if metric.startswith("profile"):
                metric, x = "profile", float(metric.split()[1])
            cand = treated[treated["metric"] == metric]
            if x is not None:
                cand = cand[np.isclose(cand["x"].astype(float), x)]
            best = cand.loc[cand["mean"].idxmax()] if len(cand) else None
            se = binomial_se(ce["ceiling"], n_test.get(ce["metric"], c["data"]["test_size"]))
            row = {"Condition": ce["condition"], "r": f"{ce['r']:.4g}", "Ceiling (%)": f"{ce['ceiling']:.2f}",
                   "Binomial SE (pp)": f"{se:.2f}",
                   "Best mean here (%)": DASH if best is None else f"{best['mean']:.2f} ({best['arm']}"
                   + (", off drug" if best["section"] == "off_drug" else "") + ")",
                   "Ceiling − best (pp)": DASH if best is None else f"{ce['ceiling'] - best['mean']:.2f}",
                   "How": ce["how"]}
            if len(combos) > 1:
                row = {"spread": c["data"]["spread"], "input σ": c["stress"]["input_sigma"], **row}
            rows.append(row)
    rep.frame(pd.DataFrame(rows))
    over = [r for r in rows if r["Ceiling − best (pp)"] != DASH and float(r["Ceiling − best (pp)"])
            < -2 * float(r["Binomial SE (pp)"]) - 1e-9]
    if over:
        rep.text(f"**{len(over)} condition(s) have a mean above the ceiling by more than 2 binomial SE**: the "
                 "measurement or the ceiling's assumptions are wrong there.")


def _ci(v: float, lo: float, hi: float, name: str = "") -> str:
    if math.isnan(v):
        return DASH
    return f"{name}{v:.2f}" + ("" if math.isnan(lo) else f" [{lo:.2f}, {hi:.2f}]")


def pairwise_section(rep: Report, frame: pd.DataFrame, layout: Layout) -> None:
    rep.heading("Pairwise treatment comparisons")
    rep.text("The treatments of a seed share its pruned baseline and evaluation noise, so per headline metric "
             "each pair of treatments is compared **paired by seed**: the paired t-test and the Wilcoxon "
             "signed-rank test (both two-sided), p-values Holm-adjusted across the pairs (one family per test, "
             "metric and condition); effect sizes are the mean paired difference A − B and Cohen's d_z (mean "
             "over SD of the per-seed differences), each with a percentile bootstrap 95% CI "
             "(`scipy.stats.bootstrap`, 2000 resamples, fixed seed; none below 4 seeds).")
    t = frame[~frame["arm"].isin(list(BASELINE_ARMS))]
    xe = float(frame.loc[frame["metric"] == "profile", "x"].max()) if (frame["metric"] == "profile").any() else None
    groups = [((), t)] if not layout.global_axes else list(t.groupby(layout.global_axes, sort=False))
    all_rows = []
    for gkey, sub in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        for h in HEADLINE:
            if h.x == "extreme" and xe is None:
                continue
            x, name = (xe, f"{h.label} σ={xe:g} ({h.unit})") if h.x == "extreme" else (h.x, h.title)
            m = sub[(sub["section"] == h.section) & (sub["metric"] == h.metric)]
            if x is not None:
                m = m[np.isclose(m["x"].astype(float), x)]
            if m.empty:
                continue
            keys = m[["arm", *layout.treatment_axes]].drop_duplicates()
            keys = keys.sort_values(list(keys.columns), key=order_key)
            values = {}
            for r in keys.itertuples(index=False):
                sel = m[m["arm"] == r[0]]
                for a, v in zip(layout.treatment_axes, r[1:]):
                    sel = sel[sel[a] == v]
                values[layout.label(r[0], tuple(r[1:]))] = sel.sort_values("seed").set_index("seed")["value"]
            if len(values) < 2:
                continue
            res = pairwise(values)
            res.insert(0, "measure", name)
            res.insert(0, "metric", f"{h.section}.{h.metric}" + ("" if x is None else f".{x:g}"))
            for a, v in zip(layout.global_axes, gkey):
                res.insert(0, a, v)
            all_rows.append(res)
    if not all_rows:
        rep.text("_(fewer than two treatments: nothing to compare)_")
        return
    res = pd.concat(all_rows, ignore_index=True)
    rep.frames["pairwise"] = res
    paired = res["design"] == "paired"
    show = pd.DataFrame({
        **{a: res[a] for a in layout.global_axes},
        "Metric": res["measure"], "A vs B": res["a"] + " vs " + res["b"],
        "Design (n)": np.where(paired, "paired (" + res["n_a"].astype(str) + ")",
                               "unpaired (" + res["n_a"].astype(str) + ", " + res["n_b"].astype(str) + ")"),
        "Mean A − B [95% CI]": [_ci(d, lo, hi) for d, lo, hi in zip(res["diff"], res["diff_lo"], res["diff_hi"])],
        "t": res["t"].map(lambda v: num(v, 2)), "p": res["p_t"].map(pval), "p (Holm)": res["p_t_holm"].map(pval),
        "W / U": [num(w, 1) if p else "U " + num(u, 1) for w, u, p in zip(res["W"], res["U"], paired)],
        "p ": np.where(paired, res["p_W"].map(pval), res["p_U"].map(pval)),
        "p (Holm) ": np.where(paired, res["p_W_holm"].map(pval), res["p_U_holm"].map(pval)),
        "Effect [95% CI]": [_ci(dz, a, b, "d_z ") if p else _ci(g, c, d, "g ")
                            for dz, a, b, g, c, d, p in zip(res["dz"], res["dz_lo"], res["dz_hi"], res["g"],
                                                            res["g_lo"], res["g_hi"], paired)],
    })
    n_unpaired = int((~paired).sum())
    if n_unpaired:
        rep.text(f"**{n_unpaired} of {len(res)} comparisons are unpaired**: the two treatments were not run on "
                 "the same seeds, so they fall back to Welch's t-test, the Mann-Whitney U test and Hedges' g "
                 "(bias-corrected, pooled SD) with a bootstrap CI resampling each group on its own.")
    if any(min(a, b) < 2 for a, b in zip(res["n_a"], res["n_b"])):
        rep.text("Pairs with fewer than two seeds on a side have no test (—).")
    rep.text("Columns: the t-test (paired, or Welch's when unpaired), its p and Holm-adjusted p; then the "
             "signed-rank statistic W (or U when unpaired), its p and Holm-adjusted p. A test is undefined (—) "
             "when the differences do not vary.")
    rep.table(Table("pairwise", "Pairwise treatment comparisons", show, res))


def provenance_section(rep: Report, results: ResultSet) -> None:
    runs = results.runs
    rep.heading("Provenance")
    total = runs["wall_seconds"].sum()
    items = [f"Aggregated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by pruning-lab {version('pruning-lab')} "
             f"(Python {platform.python_version()}, pandas {pd.__version__}) from `{results.root}`.",
             f"Command: `{' '.join([Path(sys.executable).name, '-m', 'pruning_lab.aggregate', *sys.argv[1:]])}`"
             if sys.argv and sys.argv[0].endswith("aggregate.py") else "Built from Python.",
             f"Total compute recorded in the results: {total:.1f} s ({total / 3600:.2f} CPU-hours at one "
             f"thread per job) over {len(runs)} runs; baseline read from the cache in "
             f"{int(runs['cache_hit'].fillna(False).astype(bool).sum())} of them."]
    if len(results.timings) and len(results.timings.columns) > 1:
        t = results.timings.drop(columns="config_hash").sum().sort_values(ascending=False)
        items.append("Seconds by phase (summed over runs; `longitudinal` includes its maintenance): "
                     + ", ".join(f"{k} {v:.1f}" for k, v in t.items()) + ".")
    items.append(f"{runs['config_hash'].nunique()} distinct config hashes; each run's hash, seed, treatment, "
                 "baseline key, time and file are in `provenance.csv`.")
    if len(results.versions):
        items.append("Library versions that produced the results:")
    rep.bullets(items)
    if len(results.versions):
        v = results.versions.drop(columns="config_hash").fillna("?").astype(str)
        rep.frame(v.value_counts().reset_index(name="runs"))
    rep.frames["provenance"] = runs
    hashes = ", ".join(f"`{h}`" for h in runs["config_hash"].head(200))
    rep.details("Config hashes", hashes + (" ..." if len(runs) > 200 else ""))


# -- the whole report ------------------------------------------------------------------------


def choose_paper(results: ResultSet, refs: dict[int, dict | None]) -> tuple[int | None, dict[int, pd.DataFrame | None]]:
    """The paper whose protocol every run follows (extra seeds and treatments aside), if any, and
    each paper's protocol check."""
    checks = {p: (pubmod.protocol_check(results.flat, results.runs, p, ref) if ref is not None else None)
              for p, ref in refs.items()}
    n_treatments = results.runs["treatment"].nunique()
    for p in (2, 1):
        if pubmod.follows(checks[p], n_treatments):
            return p, checks
    return None, checks


def _nearest(checks: dict[int, pd.DataFrame | None], results: ResultSet) -> int:
    """The paper whose protocol the study departs from least (paper 2 on a tie: the defaults)."""
    def cost(p):
        c = checks.get(p)
        return math.inf if c is None else len(c[c["key"] != "treatment"])
    one = results.longitudinal is False and cost(1) < cost(2)
    return 1 if one else 2


def _seed_range(seeds: list[int]) -> str:
    if not seeds:
        return "none"
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def results_of(results) -> ResultSet:
    """A ResultSet from a ResultSet, a path, or a tidy frame (``load_results``, ``sweep``) whose
    result files are read again (only its runs), with the sweep's data quality where its files
    share a sweep directory."""
    if isinstance(results, ResultSet):
        return results
    if isinstance(results, (str, os.PathLike)):
        return read_results(results_path(results, "results"))
    if isinstance(results, pd.DataFrame):
        if "path" not in results or "config_hash" not in results:
            raise TypeError("results must be a ResultSet, a path, or the tidy frame of load_results or sweep; this "
                            "frame has no path and config_hash columns")
        if not all(isinstance(p, (str, os.PathLike)) for p in results["path"].dropna()):
            raise TypeError("results must be a ResultSet, a path, or the tidy frame of load_results or sweep; this "
                            "frame's path column holds other than paths")
        paths = sorted({Path(p) for p in results["path"].dropna()})
        if not paths:
            return read_results(Path(results.attrs.get("root", ".")) / "__none__")
        root = Path(results.attrs.get("root") or _common(paths))
        rs = read_results(root) if root.is_dir() else read_results(paths[0])
        keep = set(results["config_hash"])
        if set(rs.runs["config_hash"]) != keep:
            rs = read_results(root, only=keep) if root.is_dir() else rs
        return rs
    raise TypeError(f"results must be a ResultSet, a path or a tidy frame, got {type(results).__name__}")


def _common(paths: list[Path]) -> Path:
    import os

    return Path(os.path.commonpath([str(p.parent) for p in paths]))


def report_arguments(paper: object, ddof: object, figures: object, published_dir: object,
                     control: object = None) -> tuple[int | str | None, Path | None]:
    """``report``'s ``paper`` (1, 2, None or "none") and ``published_dir``, checked with ``ddof``,
    ``figures`` and ``control``: ``ConfigError`` for a value, ``TypeError`` for a type, naming the argument."""
    if paper is False or isinstance(paper, str) and paper in ("none", "auto"):
        paper = None if paper == "auto" else "none"
    elif isinstance(paper, str) and paper in ("1", "2") or \
            isinstance(paper, numbers.Integral) and not isinstance(paper, bool) and paper in (1, 2):
        paper = int(paper)
    elif paper is not None:
        raise ConfigError(f"paper must be 1, 2, None (the paper every run follows, if any) or 'none', got {shown(paper)}")
    if isinstance(ddof, bool) or not isinstance(ddof, numbers.Integral) or ddof not in (0, 1):
        raise ConfigError(f"ddof must be 1 (sample SD) or 0 (population SD, as the papers), got {shown(ddof)}")
    if not isinstance(figures, (bool, np.bool_)):
        raise TypeError(f"figures must be True or False, got {shown(figures)}")
    if control is not None and not isinstance(control, str):
        raise TypeError(f"control must be an arm's name (a str) or None, got {shown(control)}")
    if published_dir is not None:
        published_dir = results_path(published_dir, "published_dir")
        if not any((published_dir / f"paper{p}" / "published.csv").is_file() for p in (1, 2)):
            raise ConfigError(f"published_dir {published_dir} holds neither paper1/published.csv nor "
                              f"paper2/published.csv")
    return paper, published_dir


def report(results, paper: int | str | None = None, *, ddof: int = 1, figures: bool = True,
           published_dir: Path | None = None, control: str | None = None) -> Report:
    """The report of a sweep (a tidy frame, a ResultSet or a path): tables and figures by name.

    ``paper``: None to compare with a paper only if every run follows its published protocol;
    1 or 2 to compare with that paper anyway; "none" (or False) never to compare. ``control``:
    the arm every other is compared with (default: the one the sweep's preset names, if any);
    ``control.ControlError`` if it is not in the results.
    """
    paper, published_dir = report_arguments(paper, ddof, figures, published_dir, control)
    given = results
    results = results_of(results)
    warn_if_empty(results, "the frame" if isinstance(given, pd.DataFrame) else results.root)
    named = control is not None
    control = control if named else results.control
    never = paper == "none"
    lay = layout(results)
    frame = arms(results)
    if named and len(results.runs):  # refused before the tables are computed
        controls.check(frame, control)
    by = [*results.axes, "arm", "section", "metric", "x"]
    summary = summary_frame(frame, by, ddof) if len(frame) else pd.DataFrame(columns=[*by, "n", "mean", "sd"])
    threshold = _threshold(results)
    sd_name = "sample SD (ddof = 1)" if ddof == 1 else "population SD (ddof = 0, as the papers)"

    refs = {p: pubmod.reference_configs(p) for p in (1, 2)} if len(results.runs) else {1: None, 2: None}
    auto, checks = choose_paper(results, refs) if len(results.runs) else (None, {1: None, 2: None})
    compared = None if never else (int(paper) if paper is not None else auto)
    treatments = sorted(results.runs["arm"].unique(), key=rank) if len(results.runs) else []
    if compared is not None:
        title = f"Paper {compared} reproduction report"
    else:
        title = "Study report: " + (", ".join(lay.labels.get(t, t) for t in treatments) or "no results") + \
            (f" across {', '.join(results.axes)}" if results.axes else "")
    rep = Report(title)
    n_t = len(treatments)
    rep.text(f"Source: `{results.root}`. {len(results.runs)} runs: {len(results.seeds)} seed(s) "
             f"({_seed_range(results.seeds)}) x {n_t} treatment(s)"
             + (f"; swept: {', '.join(f'`{a}`' for a in results.axes)}" if results.axes else "") + ". "
             f"Cells are mean ± {sd_name} across seeds, n = seeds; a cell with n = 1 shows the value itself. "
             "Accuracies in %, drops in percentage points (pp).")
    if not len(results.runs):
        rep.text("**No valid result was found.**")
        data_quality(rep, results)
        return rep

    look = Lookup(summary, lay)
    tables = {t.name: t for t in all_tables(look, frame, results.seeds, threshold)}
    resp = response.summary(response.per_seed(frame, lay), lay)
    if len(resp):
        tables["response"] = response.table(resp, lay)
        rep.frames["response"] = resp

    comp, tested = pd.DataFrame(), pd.DataFrame()
    if compared is not None:
        pub = verdict.published_with_margins(compared, published_dir)
        ref = refs.get(compared)
        onp = summary[pubmod.on_protocol(summary, results.global_axes, results.treatment_axes, ref)]
        spread = pubmod.load(2, published_dir) if compared == 1 else None
        if len(pub):
            comp = verdict.judge(pubmod.compare(pub, onp, spread), pub)
            comp["home"] = [home(compared, e) for e in pub.to_dict("records")]
            rep.frames["comparison"] = comp
        tested = claimsmod.evaluate(claimsmod.load_paper(compared, published_dir),
                                    frame[pubmod.on_protocol(frame, results.global_axes, results.treatment_axes, ref)])
    proto_paper = compared or _nearest(checks, results)
    proto = checks.get(proto_paper)

    # a replay of the published code is judged digit by digit first; then the papers' claims,
    # then the verdict per value, so a reader sees at once what holds
    if len(comp) and replay.replayed(results):
        replay.section(rep, frame, pub, compared)
    if compared is not None:
        claimsmod.section(rep, tested, pub, compared)
    if len(comp):
        verdict.section(rep, comp, compared, proto, lay)
    dose_axes, dose_notes = dose.dose_axes(results)
    margin = controls.MarginRule(results.configs, lay)
    if control is not None and (named or control in set(results.runs["arm"])):
        controls.section(rep, frame, lay, control, margin, ddof)
    else:
        if control is not None:
            rep.text(f"The sweep names `{control}` as its control arm, but it has no results here: no comparison "
                     "with it.")
        best = study.best_arms(frame, lay, ddof, margin)
        if not best.empty:
            rep.heading("Which treatment is best")
            rep.table(best)
    data_quality(rep, results)
    protocol_section(rep, proto, proto_paper, compared is not None)

    rep.heading("Tables")
    rep.text("Each table is also in `tables/` as Markdown, CSV (long form, full precision) and LaTeX (booktabs). "
             + (f"Published values (paper {compared}) follow each table with the difference and its 95% CI, the "
                "margin, the 90% CI of the TOST, Hedges' g, the Holm-adjusted p, the verdict, and the 2-SE check "
                "(SE = sqrt(s_ours²/n_ours + s_paper²/n_paper) with sample SDs, the paper's population SDs "
                f"converted, widened by {pubmod.ROUNDING} for the paper's rounding to one decimal)."
                if compared else ""))
    names = ORDER.get(compared or 2)
    names = [n for n in names if n in tables] + [n for n in tables if n not in names]
    paper_label = {v: k for k, v in (PAPER1_HOME if compared == 1 else PAPER2_HOME).items()} if compared else {}
    shown = comp[comp["basis"] != "not in this sweep"] if len(comp) else comp
    for name in names:
        t: Table = tables[name]
        tag = f" ({paper_label[name]} of paper {compared})" if name in paper_label else ""
        rep.table(t, f"{t.title}{tag}")
        if len(shown):
            here = shown[shown["home"] == name]
            if len(here):
                rep.text("Published values beside ours:")
                rep.frame(verdict.value_frame(here))
    if len(shown):
        orphan = shown[shown["home"].isna() | ~shown["home"].isin(list(tables))]
        if len(orphan):
            rep.heading("Published values without a matching table in this sweep", 3)
            rep.frame(verdict.value_frame(orphan))

    if dose_axes or dose_notes:
        rep.heading("Across each swept axis")
        if dose_axes:
            rep.text("Numeric swept axes: " + ", ".join(f"`{a.name}` ({len(a.levels)} values, "
                                                        f"{a.levels[0]:g}–{a.levels[-1]:g})" for a in dose_axes)
                     + ". Each gets a table of the headline measures per value and treatment and a figure across "
                       "its values (one per combination of the other axes); each pair a phase diagram; an axis "
                       f"with {study.MIN_LEVELS} values or more a fitted dose-response curve.")
        rep.bullets(dose_notes)
        for t in study.axis_tables(frame, lay, ddof, dose_axes):
            rep.table(t, t.title)
    fits = study.fits(frame, lay, dose_axes) if dose_axes else pd.DataFrame()
    if len(fits):
        rep.heading("Dose-response fits")
        rep.table(study.fits_table(fits))

    ceiling_section(rep, results, summary)
    pairwise_section(rep, frame, lay)

    if figures:
        from .figures import all_figures, dose_figures

        made = all_figures(frame, lay, ddof, threshold, _response_threshold(frame))
        made += dose_figures(frame, lay, ddof, dose_axes, fits) if dose_axes else []
        if made:
            rep.heading("Figures")
            rep.text("PNG (300 dpi) and SVG in `figures/`, one journal column wide.")
            for name, fig, caption in made:
                rep.figure(name, fig, caption)

    provenance_section(rep, results)
    rep.heading("Files")
    rep.text("`report.html` this report as one page; `tidy.csv` one row per run x metric (section, metric, x, "
             "value); `summary.csv` n, mean, SD, SE, min, max per arm x metric; `comparison.csv` published vs ours "
             "(margin, intervals, TOST, Hedges' g, p, Holm-adjusted p over the primary values, verdict, power, "
             "2-SE check); `claims.csv` each claim tested; `pairwise.csv` the tests; `control.csv` each arm against "
             "the control; `response.csv` "
             "response per treatment; `provenance.csv` one row per run; `tables/` every table.")
    rep.frames["tidy"] = results.tidy
    rep.frames["summary"] = summary
    return rep


def build(results: ResultSet, out: Path | str, ddof: int = 1, paper: int | str | None = None,
          published_dir: Path | None = None, figures: bool = True, control: str | None = None) -> Path:
    """``report(...)`` saved into ``out`` (report.md, report.html, tables/, figures/, CSVs); returns report.md."""
    return report(results, paper, ddof=ddof, figures=figures, published_dir=published_dir, control=control).save(out)
