"""A regimen search's tables and figure: every trial, the Pareto front, and how the chosen
regimens fare on held-out seeds the search never saw (``search.json``, ``trials.jsonl``)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ...analysis.figures import RC  # noqa: E402
from ..base import trial_list  # noqa: E402


def record(study: Path) -> dict:
    return json.loads((study / "search.json").read_text())


def trials(study: Path) -> pd.DataFrame:
    """One row per trial (its last evaluation): its knobs, its objective values (seed means), whether
    it completed, is on the Pareto front, was chosen."""
    rec = record(study)
    rows = {}
    for line in (study / "trials.jsonl").read_text().splitlines():
        t = json.loads(line)
        rows[t["trial"]] = t
    objectives = list(rec["objectives"])
    chosen = {c["trial"] for c in rec.get("chosen", [])}
    out = []
    for n, t in sorted(rows.items()):
        row = {"trial": n, **t["params"], "complete": t["values"] is not None}
        for i, m in enumerate(objectives):
            row[m] = t["values"][i] if t["values"] is not None else float("nan")
        row["front"] = n in set(rec.get("front", []))
        row["chosen"] = n in chosen
        out.append(row)
    return pd.DataFrame(out)


def _ms(values: list) -> str:
    xs = [v for v in values if v is not None]
    if not xs:
        return "—"
    sd = statistics.stdev(xs) if len(xs) > 1 else float("nan")
    return f"{statistics.fmean(xs):.2f} ± {sd:.2f} (n={len(xs)})"


def heldout(study: Path) -> pd.DataFrame:
    """Each chosen regimen (and the regimen the search started from) on the search's seeds and on
    the held-out ones: mean ± SD (n) of every objective."""
    rec = record(study)
    rows = {json.loads(line)["trial"]: json.loads(line) for line in (study / "trials.jsonl").read_text().splitlines()}
    out = []
    held = rec.get("heldout", {})
    for c in rec.get("chosen", []):
        name = f"trial {c['trial']}"
        for m in rec["objectives"]:
            out.append({"regimen": name, "knobs": ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                                           for k, v in c["params"].items()),
                        "objective": f"{m} ({rec['objectives'][m]})",
                        "search seeds": _ms(rows[c["trial"]]["per_seed"][m]),
                        "held-out seeds": _ms(held.get(name, {}).get("per_seed", {}).get(m, []))})
    if "start" in held:
        for m in rec["objectives"]:
            out.append({"regimen": "as shipped", "knobs": "", "objective": f"{m} ({rec['objectives'][m]})",
                        "search seeds": "—", "held-out seeds": _ms(held["start"]["per_seed"].get(m, []))})
    return pd.DataFrame(out)


def front_figure(study: Path):
    """Every completed trial on the first two objectives (one objective: by trial), the Pareto front
    with each trial's number, and the chosen regimens moved to their held-out means."""
    rec = record(study)
    table = trials(study)
    done = table[table["complete"]]
    objectives = list(rec["objectives"])
    held = rec.get("heldout", {})
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(3.5, 3.0), layout="constrained")
        if len(objectives) >= 2:
            x, y = objectives[:2]
            ax.scatter(done[x], done[y], s=10, color="#bbbbbb", label="trial")
            front = done[done["front"]].sort_values(x)
            ax.plot(front[x], front[y], "o-", color="#0072B2", ms=4, label="Pareto front (search seeds)")
            for _, r in front.iterrows():
                ax.annotate(str(int(r["trial"])), (r[x], r[y]), xytext=(3, 3), textcoords="offset points",
                            fontsize=6, color="#0072B2")
            for _, r in done[done["chosen"]].iterrows():
                h = held.get(f"trial {r['trial']}", {}).get("per_seed", {})
                hx, hy = ([v for v in h.get(m, []) if v is not None] for m in (x, y))
                if hx and hy:
                    ax.annotate("", xy=(statistics.fmean(hx), statistics.fmean(hy)), xytext=(r[x], r[y]),
                                arrowprops={"arrowstyle": "->", "color": "#D55E00", "lw": 0.8})
                    ax.plot(statistics.fmean(hx), statistics.fmean(hy), "s", mfc="none", color="#D55E00", ms=5)
            start = held.get("start", {}).get("per_seed", {})
            sx, sy = ([v for v in start.get(m, []) if v is not None] for m in (x, y))
            if sx and sy:
                ax.plot(statistics.fmean(sx), statistics.fmean(sy), "*", color="#000000", ms=8, label="as shipped (held-out)")
            ax.plot([], [], "s", mfc="none", color="#D55E00", label="chosen, on held-out seeds")
            ax.set_xlabel(f"{x} ({rec['objectives'][x]})")
            ax.set_ylabel(f"{y} ({rec['objectives'][y]})")
        else:
            m = objectives[0]
            ax.plot(done["trial"], done[m], "o", color="#bbbbbb", ms=3, label="trial")
            best = done[m].cummax() if rec["objectives"][m] == "maximize" else done[m].cummin()
            ax.step(done["trial"], best, where="post", color="#0072B2", label="best so far")
            ax.set_xlabel("trial")
            ax.set_ylabel(f"{m} ({rec['objectives'][m]})")
        ax.set_title(f"Search: {len(done)} trials x {len(rec['seeds'])} seeds", loc="left")
        ax.legend(loc="best")
    return fig


def write(study: Path, out: Path) -> Path:
    """The search's report (report.md and its HTML twin report.html, figures/front.png, tables/)
    with trials.csv and heldout.csv, from the study in ``study``, into ``out``."""
    from ...analysis.document import Report
    from ...analysis.tables import Table

    rec = record(study)
    t, h = trials(study), heldout(study)
    front = rec.get("front", [])
    chosen = [c["trial"] for c in rec.get("chosen", [])]
    rep = Report(f"Regimen search: {study}")
    rep.text(f"{rec['complete']} of {rec['trials']} trials complete ({rec['failed']} failed), each on seeds "
             f"{rec['seeds']} (the same for every trial); objectives: "
             + ", ".join(f"`{m}` ({d})" for m, d in rec["objectives"].items()) + ".",
             f"Pareto front: {trial_list(front)}; chosen for the held-out seeds: {trial_list(chosen)}.",
             f"Fixed overrides: `{' '.join(rec['fixed']) or 'none'}`",
             f"Optuna's own view of the study (its objectives by name): `optuna-dashboard "
             f"sqlite:///{(study / 'study.db').resolve()}` (the `dashboard` extra)."
             if rec.get("storage") == "sqlite" else "")
    objectives = list(rec["objectives"])
    rep.figure("front", front_figure(study),
               (f"Every completed trial by `{objectives[0]}` and `{objectives[1]}` (the first two objectives), the "
                "Pareto front on the search's seeds with each trial's number, and the chosen regimens (arrows) moved "
                "to their means on the held-out seeds beside the regimen as shipped."
                if len(objectives) >= 2 else f"`{objectives[0]}` of every completed trial, and the best so far."))
    rep.heading("The chosen regimens on held-out seeds")
    rep.text(f"Held-out seeds: {rec['heldout_seeds'] or 'none'}.")
    rep.table(Table("heldout", "The chosen regimens on the search's seeds and on held-out seeds", h.astype(str), h))
    rep.heading("Every trial")
    rep.table(Table("trials", "Every trial: its knobs and objective values (seed means)",
                    t.map(lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)), t))
    files = [c["treatment"] for c in rec.get("chosen", []) if c.get("treatment")]
    if files:
        rep.heading("Treatment files")
        rep.bullets([f"`{f}`" for f in files])
    rep.frames.update(trials=t, heldout=h)
    path = rep.save(out)
    plt.close("all")
    return path
