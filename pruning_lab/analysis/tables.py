"""The papers' tables from a summary frame, written as Markdown, CSV and LaTeX.

A summary frame (``stats.summary_frame`` over ``arms.arms``) holds one line per (swept axes,
arm, section, metric, x). Each builder returns a :class:`Table`: ``display`` as printed
(mean ± SD, the value alone when n = 1) and ``cells``, the same numbers in long form for CSV.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .arms import Layout, arm_keys, select_arm
from .load import xkey
from .measures import (BASELINE_ARMS, CLEAN, COMBINED, EVALUATION, NOISE_LEVELS, OFF_DRUG, ON_DRUG, STANDARD, order_key,
                       rank)

DASH = "—"


@dataclass
class Table:
    name: str
    title: str
    display: pd.DataFrame
    cells: pd.DataFrame
    note: str = ""

    @property
    def empty(self) -> bool:
        return self.display.empty

    def markdown(self) -> str:
        return self.display.to_markdown(index=False, disable_numparse=True) if not self.empty else "_(no data)_"

    def latex(self) -> str:
        return to_latex(self.display, self.title, f"tab:{self.name}", self.note)

    def write(self, folder: Path) -> list[Path]:
        """``<name>.md``, ``.csv`` (long, full precision) and ``.tex`` in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        md = folder / f"{self.name}.md"
        md.write_text(f"**{self.title}**\n\n{self.markdown()}\n" + (f"\n{self.note}\n" if self.note else ""))
        csv = folder / f"{self.name}.csv"
        self.cells.to_csv(csv, index=False)
        tex = folder / f"{self.name}.tex"
        tex.write_text(self.latex())
        return [md, csv, tex]


# -- cell formatting -------------------------------------------------------------------------


def num(v: float, decimals: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return DASH
    s = f"{v:.{decimals}f}"
    return s[1:] if re.fullmatch(r"-0\.?0*", s) else s  # no "-0.0"


def mean_sd(rec, decimals: int = 1, row_n: int | None = None) -> str:
    """"m ± sd"; the value alone when n = 1; "(n=k)" when the cell's n differs from its row's."""
    if rec is None or rec["n"] == 0:
        return DASH
    s = num(rec["mean"], decimals) if rec["n"] == 1 else f"{num(rec['mean'], decimals)} ± {num(rec['sd'], decimals)}"
    return s + (f" (n={int(rec['n'])})" if row_n is not None and rec["n"] != row_n else "")


class Lookup:
    """Summary records by (axes..., arm, section, metric, x)."""

    def __init__(self, summary: pd.DataFrame, layout: Layout):
        self.layout = layout
        self.summary = summary
        cols = [*layout.axes, "arm", "section", "metric"]
        self.index = {}
        self.any_x: dict[tuple, dict] = {}
        for rec in summary.to_dict("records"):
            key = tuple(rec[c] for c in cols)
            self.index[(*key, xkey(rec["x"]))] = rec
            self.any_x.setdefault(key, rec)

    def get(self, gvals: tuple, arm: str, tvals: tuple, section: str, metric: str, x=None):
        if arm in BASELINE_ARMS:
            tvals = ("",) * len(self.layout.treatment_axes)
        return self.index.get((*gvals, *tvals, arm, section, metric, xkey(x)))

    def first(self, gvals: tuple, arm: str, tvals: tuple, section: str, metric: str):
        """The record whatever its x (course summaries carry their last cycle as x)."""
        return self.any_x.get((*gvals, *tvals, arm, section, metric))

    def groups(self) -> list[tuple]:
        """The global-axes combinations, in order."""
        g = self.layout.global_axes
        if not g:
            return [()]
        combos = self.summary[g].drop_duplicates()
        combos = combos.sort_values(g, key=order_key)
        return [tuple(r) for r in combos.itertuples(index=False)]

    def rows(self, gvals: tuple, section: str) -> list[tuple[str, tuple]]:
        """(arm, treatment-axes values) with any data in ``section`` under ``gvals``, in order."""
        s = self.summary[self.summary["section"] == section]
        for a, v in zip(self.layout.global_axes, gvals):
            s = s[s[a] == v]
        keys = s[["arm", *self.layout.treatment_axes]].drop_duplicates()
        keys = keys.sort_values(list(keys.columns), key=order_key)
        return [(r[0], tuple(r[1:])) for r in keys.itertuples(index=False)]


def _cell(gvals, layout, row, column, rec, value=None) -> dict:
    d = dict(zip(layout.global_axes, gvals))
    d.update({"row": row, "column": column})
    if rec is None:
        d.update(n=0, mean=math.nan, sd=math.nan, min=math.nan, max=math.nan)
    else:
        d.update({k: rec[k] for k in ("n", "mean", "sd", "min", "max")})
    if value is not None:
        d["value"] = value
    return d


def _frame(rows: list[dict], cells: list[dict], layout: Layout, lead: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    display = pd.DataFrame(rows)
    if not display.empty:
        display = display[[*layout.global_axes, *lead, *[c for c in display.columns if c not in layout.global_axes + lead]]]
    return display, pd.DataFrame(cells)


def share(layout: Layout, key: str) -> str:
    """A config fraction the runs share, as a percentage (``40%``), else its key."""
    return layout.fraction(key) or f"`{key}`"


# -- row tables: one line per arm, one column per measure ------------------------------------


@dataclass(frozen=True)
class Col:
    header: str
    metric: str
    x: float | None = None
    section: str | None = None   # None: the row's own; else used for treated rows only


def row_table(name: str, title: str, look: Lookup, sections: list[tuple[str, str]], cols: list[Col],
              note: str = "", include=None) -> Table:
    """Rows: every arm with data in each (section, label suffix); columns: ``cols``."""
    lay = look.layout
    rows, cells = [], []
    for g in look.groups():
        entries = []
        for section, suffix in sections:
            entries += [(arm, tv, section, suffix) for arm, tv in look.rows(g, section)
                        if include is None or include(arm, section)]
        # baseline arms first, then each treatment with its on- and off-drug rows together
        entries.sort(key=lambda e: (e[0] not in BASELINE_ARMS, rank(e[0]), e[1],
                                    [s for s, _ in sections].index(e[2])))
        for arm, tv, section, suffix in entries:
            label = lay.label(arm, tv) + suffix
            recs = [look.get(g, arm, tv, c.section if c.section and section == "treated" else section, c.metric, c.x)
                    if not (c.section and section != "treated") else None for c in cols]
            n = max((int(r["n"]) for r in recs if r is not None), default=0)
            row = {**dict(zip(lay.global_axes, g)), "Treatment": label, "n": str(n)}
            for c, r in zip(cols, recs):
                row[c.header] = mean_sd(r, lay.decimals, n)
                cells.append(_cell(g, lay, label, c.header, r))
            rows.append(row)
    display, cells = _frame(rows, cells, lay, ["Treatment", "n"])
    return Table(name, title, display, cells, note)


def profile_cols(look: Lookup) -> list[Col]:
    xs = sorted({float(x) for x in look.summary.loc[look.summary["metric"] == "profile", "x"]})
    return [Col(f"{NOISE_LEVELS[x]} (σ={x:g}) (%)" if x in NOISE_LEVELS else f"σ={x:g} (%)", "profile", x)
            for x in xs]


def extreme_sigma(look: Lookup) -> float | None:
    xs = look.summary.loc[look.summary["metric"] == "profile", "x"]
    return float(xs.max()) if len(xs) else None


def efficacy(look: Lookup) -> Table:
    cols = [Col(m.title, m.metric) for m in EVALUATION]
    return row_table("efficacy", "Post-treatment efficacy (mean ± SD across seeds)", look,
                     [("healthy", ""), ("untreated", ""), ("treated", "")], cols,
                     f"{BASELINE_ARMS['healthy']} is the trained network before the pathology; it is not in the papers' "
                     "tables.")


def stress_profile(look: Lookup) -> Table:
    return row_table("stress_profile", "Stress resilience profile: accuracy under internal noise (mean ± SD)", look,
                     [("untreated", ""), ("treated", ""), ("off_drug", f" ({OFF_DRUG})")], profile_cols(look),
                     "Standard test set, internal noise of SD σ on every hidden layer, no input noise.")


def overview(look: Lookup) -> Table:
    """Paper 1's Table 1 layout: efficacy, extreme stress and relapse drop, on- and off-drug rows."""
    xe = extreme_sigma(look)
    cols = [Col(m.title, m.metric) for m in EVALUATION]
    if xe is not None:
        cols.append(Col(f"Extreme stress σ={xe:g} (%)", "profile", xe))
    cols.append(Col("Relapse drop (pp)", "drop", section="relapse"))
    return row_table("overview", "Post-treatment performance and relapse vulnerability", look,
                     [("untreated", ""), ("treated", ""), ("off_drug", f" ({OFF_DRUG})")], cols,
                     "pp: percentage points of combined-stress accuracy lost after pruning a further "
                     f"{share(look.layout, 'pathology.relapse_fraction')} of the surviving weights. Off drug: the "
                     "same weights with the modulation removed.")


def acute_relapse(look: Lookup) -> Table:
    cols = [Col("Sparsity before (%)", "sparsity_before"), Col("Sparsity after (%)", "sparsity_after"),
            Col("Combined before (%)", "combined_before"), Col("Combined after (%)", "combined_after"),
            Col("Drop (pp)", "drop")]
    return row_table("acute_relapse", f"Acute relapse: a further {share(look.layout, 'pathology.relapse_fraction')} "
                     "of surviving weights pruned (mean ± SD)",
                     look, [("relapse", "")], cols,
                     "Drop = combined-stress accuracy before minus after, in percentage points (pp); "
                     "modulated treatments are tested with the modulation on.")


def state_dependence(look: Lookup) -> Table:
    xe = extreme_sigma(look)
    cols = [Col(m.title, m.metric) for m in (CLEAN, STANDARD, COMBINED)]
    if xe is not None:
        cols.append(Col(f"Extreme σ={xe:g} (%)", "profile", xe))
    modulated = {arm for g in look.groups() for arm, _ in look.rows(g, "off_drug")}
    return row_table("state_dependence", "State dependence: modulated treatments on and off drug (mean ± SD)",
                     look, [("treated", f" ({ON_DRUG})"), ("off_drug", f" ({OFF_DRUG})"),
                            ("off_minus_on", ": off − on")],
                     cols, "Off − on is the paired per-seed change (pp) when the modulation is removed "
                     "from the same weights.", include=lambda arm, section: arm in modulated)


# -- longitudinal tables: one line per cycle, one column per treatment ---------------------------


def cycle_table(name: str, title: str, look: Lookup, metric: str, kind: str = "mean_sd", note: str = "") -> Table:
    lay = look.layout
    rows, cells = [], []
    for g in look.groups():
        arms = look.rows(g, "longitudinal")
        if not arms:
            continue
        cycles = sorted({float(x) for x in look.summary.loc[(look.summary["section"] == "longitudinal")
                                                             & (look.summary["metric"] == metric), "x"]})
        ns = {a: max((int(r["n"]) for c in cycles if (r := look.get(g, *a, "longitudinal", metric, c))), default=0)
              for a in arms}
        for c in cycles:
            row = {**dict(zip(lay.global_axes, g)), "Cycle": f"{c:g}"}
            for a in arms:
                header = f"{lay.label(*a)} (n={ns[a]})"
                rec = look.get(g, *a, "longitudinal", metric, c)
                if kind == "range":
                    row[header] = DASH if rec is None else f"{num(rec['min'], lay.decimals)}–{num(rec['max'], lay.decimals)}"
                else:
                    row[header] = mean_sd(rec, lay.decimals, ns[a])
                cells.append(_cell(g, lay, f"{c:g}", lay.label(*a), rec))
            rows.append(row)
    display, cells = _frame(rows, cells, lay, ["Cycle"])
    return Table(name, title, display, cells, note)


def relapse_summary(look: Lookup, threshold: float | None = None) -> Table:
    lay = look.layout
    thr = f"{threshold:g}%" if threshold is not None else "the threshold"
    rows, cells = [], []
    for g in look.groups():
        arms = look.rows(g, "longitudinal")
        if not arms:
            continue
        recs = {a: {m: look.first(g, *a, "longitudinal", m)
                    for m in ("total_drop", "final", "relapsed", "relapse_cycle")} for a in arms}
        lasts = sorted({f"{r['x']:g}" for a in arms for r in [recs[a]["final"]] if r is not None})
        last = "/".join(lasts) or "last"
        lines = [(f"Total accuracy drop, cycle 0 to {last} (pp)", "total_drop"),
                 (f"Final accuracy, cycle {last} (%)", "final"),
                 (f"Seeds with relapse (<{thr})", "relapsed"),
                 (f"Seeds without relapse (≥{thr})", "not_relapsed"),
                 ("Mean cycle at relapse (if relapsed)", "relapse_cycle")]
        for text, key in lines:
            row = {**dict(zip(lay.global_axes, g)), "Metric": text}
            for a in arms:
                r = recs[a]
                header = lay.label(*a)
                if key in ("relapsed", "not_relapsed"):
                    rr = r["relapsed"]
                    k = 0 if rr is None else int(round(rr["n_true"]))
                    n = 0 if rr is None else int(rr["n"])
                    k = k if key == "relapsed" else n - k
                    row[header] = f"{k}/{n}"
                    cells.append(_cell(g, lay, text, header, rr, value=k))
                elif key == "relapse_cycle" and r["relapse_cycle"] is None:
                    row[header] = "N/A"
                    cells.append(_cell(g, lay, text, header, None))
                else:
                    row[header] = mean_sd(r[key], lay.decimals)
                    if key == "relapse_cycle":
                        row[header] += f" (n={int(r[key]['n'])})"
                    cells.append(_cell(g, lay, text, header, r[key]))
            rows.append(row)
    display, cells = _frame(rows, cells, lay, ["Metric"])
    return Table("relapse_summary", "Longitudinal relapse summary", display, cells,
                 "Relapse: the first cycle (cycle 0 = post-treatment) whose combined-stress accuracy is below "
                 f"{thr}. Total drop = cycle 0 minus last cycle; negative means accuracy rose.")


def relapse_cycles(arms_frame: pd.DataFrame, layout: Layout, seeds: list[int]) -> Table:
    """Relapse cycle of every seed (blank: never relapsed; "missing": no result)."""
    lg = arms_frame[(arms_frame["section"] == "longitudinal") & arms_frame["metric"].isin(["relapsed", "relapse_cycle"])]
    rows, cells = [], []
    if lg.empty:
        return Table("relapse_cycle_per_seed", "Relapse cycle per seed", pd.DataFrame(), pd.DataFrame())
    keys = [*layout.global_axes]
    groups = lg[keys].drop_duplicates().sort_values(keys, key=order_key) if keys else pd.DataFrame([{}])
    for g in groups.itertuples(index=False):
        g = tuple(g)
        sub = lg
        for a, v in zip(layout.global_axes, g):
            sub = sub[sub[a] == v]
        columns = arm_keys(sub, layout)
        for seed in seeds:
            row = {**dict(zip(layout.global_axes, g)), "Seed": str(seed)}
            for arm, tv in columns:
                m = select_arm(sub, layout, arm, tv)
                m = m[m["seed"] == seed]
                header = layout.label(arm, tv)
                if m.empty:
                    row[header] = "missing"
                    value = math.nan
                else:
                    rc = m.loc[m["metric"] == "relapse_cycle", "value"]
                    value = float(rc.iloc[0]) if len(rc) else math.nan
                    row[header] = "none" if math.isnan(value) else f"{value:g}"
                cells.append({**dict(zip(layout.global_axes, g)), "row": str(seed), "column": header,
                              "relapse_cycle": value, "missing": m.empty})
            rows.append(row)
    display = pd.DataFrame(rows)
    return Table("relapse_cycle_per_seed", "Relapse cycle per seed", display, pd.DataFrame(cells),
                 "none: never below the threshold; missing: no result for this seed.")


def all_tables(look: Lookup, arms_frame: pd.DataFrame, seeds: list[int], threshold: float | None) -> list[Table]:
    """Every table the data allow, in the papers' order."""
    tables = [efficacy(look), stress_profile(look), overview(look), acute_relapse(look), state_dependence(look),
              cycle_table("cycle_combined", "Combined-stress accuracy (%) by cycle (mean ± SD)", look, "combined",
                          note="Cycle 0 is the post-treatment network; each cycle prunes "
                               f"{share(look.layout, 'longitudinal.prune_fraction')} of the surviving weights, then "
                               "runs the treatment's maintenance."),
              cycle_table("cycle_sparsity", "Sparsity (%) by cycle (mean ± SD)", look, "sparsity"),
              cycle_table("cycle_range", "Combined-stress accuracy (%) by cycle: min–max across seeds", look,
                          "combined", kind="range"),
              relapse_summary(look, threshold),
              relapse_cycles(arms_frame, look.layout, seeds)]
    return [t for t in tables if not t.empty]


# -- LaTeX -----------------------------------------------------------------------------------

_TEX = [("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
        ("±", r"$\pm$"), ("σ", r"$\sigma$"), ("≥", r"$\geq$"), ("−", r"$-$"), ("—", "---"), ("–", "--")]


def tex_escape(s: str) -> str:
    for a, b in _TEX:
        s = s.replace(a, b)
    s = re.sub(r"<", r"$<$", s)
    return re.sub(r"(?<![\w$])-(?=\d)", r"$-$", s)


def to_latex(display: pd.DataFrame, caption: str, label: str, note: str = "") -> str:
    """A booktabs table (``\\usepackage{booktabs}``) ready to paste into a manuscript."""
    cols = list(display.columns)
    lines = ["% generated by pruning_lab.aggregate; needs \\usepackage{booktabs}",
             "\\begin{table}[htbp]", "\\centering", f"\\caption{{{tex_escape(caption)}}}", f"\\label{{{label}}}",
             "\\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", "\\toprule",
             " & ".join(tex_escape(str(c)) for c in cols) + r" \\", "\\midrule"]
    lines += [" & ".join(tex_escape(str(v)) for v in row) + r" \\" for row in display.itertuples(index=False)]
    lines += ["\\bottomrule", "\\end{tabular}"]
    if note:
        lines.append(f"\\par\\smallskip{{\\footnotesize {tex_escape(note)}}}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"
