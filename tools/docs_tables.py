"""The docs' result tables, regenerated from the per-seed values committed beside them.

Every table or number of results in README.md, docs/studies.md and experiments/*/README.md sits
between ``<!-- table: NAME -->`` and ``<!-- end -->``; this script computes each NAME from its
per-seed CSV (``experiments/paper2/expected.csv``, an experiment's ``per_seed.csv``...) and
rewrites what is between the markers. ``--check`` rewrites nothing and exits 1 naming each
block that differs from what the CSVs give (tests/test_docs_tables.py runs it).
Usage: python tools/docs_tables.py [--check]      (make docs-tables)
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as st

from pruning_lab import verify
from pruning_lab.analysis import claims, committed, response, verdict
from pruning_lab.analysis import published as pub
from pruning_lab.analysis.arms import arms, layout
from pruning_lab.analysis.stats import summary_frame

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
DOCS = [ROOT / "README.md", ROOT / "docs" / "studies.md", ROOT / "docs" / "reproducibility.md",
        *sorted(EXPERIMENTS.glob("*/README.md"))]
BLOCK = re.compile(r"(<!-- table: ([\w-]+) -->)(.*?)(<!-- end -->)", re.S)
SUGGESTIVE = 10   # below this many seeds a finding is called suggestive

PAPER2 = EXPERIMENTS / "paper2" / "expected.csv"
EXTENDED = EXPERIMENTS / "paper2_extended" / "expected.csv"
PAPER1 = EXPERIMENTS / "paper1" / "expected.csv"
ONSET = EXPERIMENTS / "onset" / "per_seed.csv"
HELDOUT = EXPERIMENTS / "search" / "heldout_per_seed.csv"
MECHANISM = EXPERIMENTS / "mechanism" / "per_seed.csv"
REPLAY = EXPERIMENTS / "paper2" / "replay.csv"
SEVERITY = EXPERIMENTS / "severity" / "per_seed.csv"


# -- reading ------------------------------------------------------------------------------------


@functools.cache
def results(csv: Path):
    return committed.read(csv)


@functools.cache
def frame(csv: Path) -> pd.DataFrame:
    return arms(results(csv))


@functools.cache
def judged(paper: int, csv: Path) -> pd.DataFrame:
    """A paper's verdict per published value on the per-seed values of ``csv``."""
    f = frame(csv)
    summary = summary_frame(f, ["arm", "section", "metric", "x"])
    p = verdict.published_with_margins(paper)
    return verdict.judge(pub.compare(p, summary, pub.load(2) if paper == 1 else None), p)


@functools.cache
def tested(paper: int, csv: Path) -> pd.DataFrame:
    """A paper's claims tested on the per-seed values of ``csv``."""
    return claims.evaluate(claims.load_paper(paper), frame(csv))


def values(csv: Path, arm: str, name: str, x=None, where: dict | None = None) -> pd.Series:
    """One measure's per-seed values (indexed by seed), from the arms frame of ``csv``."""
    f = frame(csv)
    section, metric = name.split(".", 1)
    rows = f[(f["arm"] == arm) & (f["section"] == section) & (f["metric"] == metric)]
    rows = rows[np.isclose(rows["x"].astype(float), float(x))] if x is not None else rows[rows["x"].isna()]
    for k, v in (where or {}).items():
        rows = rows[rows[k] == v]
    return rows.set_index("seed")["value"].sort_index()


# -- formatting ---------------------------------------------------------------------------------


def table(df: pd.DataFrame) -> str:
    """A Markdown pipe table, cells as given."""
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def fmt(v: float, k: int = 1, sign: bool = False) -> str:
    """``v`` to ``k`` decimals as the reports print it (Python's rounding of the float), so a
    number here reads as in ``outputs/*/report.md``; "-0.0" printed as "0.0"."""
    text = f"{v:+.{k}f}" if sign else f"{v:.{k}f}"
    return text.replace("-", "", 1) if float(text) == 0 and text.startswith("-") else text


def mean_sd(v: pd.Series, k: int = 1) -> str:
    return f"{fmt(v.mean(), k)} ± {fmt(v.std(ddof=1), k)}"


def paired(a: pd.Series, b: pd.Series, k: int = 1) -> str:
    """The mean paired difference a − b over their common seeds, its 95% t interval, p and n;
    "suggestive" below 10 seeds."""
    seeds = a.index.intersection(b.index)
    a, b = a.loc[seeds], b.loc[seeds]
    t = st.ttest_rel(a, b)
    ci = t.confidence_interval(0.95)
    p = "p < 0.001" if t.pvalue < 0.001 else f"p = {t.pvalue:.3f}"
    n = len(seeds)
    return (f"{fmt((a - b).mean(), k, True)} pp (95% CI {fmt(ci.low, k, True)} to {fmt(ci.high, k, True)}, paired t "
            f"{p}, n = {n}" + (", suggestive" if n < SUGGESTIVE else "") + ")")


def seeds(csv: Path) -> str:
    n = len(results(csv).seeds)
    return f"{n} seed{'s' if n != 1 else ''}"


def verdict_line(paper: int, csv: Path) -> str:
    """How many of a paper's primary published values are equivalent, different, inconclusive."""
    j = judged(paper, csv)
    c = verdict.counts(j)
    return (f"of paper {paper}'s {int(j['primary'].sum())} primary published values, on {seeds(csv)}: "
            f"**{c['equivalent']} equivalent to ours, {c['different']} different, {c['inconclusive']} inconclusive**")


def claims_line(paper: int, csv: Path) -> str:
    """How many of a paper's claims hold, fail, are not shown at this n, are not run."""
    k = claims.counts(tested(paper, csv))
    return (f"of paper {paper}'s {sum(k.values())} claims, on {seeds(csv)}: **{k['holds']} hold, {k['fails']} fail, "
            f"{k['not shown at this n']} not shown at this n**" + (f", {k['not run']} not run" if k["not run"] else ""))


def claims_table(paper: int, csv: Path) -> str:
    e = tested(paper, csv)
    shown = claims.claims_frame(e, pub.load(paper))
    return table(shown[["Claim", "Statement", "Paper's evidence", "Ours [95% CI]", "Verdict"]])


def values_table(paper: int, csv: Path) -> str:
    shown = verdict.value_frame(judged(paper, csv))
    return table(shown[["Paper", "Row", "Column", "Published (n)", "Ours (n)", "Ours − paper [95% CI]", "Margin",
                        "90% CI", "Verdict"]])


def power_table(paper: int, csv: Path) -> str:
    return table(verdict.power_frame(judged(paper, csv)))


# -- the blocks ---------------------------------------------------------------------------------


def search_regimens() -> dict[str, dict]:
    """The held-out study's regimens by name, as the knobs that tell them apart."""
    return {"as shipped (fraction 0.5, 15 epochs, lr 5e-4)": {"treatment.fraction": "0.5", "treatment.epochs": "15"},
            "trial 19 (fraction 0.050, 24 epochs, lr 1.78e-3)": {"treatment.fraction": "0.0503108"},
            "trial 31 (fraction 0.060, 30 epochs, lr 1.60e-3)": {"treatment.fraction": "0.060284"},
            "trial 32 (fraction 0.051, 23 epochs, lr 1.79e-3)": {"treatment.fraction": "0.0505715"},
            "control: fraction 0.5 with trial 19's course": {"treatment.fraction": "0.5", "treatment.epochs": "24"}}


HELDOUT_SEEDS = (100, 101, 102, 103, 104)
SEARCH_SEEDS = (0, 1, 2)


def regimen(name: str, measure: str, x=None, seeds=HELDOUT_SEEDS) -> pd.Series:
    v = values(HELDOUT, "ketamine", measure, x, search_regimens()[name])
    return v[v.index.isin(seeds)]


def search_heldout() -> str:
    rows = []
    for name in search_regimens():
        after = regimen(name, "treated.sparsity")
        before = values(HELDOUT, "untreated", "untreated.sparsity").loc[after.index]
        rows.append({"regimen": name, "regrown (% of weights)": fmt((before - after).mean()),
                     "sparsity after": f"{fmt(after.mean())}%",
                     "extreme noise (σ 2.5)": mean_sd(regimen(name, "treated.profile", 2.5)),
                     "combined stress": mean_sd(regimen(name, "treated.combined")),
                     "acute relapse drop": mean_sd(regimen(name, "relapse.drop"))})
    return table(pd.DataFrame(rows))


def search_paired() -> str:
    names = list(search_regimens())
    shipped, control, t19 = names[0], names[4], names[1]
    ext = [(f"{n.split(' (')[0]} − as shipped, σ 2.5", n, shipped, "treated.profile", 2.5) for n in names[1:4]]
    ext += [(f"{n.split(' (')[0]} − as shipped, combined stress", n, shipped, "treated.combined", None)
            for n in names[1:4]]
    ext += [("control − as shipped, σ 2.5", control, shipped, "treated.profile", 2.5),
            ("control − trial 19, σ 2.5", control, t19, "treated.profile", 2.5),
            ("control − trial 19, combined stress", control, t19, "treated.combined", None)]
    rows = [{"comparison (held-out seeds 100-104)": label,
             "mean paired difference": paired(regimen(a, m, x), regimen(b, m, x))} for label, a, b, m, x in ext]
    return table(pd.DataFrame(rows))


def search_drop() -> str:
    """σ 2.5 accuracy on the search's seeds and on the held-out ones, per regimen; the chosen
    regimens' advantage over the shipped one on each set of seeds."""
    rows = []
    names = list(search_regimens())
    base = {s: regimen(names[0], "treated.profile", 2.5, seeds).mean() for s, seeds in
            (("search", SEARCH_SEEDS), ("held", HELDOUT_SEEDS))}
    for name in names:
        s = regimen(name, "treated.profile", 2.5, SEARCH_SEEDS)
        h = regimen(name, "treated.profile", 2.5, HELDOUT_SEEDS)
        rows.append({"regimen": name.split(" (")[0].split(":")[0], "seeds 0-2 (n = 3)": mean_sd(s),
                     "seeds 100-104 (n = 5)": mean_sd(h), "drop": fmt(s.mean() - h.mean()),
                     "over shipped, seeds 0-2": fmt(s.mean() - base["search"], sign=True),
                     "over shipped, seeds 100-104": fmt(h.mean() - base["held"], sign=True)})
    return table(pd.DataFrame(rows))


TRIALS = EXPERIMENTS / "search" / "trials.csv"


def search_front() -> str:
    t = pd.read_csv(TRIALS)
    f = t[t["front"]]
    return table(pd.DataFrame({"trial": f["trial"], "fraction": f["treatment.fraction"].map(lambda v: f"{v:.3f}"),
                               "epochs": f["treatment.epochs"], "lr": f["treatment.lr"].map(lambda v: f"{v:.2e}"),
                               "init_std": f["treatment.init_std"].map(lambda v: f"{v:.3f}"),
                               "σ 2.5, seeds 0-2 (mean, n = 3)": f["treated.profile.2.5"].map(fmt),
                               "sparsity after": f["treated.sparsity"].map(lambda v: f"{fmt(v)}%")}))


def search_late_trials() -> str:
    t = pd.read_csv(TRIALS)
    late = t[t["trial"] >= len(t) - 20]
    return f"{int((late['treatment.fraction'] < 0.13).sum())} of the last 20 trials regrow under 13% of the pruned synapses"


def search_slow_lr() -> str:
    t = pd.read_csv(TRIALS)
    slow = t.loc[t["treatment.lr"] < 4e-4, "treated.profile.2.5"]
    below = "under 85%" if slow.max() < 85 else "at most " + fmt(slow.max()) + "%"
    return f"every trial with lr below 4e-4 stayed {below} (best {fmt(slow.max())}%)"


def control_cost() -> tuple[pd.Series, pd.Series]:
    names = list(search_regimens())
    return regimen(names[4], "treated.profile", 2.5), regimen(names[1], "treated.profile", 2.5)


ONSET_ORDER = ("ketamine", "random_regrowth", "neurosteroid", "ssri", "neurosteroid_bridge_ssri")


def onset_table() -> str:
    rs = results(ONSET)
    lay = layout(rs)
    resp = response.summary(response.per_seed(frame(ONSET), lay), lay).set_index("arm")
    rows = []
    for arm in ONSET_ORDER:
        points = [(e, values(ONSET, arm, "onset.combined", e).mean()) for e in (0, 1, 5, 10)]
        last = float(frame(ONSET).query("arm == @arm and section == 'onset'")["x"].max())
        points = [(e, v) for e, v in points if e < last] + [(last, values(ONSET, arm, "onset.combined", last).mean())]
        r = resp.loc[arm]
        med = f"{r['median']:g} ({r['q1']:g}-{r['q3']:g})"
        rows.append({"treatment": lay.label(arm),
                     "combined stress at epoch 0 / 1 / 5 / 10 / end": " / ".join(
                         fmt(v) + (f" (epoch {e:g})" if e == last else "") for e, v in points),
                     "responded": f"{int(r['responded'])}/{int(r['n'])}", "median epochs to response (IQR)": med})
    return table(pd.DataFrame(rows))


def onset_paired() -> str:
    def v(arm, name, x=None):
        return values(ONSET, arm, name, x)
    rows = [("gradient-chosen − random regrowth, combined stress", v("ketamine", "treated.combined"),
             v("random_regrowth", "treated.combined"), 2),
            ("gradient-chosen − random regrowth, σ 2.5", v("ketamine", "treated.profile", 2.5),
             v("random_regrowth", "treated.profile", 2.5), 1),
            ("bridge − SSRI-like, combined stress", v("neurosteroid_bridge_ssri", "treated.combined"),
             v("ssri", "treated.combined"), 1),
            ("bridge − SSRI-like, σ 2.5", v("neurosteroid_bridge_ssri", "treated.profile", 2.5),
             v("ssri", "treated.profile", 2.5), 1),
            ("bridge − SSRI-like, acute relapse drop", v("neurosteroid_bridge_ssri", "relapse.drop"),
             v("ssri", "relapse.drop"), 1)]
    return table(pd.DataFrame([{"comparison (seeds 0-9)": label, "mean paired difference": paired(a, b, k)}
                               for label, a, b, k in rows]))


def onset_findings() -> str:
    def v(arm, name, x=None):
        return values(ONSET, arm, name, x)
    bridge, ssri = "neurosteroid_bridge_ssri", "ssri"
    at_10 = v(bridge, "onset.combined", 10)
    below = at_10[at_10 < 80].index
    on = frame(ONSET).query("arm == @bridge and section == 'onset' and metric == 'combined' and x > 10")
    regain = [float(g.loc[g["value"] >= 80, "x"].min()) - 10 for _, g in on[on["seed"].isin(below)].groupby("seed")]
    ssri_resp = v(ssri, "response.epoch")
    every5 = values(PAPER2, ssri, "response.epoch")
    q = np.percentile(every5, [25, 50, 75])
    relapsed = {a: int(v(a, "longitudinal.relapsed", 8).sum()) for a in (bridge, ssri)}
    rows = [
        ("ketamine-like, epoch 0 (regrown, before training)", mean_sd(v("ketamine", "onset.combined", 0))),
        ("untreated (the seed's pruned network)", mean_sd(v("untreated", "untreated.combined"))),
        ("neurosteroid-like, epoch 0 / 1 / 5 (drug on)",
         " / ".join(mean_sd(v("neurosteroid", "onset.combined", e)) for e in (0, 1, 5))),
        ("SSRI-like, epoch 10 / 20 / 50", " / ".join(mean_sd(v(ssri, "onset.combined", e)) for e in (10, 20, 50))),
        ("SSRI-like, first seed to respond (epoch)", f"{ssri_resp.min():g}"),
        ("SSRI-like in paper 2's run, scored every 5 epochs: median epochs to response (IQR)",
         f"{q[1]:g} ({q[0]:g}-{q[2]:g}), {len(every5)} of {len(v(ssri, 'response.responded'))} responded"),
        ("bridge, epoch 9 (on drug) / 10 (withdrawn)",
         f"{mean_sd(v(bridge, 'onset.combined', 9))} / {mean_sd(at_10)}"),
        ("bridge, seeds below 80% at withdrawal; epochs of the SSRI-like course to regain it",
         f"{len(below)} of {len(at_10)}; {min(regain):g}-{max(regain):g}"),
        ("bridge / SSRI-like alone, combined stress at the end",
         f"{mean_sd(v(bridge, 'treated.combined'))} / {mean_sd(v(ssri, 'treated.combined'))}"),
        ("bridge / SSRI-like alone, σ 2.5 at the end",
         f"{mean_sd(v(bridge, 'treated.profile', 2.5))} / {mean_sd(v(ssri, 'treated.profile', 2.5))}"),
        ("bridge / SSRI-like alone, seeds relapsed over 8 cycles", f"{relapsed[bridge]} / {relapsed[ssri]} of 10"),
        ("bridge / SSRI-like alone / ketamine-like / random regrowth, acute relapse drop (pp)",
         " / ".join(mean_sd(v(a, "relapse.drop")) for a in (bridge, ssri, "ketamine", "random_regrowth"))),
        ("bridge better than SSRI-like alone at the end, combined stress (seeds)",
         f"{int((v(bridge, 'treated.combined') > v(ssri, 'treated.combined')).sum())} of 10"),
    ]
    return table(pd.DataFrame(rows, columns=["measure (combined-stress accuracy, %, unless said)",
                                             "mean ± SD over 10 seeds"]))


def onset_shared() -> str:
    """How many per-seed values the onset study shares with paper 2's run, and how many are equal."""
    keys = ["treatment", "seed", "section", "metric", "x"]
    a = results(ONSET).tidy
    b = results(PAPER2).tidy
    a = a[~a["section"].isin(["onset", "response"])]
    both = a.merge(b, on=keys, suffixes=("", "_p2"))
    same = int((both["value"] == both["value_p2"]).sum())
    return f"{same} of the {len(both)} per-seed values they share" if same < len(both) else \
        f"all {len(both)} per-seed values they share"


MORRIS = EXPERIMENTS / "sensitivity" / "morris.csv"
SOBOL = EXPERIMENTS / "sensitivity" / "sobol_small.csv"
OUTCOMES = {"treated.combined": "combined stress", "treated.profile.2.5": "extreme noise (σ 2.5)",
            "relapse.drop": "acute relapse drop"}


def morris_indices() -> str:
    """mu* (mu, sigma) per treatment, knob and outcome, in pp over each knob's whole range."""
    m = pd.read_csv(MORRIS)
    m["cell"] = [f"{fmt(r.mu_star)} ({fmt(r.mu, sign=True)}, σ {fmt(r.sigma)})" for r in m.itertuples()]
    wide = m.pivot_table(index=["treatment", "knob"], columns="outcome", values="cell", aggfunc="first")
    wide = wide.reindex(columns=list(OUTCOMES)).reset_index()
    return table(wide.rename(columns=OUTCOMES))


def sobol_sparsity() -> str:
    s = pd.read_csv(SOBOL)
    s = s[s["knob"] == "pathology.sparsity"]
    return table(pd.DataFrame({"treatment": s["treatment"], "outcome": s["outcome"].map(OUTCOMES),
                               "S1 ± 95%": [f"{fmt(a, 2)} ± {fmt(b, 2)}" for a, b in zip(s["S1"], s["S1_conf"])],
                               "ST ± 95%": [f"{fmt(a, 2)} ± {fmt(b, 2)}" for a, b in zip(s["ST"], s["ST_conf"])]}))


BLOCKS = {
    "paper2-results": lambda: verify.table(verify.read(PAPER2)),
    "paper2-verdict": lambda: verdict_line(2, PAPER2),
    "paper2-claims-verdict": lambda: claims_line(2, PAPER2),
    "paper2-claims": lambda: claims_table(2, PAPER2),
    "paper2-inconclusive": lambda: power_table(2, PAPER2),
    "paper1-verdict": lambda: verdict_line(1, PAPER1),
    "paper1-values": lambda: values_table(1, PAPER1),
    "paper1-claims": lambda: claims_table(1, PAPER2),
    "paper1-claims-verdict": lambda: claims_line(1, PAPER2),
    "search-heldout": search_heldout,
    "search-paired": search_paired,
    "search-drop": search_drop,
    "search-front": search_front,
    "search-late-trials": search_late_trials,
    "search-slow-lr": search_slow_lr,
    "search-control-cost": lambda: paired(*control_cost()),
    "search-control-sd": lambda: fmt((control_cost()[0] - control_cost()[1]).std(ddof=1)),
    "onset-table": onset_table,
    "onset-paired": onset_paired,
    "onset-findings": onset_findings,
    "morris-indices": morris_indices,
    "sobol-sparsity": sobol_sparsity,
    "onset-shared": onset_shared,
}
if EXTENDED.is_file():
    BLOCKS.update({
        "extended-verdict": lambda: verdict_line(2, EXTENDED),
        "extended-claims-verdict": lambda: claims_line(2, EXTENDED),
        "extended-paper1-claims-verdict": lambda: claims_line(1, EXTENDED),
        "extended-claims": lambda: claims_table(2, EXTENDED),
        "extended-inconclusive": lambda: power_table(2, EXTENDED),
        "extended-paper1-claims": lambda: claims_table(1, EXTENDED),
    })


# -- severity: the pruning cliff ---------------------------------------------------------------

SEVERITY_ARMS = ("untreated", "ketamine", "ssri", "neurosteroid")


def severity_levels() -> list[str]:
    return sorted(set(frame(SEVERITY)["pathology.sparsity"]), key=float)


def severity_values(arm: str, name: str, level: str, x=None) -> pd.Series:
    """``name`` per seed of ``arm`` at pathology.sparsity ``level`` (the untreated network's from its own section)."""
    if arm == "untreated":
        name = "untreated." + name.split(".", 1)[1]
    return values(SEVERITY, arm, name, x, where={"pathology.sparsity": level})


def severity_table(name: str, x=None) -> str:
    """Mean ± SD per arm (rows) and severity (columns) of one measure."""
    lay, levels = layout(results(SEVERITY)), severity_levels()
    rows = []
    for arm in SEVERITY_ARMS:
        if arm == "untreated" and name.startswith("relapse."):
            continue
        rows.append({"sparsity": lay.label(arm) if arm != "untreated" else "untreated",
                     **{lv: mean_sd(severity_values(arm, name, lv, x)) for lv in levels}})
    return table(pd.DataFrame(rows))


def severity_mean(arm: str, name: str, level: str, x=None) -> str:
    return mean_sd(severity_values(arm, name, level, x))


def severity_shared() -> str:
    """How many per-seed values the 0.95 jobs share with paper 2's run, and how many are equal."""
    sev = frame(SEVERITY)
    sev = sev[sev["pathology.sparsity"] == "0.95"]
    p2 = frame(PAPER2)
    keys = ["arm", "seed", "section", "metric", "x"]
    both = sev.merge(p2, on=keys, suffixes=("", "_p2"))
    both = both[~both["section"].isin(["longitudinal", "onset", "response"])]
    equal = int((both["value"] == both["value_p2"]).sum())
    return f"{equal} of the {len(both)} per-seed values"


if SEVERITY.is_file():
    BLOCKS.update({
        "severity-combined": lambda: severity_table("treated.combined"),
        "severity-extreme": lambda: severity_table("treated.profile", 2.5),
        "severity-relapse": lambda: severity_table("relapse.drop"),
        "severity-shared": severity_shared,
    })


# -- the replay of paper 2 -----------------------------------------------------------------------


def replay_verdict() -> str:
    """How many of paper 2's printed values the committed replay gives, aggregated as it printed them."""
    from pruning_lab.analysis import replay

    comp = replay.compare(frame(REPLAY), pub.load(2))
    differ = comp[~comp["equal"]]
    return replay.verdict(comp, 2) + (f" ({len(differ)} differ: " + ", ".join(
        f"{r.table} {r.row} {r.column} {r.stat}" for r in differ.itertuples()) + ")" if len(differ) else "")


REPLAY_EXTENDED = EXPERIMENTS / "paper2" / "replay_extended.csv"   # the replay on seeds 0-29


@functools.cache
def replay_against_named_frame() -> pd.DataFrame:
    """The replay's seeds (``replay_extended.csv`` if committed, else ``replay.csv``) against the
    default's 40 (paper2_extended), per arm and headline measure: the difference of means with
    Welch's 90% interval, the margin of paper 2's rule, TOST (equivalent when the interval lies
    inside it), and Welch's p with Holm over the table (different when it is below 0.05 and
    TOST fails)."""
    from pruning_lab.analysis.margins import CEILINGS, margin
    from pruning_lab.analysis.stats import holm, tost, welch_df

    replay = REPLAY_EXTENDED if REPLAY_EXTENDED.is_file() else REPLAY
    measures = {"combined stress": ("treated.combined", None, "combined"), "σ 2.5": ("treated.profile", 2.5, "profile"),
                "acute relapse drop": ("relapse.drop", None, "combined"),
                "cycle 8": ("longitudinal.combined", 8, "combined")}
    rows = []
    for arm in ("ketamine", "ssri", "neurosteroid"):
        for name, (metric, x, kind) in measures.items():
            a, b = values(replay, arm, metric, x), values(EXTENDED, arm, metric, x)
            d = a.mean() - b.mean()
            s1, s2, n1, n2 = a.std(ddof=1), b.std(ddof=1), len(a), len(b)
            se, df = math.sqrt(s1 ** 2 / n1 + s2 ** 2 / n2), welch_df(s1, n1, s2, n2)
            if metric == "relapse.drop":   # a drop involves the scores at both of its ends
                ends = [values(replay, arm, f"relapse.combined_{e}").mean() for e in ("before", "after")]
            else:
                ends = [a.mean(), b.mean()]
            m = margin(ends, CEILINGS[kind])
            t = tost(d, se, df, m)
            rows.append({"arm": layout(results(replay)).label(arm), "measure": name,
                         f"replay ({seeds(replay)})": mean_sd(a), f"named ({seeds(EXTENDED)})": mean_sd(b),
                         "difference [90% CI]": f"{fmt(d, 1, True)} [{fmt(t['lo'], 1, True)}, {fmt(t['hi'], 1, True)}]",
                         "margin": f"±{m:g}", "equivalent": t["equivalent"],
                         "p": float(st.ttest_ind(a, b, equal_var=False).pvalue)})
    df_ = pd.DataFrame(rows)
    df_["p_holm"] = holm(df_["p"].to_numpy(float))
    df_["Welch p (Holm)"] = [f"{p:.3f} ({h:.3f})" for p, h in zip(df_["p"], df_["p_holm"])]
    df_["verdict"] = ["equivalent" if e else ("different" if h < 0.05 else "inconclusive")
                      for e, h in zip(df_["equivalent"], df_["p_holm"])]
    return df_.drop(columns=["p", "p_holm", "equivalent"])


def replay_against_named() -> str:
    return table(replay_against_named_frame())


def replay_against_named_counts() -> str:
    verdicts = list(replay_against_named_frame()["verdict"])
    replay = REPLAY_EXTENDED if REPLAY_EXTENDED.is_file() else REPLAY
    return (f"on {seeds(replay)} replayed against {seeds(EXTENDED)} named, of {len(verdicts)} comparisons: "
            + ", ".join(f"{verdicts.count(v)} {v}" for v in ("equivalent", "different", "inconclusive")))


if REPLAY.is_file():
    BLOCKS["replay-verdict"] = replay_verdict
    if EXTENDED.is_file():
        BLOCKS["replay-against-named"] = replay_against_named
        BLOCKS["replay-against-named-counts"] = replay_against_named_counts


# -- the mechanism study: every arm against the ketamine-like control ---------------------------

MECHANISM_CONTROL = "ketamine"


@functools.cache
def mechanism_cells() -> pd.DataFrame:
    """The report's comparison with the control, on the committed per-seed values; the margins'
    Bayes ceilings from the preset's config (every arm shares its data and stress)."""
    from pruning_lab import api
    from pruning_lab.analysis import control

    rs = results(MECHANISM)
    config = api.job(["experiment=mechanism"]).to_dict()
    lay = layout(rs)
    rule = control.MarginRule({h: config for h in rs.runs["config_hash"]}, lay)
    return control.compare(frame(MECHANISM), lay, MECHANISM_CONTROL, rule)


def mechanism_table() -> str:
    from pruning_lab.analysis import control

    cells = mechanism_cells()
    return table(control.table(cells, layout(results(MECHANISM)), MECHANISM_CONTROL).display)


def mechanism_means() -> str:
    """Mean ± SD per arm of the headline measures, over the study's seeds."""
    lay, cells = layout(results(MECHANISM)), mechanism_cells()
    titles = cells.drop_duplicates("metric").set_index("metric")["measure"]
    arms_ = [MECHANISM_CONTROL, *dict.fromkeys(cells["arm"])]
    return table(pd.DataFrame([{"arm": lay.label(arm), **{titles[metric]: mechanism_mean(arm, key)
                                                           for key, metric in MECHANISM_MEASURES.items()}}
                               for arm in arms_]))


def mechanism_verdicts() -> str:
    from pruning_lab.analysis import control

    return f"{len(mechanism_cells())} comparisons on {seeds(MECHANISM)}: {control.tally(mechanism_cells())}"


MECHANISM_MEASURES = {"combined": "treated.combined", "extreme": "treated.profile", "relapse": "relapse.drop",
                      "final": "longitudinal.final", "drop": "longitudinal.total_drop"}


def mechanism_diff(arm: str, measure: str) -> str:
    """One arm against the control on one headline measure, inline: the difference, its 95% CI, n, the verdict."""
    c = mechanism_cells()
    r = c[(c["arm"] == arm) & (c["metric"] == MECHANISM_MEASURES[measure])].iloc[0]
    return (f"{fmt(r['diff'], 1, True)} pp (95% CI {fmt(r['diff_lo'], 1, True)} to {fmt(r['diff_hi'], 1, True)}, "
            f"n = {int(r['n'])}; {r['verdict']} at ±{r['margin']:g} pp)")


def mechanism_mean(arm: str, measure: str) -> str:
    c = mechanism_cells()
    rows = c[c["metric"] == MECHANISM_MEASURES[measure]]
    r = rows.iloc[0] if arm == MECHANISM_CONTROL else rows[rows["arm"] == arm].iloc[0]
    mean, sd = (r["control_mean"], r["control_sd"]) if arm == MECHANISM_CONTROL else (r["arm_mean"], r["arm_sd"])
    return f"{fmt(mean)} ± {fmt(sd)}"


if MECHANISM.is_file():
    BLOCKS.update({"mechanism-control": mechanism_table, "mechanism-means": mechanism_means,
                   "mechanism-verdicts": mechanism_verdicts})
    for _arm in ("consolidate_only", "random_regrowth", "ssri_fast", "neurosteroid_relu", "ketamine_fast"):
        for _m in MECHANISM_MEASURES:
            BLOCKS[f"mechanism-diff-{_arm}-{_m}"] = functools.partial(mechanism_diff, _arm, _m)
    for _arm in (MECHANISM_CONTROL, "consolidate_only", "random_regrowth", "ssri_fast", "neurosteroid_relu",
                 "ketamine_fast"):
        for _m in MECHANISM_MEASURES:
            BLOCKS[f"mechanism-mean-{_arm}-{_m}"] = functools.partial(mechanism_mean, _arm, _m)


def render(name: str, old: str) -> str:
    """A block's new text: a table on lines of its own, a value inline (as the block was written)."""
    text = BLOCKS[name]().strip("\n")
    return f"\n{text}\n" if old.startswith("\n") or "\n" in text else text


def rewrite(text: str, where: str) -> tuple[str, list[str]]:
    """``text`` with every block regenerated, and the names of those that changed."""
    changed = []

    def one(m):
        name = m.group(2)
        if name not in BLOCKS:
            raise SystemExit(f"pruning-lab: error: {where}: unknown table {name!r} (tools/docs_tables.py: BLOCKS)")
        new = render(name, m.group(3))
        if new != m.group(3):
            changed.append(name)
        return m.group(1) + new + m.group(4)
    return BLOCK.sub(one, text), changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python tools/docs_tables.py", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 if a block differs")
    args = p.parse_args(argv)
    stale = []
    for path in DOCS:
        text = path.read_text()
        new, changed = rewrite(text, str(path.relative_to(ROOT)))
        stale += [f"{path.relative_to(ROOT)}: {name}" for name in changed]
        if changed and not args.check:
            path.write_text(new)
    for s in stale:
        print(("differs from its CSV: " if args.check else "rewrote ") + s)
    if args.check:
        print(f"pruning-lab: {len(stale)} table(s) differ from the committed per-seed values")
        return 1 if stale else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
