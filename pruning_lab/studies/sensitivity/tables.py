"""A sensitivity study's table and figure: each knob's index, with its interval, for every
treatment and outcome (``sensitivity.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ...analysis.figures import RC  # noqa: E402


def record(study: Path) -> dict:
    return json.loads((study / "sensitivity.json").read_text())


def indices(study: Path) -> pd.DataFrame:
    """One row per treatment x outcome x knob: Morris's mu*, its interval and sigma, or Sobol's
    first-order and total indices with their intervals."""
    rec = record(study)
    rows = []
    for t, entry in rec["treatments"].items():
        for o, out in entry["outcomes"].items():
            idx = out.get("indices")
            if idx is None:
                continue
            for i, k in enumerate(entry["knobs"]):
                rows.append({"treatment": t, "outcome": o, "knob": k, **{name: v[i] for name, v in idx.items()},
                             "jobs": len(entry["jobs"]), "failed": entry["failed"]})
    return pd.DataFrame(rows)


def figure(study: Path):
    """One panel per outcome and treatment: each knob's index as a bar with its interval."""
    rec = record(study)
    table = indices(study)
    morris = rec["method"] == "morris"
    treatments = list(rec["treatments"])
    outcomes = list(rec["outcomes"])
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(outcomes), len(treatments), figsize=(2.4 * len(treatments), 1.9 * len(outcomes)),
                                 layout="constrained", squeeze=False)
        for r, o in enumerate(outcomes):
            for c, t in enumerate(treatments):
                ax = axes[r][c]
                sub = table[(table["treatment"] == t) & (table["outcome"] == o)]
                if sub.empty:
                    ax.set_axis_off()
                    continue
                y = range(len(sub))
                if morris:
                    ax.barh(y, sub["mu_star"], xerr=sub["mu_star_conf"], color="#0072B2", height=0.6, capsize=2)
                    ax.plot(sub["sigma"], y, "D", color="#D55E00", ms=3, label="σ")
                else:
                    ax.barh([v + 0.2 for v in y], sub["ST"], xerr=sub["ST_conf"], color="#0072B2", height=0.4,
                            capsize=2, label="total")
                    ax.barh([v - 0.2 for v in y], sub["S1"], xerr=sub["S1_conf"], color="#E69F00", height=0.4,
                            capsize=2, label="first order")
                ax.set_yticks(list(y), [k.replace("treatment.", "t.").replace("pathology.", "p.") for k in sub["knob"]])
                ax.axvline(0, color="#000000", lw=0.5)
                ax.set_title(f"{t}: {o}", loc="left")
                if r == len(outcomes) - 1:
                    ax.set_xlabel("μ* (± CI), σ (◆)" if morris else "Sobol index (± CI)")
        if not morris:
            axes[0][0].legend(loc="lower right")
    return fig


def write(study: Path, out: Path) -> Path:
    """The sensitivity study's report (report.md and its HTML twin report.html, figures/indices.png,
    tables/) with indices.csv, from the study in ``study``, into ``out``."""
    from ...analysis.document import Report
    from ...analysis.tables import Table

    rec = record(study)
    table = indices(study)
    per = {t: len(e["jobs"]) for t, e in rec["treatments"].items()}
    unit = "trajectories" if rec["method"] == "morris" else "base samples"
    rep = Report(f"Sensitivity ({rec['method']}): {study}")
    rep.text(f"{rec['samples']} {unit} per treatment ({', '.join(f'{t}: {n} jobs' for t, n in per.items())}); "
             f"intervals at {rec['conf_level']:.0%} from {rec['resamples']} bootstrap resamples. The model seed is "
             f"held common within each of them and changes from one to the next.",
             f"Fixed overrides: `{' '.join(rec['fixed']) or 'none'}`")
    rep.figure("indices", figure(study), "Each knob's index with its interval, per treatment and outcome"
               + (": Morris's μ* (bars) and σ (◆)." if rec["method"] == "morris" else
                  ": Sobol's first-order and total indices."))
    if len(table):
        rep.table(Table("indices", "Each knob's index, per treatment and outcome",
                        table.map(lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)), table))
    else:
        rep.text("_(no outcome analysed)_")
    rep.frames["indices"] = table
    path = rep.save(out)
    plt.close("all")
    return path
