"""report.md: the tables beside the published values, ceilings, comparisons, provenance.

``build`` writes everything under one folder: ``report.md``, ``tables/`` (md, csv, tex),
``figures/`` (png, svg) and the frames behind them (tidy, summary, comparison, pairwise,
provenance CSVs), so every number in the report can be recomputed from a file beside it.
"""

from __future__ import annotations

import math
from importlib.metadata import version
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from . import dose
from . import published as pubmod
from . import response
from .arms import Layout, arms, layout
from .load import ResultSet, order_key
from .stats import binomial_se, ceilings, pairwise, summary_frame
from .tables import DASH, Lookup, Table, all_tables, num

PAPER2_HOME = {"Table 1": "efficacy", "Table 2": "stress_profile", "Table 3": "cycle_combined",
               "Table 4": "relapse_summary"}
PAPER1_HOME = {"Table 1": "overview", "Table 2": "stress_profile"}
ORDER = {1: ["overview", "stress_profile", "acute_relapse", "state_dependence", "efficacy"],
         2: ["efficacy", "stress_profile", "acute_relapse", "state_dependence", "cycle_combined", "cycle_sparsity",
             "cycle_range", "relapse_summary", "relapse_cycle_per_seed", "overview"]}
HEADLINE = [("treated", "combined", None, "Combined stress (%)"),
            ("treated", "profile", "extreme", "Extreme internal noise (%)"),
            ("relapse", "drop", None, "Acute relapse drop (pp)"),
            ("longitudinal", "final", None, "Final accuracy, last cycle (%)"),
            ("longitudinal", "total_drop", None, "Total longitudinal drop (pp)")]
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


def md(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, disable_numparse=True) if len(df) else "_(none)_"


def _pub_text(r: dict) -> str:
    if r["stat"] in ("n_true", "n_false"):
        return f"{int(r['pub_value'])}/{r['pub_n']}"
    v = num(r["pub_value"])
    if r["stat"] == "mean" and not math.isnan(r["pub_sd"]):
        v += f" ± {num(r['pub_sd'])}"
    return v + ("" if r["stat"] == "mean" else f" ({r['stat']})")


def _ours_text(r: dict) -> str:
    if r["ours_n"] == 0:
        return DASH
    if r["stat"] in ("n_true", "n_false"):
        return f"{int(r['ours'])}/{r['ours_n']}"
    v = num(r["ours"])
    if r["stat"] == "mean" and r["ours_n"] > 1 and not math.isnan(r["ours_sd"]):
        v += f" ± {num(r['ours_sd'])}"
    return v


def comparison_markdown(comp: pd.DataFrame) -> str:
    rows = []
    for r in comp.to_dict("records"):
        within = DASH if r["within"] is None else ("yes" if r["within"] else "**no**")
        rows.append({"Paper": f"{r['table']}", "Row": r["row"], "Column": r["column"],
                     "Published (n)": f"{_pub_text(r)} ({r['pub_n']})",
                     "Ours (n)": f"{_ours_text(r)} ({r['ours_n']})",
                     "Ours − paper": DASH if math.isnan(r["diff"]) else num(r["diff"], 2 if abs(r["diff"]) < 0.1 else 1),
                     "2 SE": DASH if math.isnan(r["tol"]) else num(r["tol"], 2 if r["tol"] < 0.1 else 1),
                     "Within 2 SE": within, "Basis": r["basis"]})
    return md(pd.DataFrame(rows))


# -- sections --------------------------------------------------------------------------------


def _threshold(results: ResultSet) -> float | None:
    vals = [c.get("longitudinal", {}).get("relapse_threshold") for c in results.configs.values()
            if c.get("longitudinal", {}).get("cycles", 0) > 0]
    return float(pd.Series(vals).mode().iloc[0]) if vals else None


def _response_threshold(frame: pd.DataFrame) -> float | None:
    thr = frame.loc[(frame["section"] == "response") & (frame["metric"] == "threshold"), "value"]
    return float(thr.mode().iloc[0]) if len(thr) else None


def data_quality(results: ResultSet, out: Path) -> list[str]:
    lines = ["## Data quality", ""]
    n_files = len(results.runs) + results.duplicates + len(results.problems)
    lines.append(f"- Result files read: {n_files}; distinct results: {len(results.runs)}; duplicate copies "
                 f"(same config hash, e.g. job dir and store): {results.duplicates}.")
    if results.problems:
        lines.append(f"- **{len(results.problems)} file(s) skipped** (listed in `bad_files.csv`):")
        lines += [f"  - `{p}`: {why}" for p, why in results.problems[:MAX_LISTED]]
        if len(results.problems) > MAX_LISTED:
            lines.append(f"  - ... and {len(results.problems) - MAX_LISTED} more")
        pd.DataFrame(results.problems, columns=["path", "problem"]).to_csv(out / "bad_files.csv", index=False)
    else:
        lines.append("- No truncated, edited, foreign or malformed files.")
    if results.conflicts:
        lines.append(f"- **{len(results.conflicts)} conflicting copies** (same config hash, different content; the "
                     "first was used):")
        lines += [f"  - `{a}` differs from `{b}`" for a, b in results.conflicts[:MAX_LISTED]]
    if len(results.missing):
        lines.append(f"- **{len(results.missing)} missing cell(s)** (seed x treatment x condition implied by the sweep "
                     "but without a result; all listed in `missing_cells.csv`):")
        lines += ["", md(results.missing.head(MAX_LISTED).astype(str)), ""]
        if len(results.missing) > MAX_LISTED:
            lines.append(f"  ... and {len(results.missing) - MAX_LISTED} more.")
        results.missing.to_csv(out / "missing_cells.csv", index=False)
    else:
        lines.append("- No missing (seed, treatment) cells.")
    if results.incomplete_dirs:
        lines.append(f"- **{len(results.incomplete_dirs)} Hydra job director(ies) without `result.json`** "
                     "(job failed, killed or still running):")
        lines += [f"  - `{d.split(': ', 1)[0]}`: {d.split(': ', 1)[-1]}" for d in results.incomplete_dirs[:MAX_LISTED]]
    if results.inconsistent:
        lines.append("- **Jobs sharing a baseline disagree about its metrics** (they should be identical):")
        lines += [f"  - {s}" for s in results.inconsistent[:MAX_LISTED]]
    lines += onset_lines(results) + environment_lines(results)
    return lines + [""]


def onset_lines(results: ResultSet) -> list[str]:
    """Which results carry the onset course; older ones still count everywhere else."""
    state = results.runs["onset"].value_counts()
    n = len(results.runs)
    lines = []
    if not n:
        return lines
    if state.get("absent", 0):
        lines.append(f"- **{state['absent']} of {n} result(s) have no onset data** (written before the onset course "
                     "was recorded): their onset and response cells are missing.")
    if state.get("off", 0):
        lines.append(f"- {state['off']} of {n} result(s) ran with the onset course off (`onset.every=0`): no onset "
                     "or response cells.")
    if state.get("recorded", 0) == n:
        lines.append("- Every result has its onset course.")
    return lines


def environment_lines(results: ResultSet) -> list[str]:
    """Whether the results were computed in one numeric environment (numerics mode, CPU, ISA)."""
    env = results.runs[["numerics", "portable", "cpu", "isa"]]
    combos = env.value_counts().reset_index(name="runs")
    unknown = int((env == "unknown").all(axis=1).sum())
    lines = []
    if len(combos) > 1:
        modes = sorted(set(env["numerics"]))
        what = "numerics modes" if len(modes) > 1 else "numeric environments"
        lines += [f"- **This sweep mixes {what}**: results computed under different numerics modes, CPUs or "
                  "instruction sets may differ in their last digits, and native results are not bit-reproducible "
                  "elsewhere (\"unknown\": a result that does not record it):", "", md(combos), ""]
    elif len(combos) == 1:
        r = combos.iloc[0]
        lines.append(f"- Numeric environment: numerics {r['numerics']}, portable {r['portable']}, CPU {r['cpu']}, "
                     f"ISA {r['isa']}" + (" (not recorded by these results)." if unknown == len(env) else "."))
    return lines


def protocol_section(proto: pd.DataFrame | None, paper: int) -> list[str]:
    lines = [f"## Protocol check against paper {paper}", ""]
    if proto is None:
        return lines + ["The published configs could not be composed here (`conf/` not found); not checked.", ""]
    if proto.empty:
        return lines + [f"Every run follows the published paper-{paper} protocol (`experiment=paper{paper}`), "
                        "seeds included.", ""]
    lines += [f"**These runs depart from the paper-{paper} protocol** (`experiment=paper{paper}`) as listed; "
              "differences from the published values are expected where they do.", "",
              md(proto.rename(columns={"key": "config key", "ours": "ours", "paper": "paper", "runs": "runs affected"})
                 .astype(str)), ""]
    return lines


def ceiling_section(results: ResultSet, summary: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    lines = ["## Bayes-optimal ceilings", "",
             "With four equiprobable clusters at (±a, ±a) and independent per-axis spread r, the Bayes rule picks "
             "the quadrant and its accuracy is (1 − Φ(−a/r))². r is 0 on the clean set, the data spread on the "
             "standard set, and sqrt(spread² + input σ²) under combined stress, where the input noise adds to "
             "the spread. Internal noise acts inside the network, so it has no closed-form ceiling: a network "
             "can scale its hidden activations to drown a fixed σ, and the only analytic bound is the input-level "
             "one (the standard-set ceiling), which is not tight. The combined-stress ceiling likewise ignores "
             "its internal noise and is an upper bound. Test sets are finite: the Bayes rule itself scores "
             "within about ±2 binomial SE of its ceiling.", ""]
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
    table = pd.DataFrame(rows)
    lines += [md(table), ""]
    over = [r for r in rows if r["Ceiling − best (pp)"] not in (DASH,) and float(r["Ceiling − best (pp)"])
            < -2 * float(r["Binomial SE (pp)"]) - 1e-9]
    if over:
        lines += [f"**{len(over)} condition(s) have a mean above the ceiling by more than 2 binomial SE**: the "
                  "measurement or the ceiling's assumptions are wrong there.", ""]
    return lines, table


def _ci(v: float, lo: float, hi: float, name: str = "") -> str:
    if math.isnan(v):
        return DASH
    return f"{name}{v:.2f}" + ("" if math.isnan(lo) else f" [{lo:.2f}, {hi:.2f}]")


def pairwise_section(frame: pd.DataFrame, layout: Layout) -> tuple[list[str], pd.DataFrame]:
    lines = ["## Pairwise treatment comparisons", "",
             "The treatments of a seed share its pruned baseline and evaluation noise, so per headline metric "
             "each pair of treatments is compared **paired by seed**: the paired t-test and the Wilcoxon "
             "signed-rank test (both two-sided), p-values Holm-adjusted across the pairs (one family per test, "
             "metric and condition); effect sizes are the mean paired difference A − B and Cohen's d_z (mean "
             "over SD of the per-seed differences), each with a percentile bootstrap 95% CI "
             "(`scipy.stats.bootstrap`, 2000 resamples, fixed seed; none below 4 seeds).", ""]
    t = frame[~frame["arm"].isin(["untreated", "healthy"])]
    xe = float(frame.loc[frame["metric"] == "profile", "x"].max()) if (frame["metric"] == "profile").any() else None
    groups = [((), t)] if not layout.global_axes else list(t.groupby(layout.global_axes, sort=False))
    all_rows = []
    for gkey, sub in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        for section, metric, x, name in HEADLINE:
            x = xe if x == "extreme" else x
            if x == xe and metric == "profile":
                name = f"Extreme internal noise σ={xe:g} (%)"
            m = sub[(sub["section"] == section) & (sub["metric"] == metric)]
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
            res.insert(0, "metric", name)
            for a, v in zip(layout.global_axes, gkey):
                res.insert(0, a, v)
            all_rows.append(res)
    if not all_rows:
        return lines + ["_(fewer than two treatments: nothing to compare)_", ""], pd.DataFrame()
    res = pd.concat(all_rows, ignore_index=True)
    paired = res["design"] == "paired"
    show = pd.DataFrame({
        **{a: res[a] for a in layout.global_axes},
        "Metric": res["metric"], "A vs B": res["a"] + " vs " + res["b"],
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
        lines += [f"**{n_unpaired} of {len(res)} comparisons are unpaired**: the two treatments were not run on "
                  "the same seeds, so they fall back to Welch's t-test, the Mann-Whitney U test and Hedges' g "
                  "(bias-corrected, pooled SD) with a bootstrap CI resampling each group on its own.", ""]
    if any(min(a, b) < 2 for a, b in zip(res["n_a"], res["n_b"])):
        lines += ["Pairs with fewer than two seeds on a side have no test (—).", ""]
    lines += ["Columns: the t-test (paired, or Welch's when unpaired), its p and Holm-adjusted p; then the "
              "signed-rank statistic W (or U when unpaired), its p and Holm-adjusted p. A test is undefined (—) "
              "when the differences do not vary.", "", md(show), ""]
    return lines, res


def provenance_section(results: ResultSet, out: Path) -> list[str]:
    runs = results.runs
    lines = ["## Provenance", ""]
    total = runs["wall_seconds"].sum()
    lines.append(f"- Aggregated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by pruning-lab {version('pruning-lab')} "
                 f"(Python {platform.python_version()}, pandas {pd.__version__}) from `{results.root}`.")
    lines.append(f"- Command: `{' '.join([Path(sys.executable).name, '-m', 'pruning_lab.aggregate', *sys.argv[1:]])}`"
                 if sys.argv and sys.argv[0].endswith("aggregate.py") else "- Built from Python.")
    lines.append(f"- Total compute recorded in the results: {total:.1f} s ({total / 3600:.2f} CPU-hours at one "
                 f"thread per job) over {len(runs)} runs; baseline read from the cache in "
                 f"{int(runs['cache_hit'].fillna(False).astype(bool).sum())} of them.")
    if len(results.timings) and len(results.timings.columns) > 1:
        t = results.timings.drop(columns="config_hash").sum().sort_values(ascending=False)
        lines.append("- Seconds by phase (summed over runs; `longitudinal` includes its maintenance): "
                     + ", ".join(f"{k} {v:.1f}" for k, v in t.items()) + ".")
    if len(results.versions):
        v = results.versions.drop(columns="config_hash").fillna("?").astype(str)
        counts = v.value_counts().reset_index(name="runs")
        lines += ["- Library versions that produced the results:", "", md(counts), ""]
    lines.append(f"- {runs['config_hash'].nunique()} distinct config hashes; each run's hash, seed, treatment, "
                 "baseline key, time and file are in `provenance.csv`.")
    runs.to_csv(out / "provenance.csv", index=False)
    hashes = ", ".join(f"`{h}`" for h in runs["config_hash"].head(200))
    lines += ["", "<details><summary>Config hashes</summary>", "", hashes
              + (" ..." if len(runs) > 200 else ""), "", "</details>", ""]
    return lines


def agreement(comp: pd.DataFrame, paper: int, proto: pd.DataFrame | None) -> list[str]:
    """The headline: how many published values ours reproduce, and which not."""
    tested = comp[comp["within"].notna()]
    ok = tested["within"].astype(bool)
    lines = [f"**Agreement with paper {paper}: {int(ok.sum())} of {len(tested)} published values lie within 2 SE "
             f"of ours**; {len(comp) - len(tested)} more have no testable SE or are not in this sweep. "
             "Every published value is listed beside its table below (`comparison.csv` has them all)."]
    if proto is not None and len(proto):
        lines[0] += (f" **These runs depart from the paper-{paper} protocol** (see the protocol check), so "
                     "differences are expected.")
    by = tested.assign(ok=ok).groupby("table", sort=False)["ok"].agg(["sum", "count"])
    lines += ["", "By source: " + "; ".join(f"{t} {int(r['sum'])}/{int(r['count'])}" for t, r in by.iterrows())
              + ".", ""]
    outside = tested[~ok]
    if 0 < len(outside) <= 15:
        def diff(r):
            return f"{r.diff:+g} seeds" if r.stat in ("n_true", "n_false") else f"{num(r.diff)} pp"
        lines += ["Outside 2 SE: " + "; ".join(f"{r.table}, {r.row} / {r.column} ({diff(r)})"
                                               for r in outside.itertuples()) + ".", ""]
    return lines


# -- the whole report ------------------------------------------------------------------------


GENERATED = {".": ("report.md", "tidy.csv", "summary.csv", "comparison.csv", "pairwise.csv", "provenance.csv",
                   "bad_files.csv", "missing_cells.csv", "response.csv"),
             "tables": ("*.md", "*.csv", "*.tex"), "figures": ("*.png", "*.svg")}


def clear_previous(out: Path) -> None:
    """Remove what an earlier aggregation wrote here, so no stale table or figure survives a rerun
    (a bad file since repaired, a condition since dropped); nothing else is touched."""
    for folder, patterns in GENERATED.items():
        for pattern in patterns:
            for f in (out / folder).glob(pattern):
                if f.is_file():
                    f.unlink()


def choose_paper(summary: pd.DataFrame, results: ResultSet) -> int:
    """Paper 1 for one seed per cell and no longitudinal course, else paper 2."""
    single = summary["n"].max() <= 1 if len(summary) else True
    return 1 if single and not results.longitudinal else 2


def build(results: ResultSet, out: Path | str, ddof: int = 1, paper: int | str | None = "auto",
          published_dir: Path | None = None, figures: bool = True) -> Path:
    """Write report.md, tables/, figures/ and the CSVs behind them into ``out``; returns report.md.

    ``paper``: 1 or 2 to compare with that paper, None for no comparison, "auto" to choose.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clear_previous(out)
    lay = layout(results)
    frame = arms(results)
    by = [*results.axes, "arm", "section", "metric", "x"]
    summary = summary_frame(frame, by, ddof) if len(frame) else pd.DataFrame(columns=[*by, "n", "mean", "sd"])
    threshold = _threshold(results)
    sd_name = "sample SD (ddof = 1)" if ddof == 1 else "population SD (ddof = 0, as the papers)"
    if paper == "auto":
        paper = choose_paper(summary, results) if len(results.runs) else None

    lines = ["# Reproduction report", ""]
    n_t = results.runs["treatment"].nunique() if len(results.runs) else 0
    lines += [f"Source: `{results.root}`. {len(results.runs)} runs: {len(results.seeds)} seed(s) "
              f"({_seed_range(results.seeds)}) x {n_t} treatment(s)"
              + (f"; swept: {', '.join(f'`{a}`' for a in results.axes)}" if results.axes else "") + ". "
              f"Cells are mean ± {sd_name} across seeds, n = seeds; a cell with n = 1 shows the value itself. "
              "Accuracies in %, drops in percentage points (pp).", ""]
    if not len(results.runs):
        lines += ["**No valid result was found.**", ""] + data_quality(results, out)
        path = out / "report.md"
        path.write_text("\n".join(lines))
        return path

    look = Lookup(summary, lay)
    tables = {t.name: t for t in all_tables(look, frame, results.seeds, threshold)}
    resp = response.summary(response.per_seed(frame, lay), lay)
    if len(resp):
        tables["response"] = response.table(resp, lay)
        resp.to_csv(out / "response.csv", index=False)
    tdir = out / "tables"
    for t in tables.values():
        t.write(tdir)

    comp = pd.DataFrame()
    proto = None
    if paper is not None:
        pub = pubmod.load(paper, published_dir)
        ref = pubmod.reference_configs(paper)
        if ref is not None:
            proto = pubmod.protocol_check(results.configs, results.runs, paper, ref)
        onp = summary[pubmod.on_protocol(summary, results.global_axes, results.treatment_axes, ref)]
        spread = pubmod.load(2, published_dir) if paper == 1 else None
        if len(pub):
            comp = pubmod.compare(pub, onp, spread)
            comp["home"] = [home(paper, e) for e in pub.to_dict("records")]
            comp.to_csv(out / "comparison.csv", index=False)

    # headline agreement first, so a reader sees at once how close the reproduction is
    if len(comp):
        lines += agreement(comp, paper, proto)
    lines += data_quality(results, out)
    if paper is not None:
        lines += protocol_section(proto, paper)

    lines += ["## Tables", "",
              "Each table is also in `tables/` as Markdown, CSV (long form, full precision) and LaTeX (booktabs). "
              + (f"Published values (paper {paper}) follow each table with the difference and a 2-SE check: "
                 "SE = sqrt(s_ours²/n_ours + s_paper²/n_paper) with sample SDs (the paper's population SDs "
                 f"converted), widened by {pubmod.ROUNDING} for the paper's rounding to one decimal." if paper else ""),
              ""]
    names = ORDER.get(paper or 2)
    names = [n for n in names if n in tables] + [n for n in tables if n not in names]
    paper_label = {v: k for k, v in (PAPER1_HOME if paper == 1 else PAPER2_HOME).items()} if paper else {}
    for name in names:
        t: Table = tables[name]
        tag = f" ({paper_label[name]} of paper {paper})" if name in paper_label else ""
        lines += [f"### {t.title}{tag}", "", t.markdown(), ""]
        if t.note:
            lines += [f"_{t.note}_", ""]
        if len(comp):
            here = comp[comp["home"] == name]
            if len(here):
                lines += ["Published values beside ours:", "", comparison_markdown(here), ""]
    if len(comp):
        orphan = comp[comp["home"].isna() | ~comp["home"].isin(list(tables))]
        if len(orphan):
            lines += ["### Published values without a matching table in this sweep", "", comparison_markdown(orphan), ""]

    ceil_lines, ceil = ceiling_section(results, summary)
    lines += ceil_lines
    pw_lines, pw = pairwise_section(frame, lay)
    lines += pw_lines
    if len(pw):
        pw.to_csv(out / "pairwise.csv", index=False)

    if figures:
        from .figures import all_figures
        figs = all_figures(frame, lay, ddof, threshold, out / "figures", _response_threshold(frame))
        lines += ["## Figures", "", "PNG (300 dpi) and SVG in `figures/`, one journal column wide.", ""]
        for path, caption in figs:
            rel = os.path.relpath(path, out)
            lines += [f"![{caption}]({rel})", "", f"_{caption}_ (`{rel}`, `.svg` beside it)", ""]

    dose_axes, dose_notes = dose.dose_axes(results)
    if dose_axes or dose_notes:
        lines += ["## Dose response", ""]
        if dose_axes:
            lines += ["Numeric swept axes: " + ", ".join(f"`{a.name}` ({len(a.levels)} values, "
                                                         f"{a.levels[0]:g}–{a.levels[-1]:g})" for a in dose_axes)
                      + ". Each gets a figure of combined stress, extreme noise and relapse drop across its values "
                        "(one per combination of the other axes); each pair a phase diagram.", ""]
        lines += [f"- {n}" for n in dose_notes] + ([""] if dose_notes else [])
        if figures and dose_axes:
            from .figures import dose_figures
            for path, caption in dose_figures(frame, lay, ddof, dose_axes, out / "figures"):
                rel = os.path.relpath(path, out)
                lines += [f"![{caption}]({rel})", "", f"_{caption}_ (`{rel}`, `.svg` beside it)", ""]

    lines += provenance_section(results, out)
    lines += ["## Files", "",
              "`tidy.csv` one row per run x metric (section, metric, x, value); `summary.csv` n, mean, SD, SE, "
              "min, max per arm x metric; `comparison.csv` published vs ours; `pairwise.csv` the tests; `response.csv` "
              "response per treatment; "
              "`provenance.csv` one row per run.", ""]
    results.tidy.to_csv(out / "tidy.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def _seed_range(seeds: list[int]) -> str:
    if not seeds:
        return "none"
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))
