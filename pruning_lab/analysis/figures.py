"""Figures for a journal column (3.5 in wide), readable in black and white; each function returns
a matplotlib ``Figure`` (``save`` writes PNG and SVG).

Every arm has its own marker and line style as well as colour (``measures.ARMS``); bands are
mean ± SD across seeds with the report's SD convention, drawn only where an arm has two seeds or
more, and accuracy bands stay within [0, 100]. A figure takes a tidy frame (``load_results``) or
the report's frame by arm; its layout (axes, labels) is read from the frame unless given.
The figures are not pyplot's: nothing opens a window, and a notebook shows only what it is handed.
"""

from __future__ import annotations

import itertools
import re
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from . import dose, response
from .arms import Layout, arm_keys, infer, select_arm
from .measures import (ARMS, BASELINE_ARMS, CLEAN, COMBINED, DOSE, NOISE_AXIS, OFF_DRUG, OFF_DRUG_STYLE, ON_DRUG,
                       STANDARD, ranked, style)

WIDTH = 3.5  # inches: one journal column
DPI = 300
# the figures' rcParams, the studies' figures too
RC = {"font.size": 8, "axes.labelsize": 8, "axes.titlesize": 8, "legend.fontsize": 6.5,
      "xtick.labelsize": 7, "ytick.labelsize": 7, "lines.linewidth": 1.2, "lines.markersize": 4,
      "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none",
      "legend.frameon": False}
ACCURACY = (0.0, 100.0)


# -- making, fitting and saving a figure -----------------------------------------------------


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure with its own Agg canvas (not registered with pyplot)."""
    # 150 dpi: what a notebook shows of it; a file is saved at its own dpi
    fig = Figure(figsize=(width, height), layout="constrained", dpi=150)
    FigureCanvasAgg(fig)
    return fig


def legend(fig: Figure, handles, labels, loc: str = "outside lower center", ncols: int = 2, **kw):
    """A figure legend in as many columns (up to ``ncols``) as the figure's width holds; labels that
    are still too long are wrapped."""
    renderer = fig.canvas.get_renderer()
    room = fig.bbox.width * 0.98
    leg = None
    for n in range(max(1, min(ncols, len(labels))), 0, -1):
        leg = fig.legend(handles, labels, loc=loc, ncols=n, **kw)
        if leg.get_window_extent(renderer).width <= room or n == 1:
            break
        leg.remove()
    excess = leg.get_window_extent(renderer).width - room
    if excess > 0:
        # one column: the legend is as wide as its widest label, which must lose ``excess``
        widths = [t.get_window_extent(renderer).width for t in leg.get_texts()]
        target = max(widths) - excess
        for t, w in zip(leg.get_texts(), widths):
            if w > target:
                t.set_text(_wrap(t.get_text(), len(t.get_text()) * target / w))
    return leg


def _wrap(text: str, chars: float) -> str:
    return "\n".join(textwrap.fill(line, max(8, int(chars))) for line in text.split("\n"))


def _drawn_texts(fig: Figure) -> list[Text]:
    """The texts a draw shows: visible, non-empty, and (tick labels) at a tick the axis draws."""
    skip = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - 1e-9 * (abs(hi) + 1) <= tick.get_loc() <= hi + 1e-9 * (abs(hi) + 1):
                    skip |= {id(tick.label1), id(tick.label2)}
    return [t for t in fig.findobj(Text) if id(t) not in skip and t.get_visible() and t.get_text().strip()
            and all(a.get_visible() for a in _ancestors(t))]


def _ancestors(artist):
    a = artist.axes
    return [a] if a is not None else []


def finish(fig: Figure) -> Figure:
    """Lay the figure out and wrap every text that would leave the image (a long title, a label)."""
    with matplotlib.rc_context(RC):
        fig.canvas.draw()
        for _ in range(3):
            box = fig.bbox
            out = [t for t in _drawn_texts(fig) if not _inside(t.get_window_extent(), box)]
            if not out:
                break
            for t in out:
                e = t.get_window_extent()
                start = e.x0 if t.get_horizontalalignment() == "left" else box.x0
                room = max(box.x1 - max(start, box.x0) - 4, box.width * 0.3)
                t.set_text(_wrap(t.get_text(), len(max(t.get_text().split("\n"), key=len)) * room / max(e.width, 1)))
            fig.canvas.draw()
    return fig


def _inside(e, box, tol: float = 0.5) -> bool:
    return e.x0 >= box.x0 - tol and e.x1 <= box.x1 + tol and e.y0 >= box.y0 - tol and e.y1 <= box.y1 + tol


def save(fig: Figure, folder: Path | str, stem: str) -> Path:
    """``<stem>.png`` (300 dpi) and ``<stem>.svg`` in ``folder``; returns the PNG's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{stem}.png"
    with matplotlib.rc_context(RC):
        # constrained layout already fits everything: no bbox_inches, the image is the figure
        fig.savefig(png, dpi=DPI)
        fig.savefig(folder / f"{stem}.svg")
    return png


# -- data helpers ----------------------------------------------------------------------------


def _prepared(frame: pd.DataFrame, layout: Layout | None) -> tuple[pd.DataFrame, Layout]:
    return (frame, layout) if layout is not None else infer(frame)


def _stats(frame: pd.DataFrame, by: list[str], ddof: int) -> pd.DataFrame:
    g = frame.groupby(by, dropna=False)["value"]
    out = g.agg(mean="mean", n="count").reset_index()
    out["sd"] = g.std(ddof=ddof).fillna(0.0).to_numpy()
    return out


def _styles(keys: list[tuple[str, tuple]]) -> dict:
    """Known arms keep their style; others, and repeated arms under other axis values, take the next."""
    out, extra, seen = {}, 0, set()
    for arm, tv in keys:
        if arm in ARMS and arm not in seen:
            out[(arm, tv)] = style(arm)
        else:
            out[(arm, tv)] = style("", extra)
            extra += 1
        seen.add(arm)
    return out


def has_band(frame: pd.DataFrame, layout: Layout | None = None) -> bool:
    """Whether any arm has two seeds or more: the only way a ± SD band can be drawn."""
    if frame.empty:
        return False
    frame, layout = _prepared(frame, layout)
    return bool(frame.groupby(["arm", *layout.treatment_axes])["seed"].nunique().max() >= 2)


def _band(ax, st: pd.DataFrame, x: str, kw: dict, label: str | None, alpha: float = 0.15,
          clip: tuple[float, float] | None = ACCURACY, **line) -> None:
    """Mean line and ± SD band; the band only where two seeds or more give an SD, clipped to ``clip``."""
    lo, hi = st["mean"] - st["sd"], st["mean"] + st["sd"]
    if clip is not None:
        lo, hi = lo.clip(*clip), hi.clip(*clip)
    shown = st["n"] >= 2
    if shown.any():
        ax.fill_between(st[x], lo.where(shown), hi.where(shown), color=kw["color"], alpha=alpha, linewidth=0,
                        zorder=2)
    ax.plot(st[x], st["mean"], label=label, zorder=3, **{**kw, **line})


def _sd_name(ddof: int) -> str:
    return "SD" if ddof == 1 else "population SD"


# -- the figures -----------------------------------------------------------------------------


def profile(frame: pd.DataFrame, layout: Layout | None = None, ddof: int = 1, title: str = "") -> Figure | None:
    """Accuracy vs internal noise, mean ± SD band per arm; off-drug as open markers."""
    frame, layout = _prepared(frame, layout)
    f = frame[(frame["metric"] == "profile") & frame["section"].isin(["untreated", "treated", "off_drug"])]
    if f.empty:
        return None
    with matplotlib.rc_context(RC):
        fig = new_figure(WIDTH, 3.1)
        ax = fig.subplots()
        keys = arm_keys(f, layout)
        styles = _styles(keys)
        for (arm, tv) in keys:
            sub = select_arm(f, layout, arm, tv)
            for section in ("untreated", "treated", "off_drug"):
                s = sub[sub["section"] == section]
                if s.empty:
                    continue
                st = _stats(s, ["x"], ddof).sort_values("x")
                kw = dict(styles[(arm, tv)])
                label = layout.label(arm, tv)
                if section == "off_drug":
                    kw.update(OFF_DRUG_STYLE)
                    label += f" ({OFF_DRUG})"
                _band(ax, st, "x", kw, label)
        if layout.chance is not None:
            ax.axhline(layout.chance, color="0.5", linewidth=0.6, linestyle=(0, (2, 2)))
            # at the left edge, below the line: the right end is where the untreated curve ends near chance
            ax.text(ax.get_xlim()[0], layout.chance - 1, f" chance ({layout.chance:.3g}%)", ha="left", va="top",
                    fontsize=6, color="0.4")
        ax.set(xlabel=NOISE_AXIS, ylabel="Accuracy (%)", ylim=(0, 102))
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=8)
        # below the axes: inside, it would hide the curves it names
        legend(fig, *ax.get_legend_handles_labels(), ncols=2)
        return finish(fig)


def longitudinal(frame: pd.DataFrame, layout: Layout | None = None, ddof: int = 1, threshold: float | None = None,
                 title: str = "") -> Figure | None:
    """Combined-stress accuracy per cycle: one panel per arm, thin line per seed, mean ± SD."""
    frame, layout = _prepared(frame, layout)
    f = frame[(frame["section"] == "longitudinal") & (frame["metric"] == "combined")]
    if f.empty:
        return None
    keys = arm_keys(f, layout)
    styles = _styles(keys)
    relapsed = frame[(frame["section"] == "longitudinal") & (frame["metric"] == "relapsed")]
    with matplotlib.rc_context(RC):
        fig = new_figure(WIDTH, 0.7 + 1.5 * len(keys))
        axes = fig.subplots(len(keys), 1, sharex=True, sharey=True, squeeze=False)
        lo = max(0.0, float(f["value"].min()) - 5)
        for ax, (arm, tv) in zip(axes[:, 0], keys):
            sub = select_arm(f, layout, arm, tv)
            kw = styles[(arm, tv)]
            for _, s in sub.groupby("seed"):
                s = s.sort_values("x")
                ax.plot(s["x"], s["value"], color="0.55", linewidth=0.5, alpha=0.8, zorder=1)
            st = _stats(sub, ["x"], ddof).sort_values("x")
            _band(ax, st, "x", kw, None, alpha=0.2)
            if threshold is not None:
                ax.axhline(threshold, color="black", linewidth=0.8, linestyle=(0, (4, 2)), zorder=0)
            r = select_arm(relapsed, layout, arm, tv)
            n, k = sub["seed"].nunique(), int(r["value"].sum())
            ax.set_title(f"{layout.label(arm, tv)}: n = {n} seed{'s' * (n != 1)}, {k} relapsed", loc="left")
            ax.set_ylim(lo, 100.5)
            ax.set_ylabel(COMBINED.title)
        handles = [Line2D([], [], color="0.55", linewidth=0.5, label="single seed"),
                   Line2D([], [], color="black", marker="o", label="mean")]
        if has_band(f, layout):
            handles.append(Patch(facecolor="0.75", label="± SD"))
        if threshold is not None:
            handles.append(Line2D([], [], color="black", linewidth=0.8, linestyle=(0, (4, 2)),
                                  label=f"relapse threshold ({threshold:g}%)"))
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=8)
        legend(fig, handles, [h.get_label() for h in handles], loc="outside upper center", ncols=len(handles),
               handlelength=1.8, columnspacing=1.0)
        axes[-1, 0].set_xlabel(_cycle_label(layout, f))
        axes[-1, 0].xaxis.get_major_locator().set_params(integer=True)
        return finish(fig)


def sparsity(frame: pd.DataFrame, layout: Layout | None = None, ddof: int = 1, title: str = "") -> Figure | None:
    """Sparsity per cycle, mean ± SD per arm."""
    frame, layout = _prepared(frame, layout)
    f = frame[(frame["section"] == "longitudinal") & (frame["metric"] == "sparsity")]
    if f.empty:
        return None
    with matplotlib.rc_context(RC):
        fig = new_figure(WIDTH, 2.7)
        ax = fig.subplots()
        keys = arm_keys(f, layout)
        styles = _styles(keys)
        for arm, tv in keys:
            st = _stats(select_arm(f, layout, arm, tv), ["x"], ddof).sort_values("x")
            _band(ax, st, "x", styles[(arm, tv)], layout.label(arm, tv))
        ax.set(xlabel=_cycle_label(layout, f), ylabel="Sparsity (% of weights zero)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=8)
        legend(fig, *ax.get_legend_handles_labels(), ncols=2)
        return finish(fig)


def _cycle_label(layout: Layout, frame: pd.DataFrame) -> str:
    share = layout.fraction("longitudinal.prune_fraction", frame)
    return f"Cycle (each prunes {share} of surviving weights)" if share else "Cycle"


def state_dependence(frame: pd.DataFrame, layout: Layout | None = None, ddof: int = 1, title: str = ""
                     ) -> Figure | None:
    """On vs off drug for every modulated arm: bars (hatched = off) ± SD, a dot per seed."""
    frame, layout = _prepared(frame, layout)
    off = frame[frame["section"] == "off_drug"]
    if off.empty:
        return None
    keys = arm_keys(off, layout)
    xe = float(frame.loc[frame["metric"] == "profile", "x"].max())
    measures = [(m.metric, None, m.label.replace(" ", "\n")) for m in (CLEAN, STANDARD, COMBINED)]
    measures.append(("profile", xe, f"Extreme\nσ = {xe:g}"))
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    with matplotlib.rc_context(RC):
        fig = new_figure(WIDTH, 0.6 + 2.0 * len(keys))
        axes = fig.subplots(len(keys), 1, squeeze=False, sharex=True)
        for ax, (arm, tv) in zip(axes[:, 0], keys):
            sub = select_arm(frame, layout, arm, tv)
            for j, (section, hatch, face, name) in enumerate((("treated", "", "white", ON_DRUG),
                                                              ("off_drug", "////", "0.75", OFF_DRUG))):
                means, err = [], []
                for i, (metric, x, _) in enumerate(measures):
                    v = sub[(sub["section"] == section) & (sub["metric"] == metric)]
                    v = v[v["x"] == x] if x is not None else v
                    vals = v["value"].to_numpy()
                    m = vals.mean() if len(vals) else np.nan
                    sd = vals.std(ddof=ddof) if len(vals) >= 2 else 0.0
                    means.append(m)
                    # error bars are accuracies too: they end at 0 and at 100
                    err.append((min(sd, m) if len(vals) else 0.0, min(sd, 100.0 - m) if len(vals) else 0.0))
                    pos = i + (j - 0.5) * 0.38
                    ax.scatter(pos + rng.uniform(-0.07, 0.07, len(vals)), vals, s=5, color="black", zorder=3,
                               linewidths=0)
                pos = np.arange(len(measures)) + (j - 0.5) * 0.38
                ax.bar(pos, means, width=0.36, yerr=np.array(err).T, capsize=2, color=face, edgecolor="black",
                       hatch=hatch, linewidth=0.7, label=name, error_kw={"elinewidth": 0.7}, zorder=2)
            ax.set_xticks(range(len(measures)), [m[2] for m in measures])
            ax.set(ylabel="Accuracy (%)", ylim=(0, 105))
            ax.set_title(f"{layout.label(arm, tv)} (n = {sub['seed'].nunique()} seeds)", loc="left")
        handles = [Patch(facecolor="white", edgecolor="black", label=ON_DRUG),
                   Patch(facecolor="0.75", edgecolor="black", hatch="////", label=OFF_DRUG),
                   Line2D([], [], color="black", marker="o", markersize=2, linestyle="none", label="single seed")]
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=8)
        legend(fig, handles, [h.get_label() for h in handles], loc="outside upper center", ncols=3)
        return finish(fig)


def onset(frame: pd.DataFrame, layout: Layout | None = None, ddof: int = 1, threshold: float | None = None,
          title: str = "") -> Figure | None:
    """Accuracy during treatment, by treatment epoch: combined stress and extreme noise, mean ± SD
    per arm over thin per-seed lines; the response threshold dashed."""
    frame, layout = _prepared(frame, layout)
    f = frame[frame["section"] == "onset"]
    if f.empty:
        return None
    keys = arm_keys(f, layout)
    styles = _styles(keys)
    panels = [("combined", "Combined stress"), ("extreme", "Extreme internal noise")]
    with matplotlib.rc_context(RC):
        fig = new_figure(WIDTH, 4.4)
        axes = fig.subplots(2, 1, sharex=True)
        for ax, (metric, name) in zip(axes, panels):
            m = f[f["metric"] == metric]
            for arm, tv in keys:
                sub = select_arm(m, layout, arm, tv)
                if sub.empty:
                    continue
                kw = styles[(arm, tv)]
                for _, s in sub.groupby("seed"):
                    s = s.sort_values("x")
                    ax.plot(s["x"], s["value"], color=kw["color"], linewidth=0.4, alpha=0.35, zorder=1)
                st = _stats(sub, ["x"], ddof).sort_values("x")
                # a fine course has a point every epoch or two: markers on every one would be a smear
                _band(ax, st, "x", kw, layout.label(arm, tv) if metric == "combined" else None,
                      markevery=max(1, len(st) // 8))
            if metric == "combined" and threshold is not None:
                ax.axhline(threshold, color="black", linewidth=0.8, linestyle=(0, (4, 2)), zorder=0,
                           label=f"response threshold ({threshold:g}%)")
            if layout.chance is not None:
                ax.axhline(layout.chance, color="0.5", linewidth=0.6, linestyle=(0, (2, 2)), zorder=0)
            ax.set(ylabel="Accuracy (%)", ylim=(0, 102))
            ax.set_title(name, loc="left")
        axes[1].set_xlabel("Treatment epoch (cumulative over training phases)")
        axes[1].xaxis.get_major_locator().set_params(integer=True)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=8)
        legend(fig, *axes[0].get_legend_handles_labels(), ncols=2)
        return finish(fig)


def response_curve(frame: pd.DataFrame, layout: Layout | None = None, title: str = "") -> Figure | None:
    """Share of seeds responded by treatment epoch (Kaplan-Meier, with its 95% band where an arm has
    two seeds or more), a step line per arm; a tick where a seed that never responded was last seen."""
    frame, layout = _prepared(frame, layout)
    seeds = response.per_seed(frame, layout)
    seeds = seeds[seeds["time"].notna()]
    if seeds.empty:
        return None
    with matplotlib.rc_context(RC):
        fig = new_figure(WIDTH, 3.0)
        ax = fig.subplots()
        keys = [(arm, tv) for _, arm, tv, _ in response.groups(seeds, layout)]
        styles = _styles(list(dict.fromkeys(keys)))
        for g, arm, tv, s in response.groups(seeds, layout):
            km = response.kaplan_meier(s)
            kw = styles[(arm, tv)]
            # from 0% just before epoch 0 (a seed can respond at epoch 0) to the last epoch any seed
            # was followed, so a curve whose seeds all responded at once still shows
            end = float(np.nanmax([s["time"].max(), s["last_epoch"].max()]))
            t = np.r_[-1e-9, km.cumulative_density_.index.to_numpy(float), end]
            cd = 100 * np.r_[0.0, km.cumulative_density_.iloc[:, 0].to_numpy(), km.cumulative_density_.iloc[-1, 0]]
            if len(s) >= 2:
                ci = 100 * km.confidence_interval_cumulative_density_.to_numpy()
                ci = np.vstack([[0.0, 0.0], ci, ci[-1:]])
                ax.fill_between(t, ci[:, 0], ci[:, 1], step="post", color=kw["color"], alpha=0.12, linewidth=0)
            label = f"{layout.label(arm, tv)} ({int(s['responded'].sum())}/{len(s)})"
            ax.step(t, cd, where="post", color=kw["color"], linestyle=kw["linestyle"], label=label)
            cens = s.loc[~s["responded"], "time"].to_numpy(float)
            if len(cens):
                ax.plot(cens, [100 * km.cumulative_density_at_times(c).iloc[0] for c in cens], linestyle="none",
                        marker="|", markersize=6, color=kw["color"])
        ax.set(xlabel="Treatment epoch", ylabel="Seeds responded (%)", ylim=(-2, 102))
        ax.xaxis.get_major_locator().set_params(integer=True)
        # a little room left of 0, so a rise at epoch 0 is not hidden by the axis
        lo, hi = ax.get_xlim()
        ax.set_xlim(-0.02 * hi, hi)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=8)
        legend(fig, *ax.get_legend_handles_labels(), ncols=2)
        return finish(fig)


def _short(name: str) -> str:
    return name.removeprefix("treatment.") if name.startswith("treatment.") else name.rsplit(".", 1)[-1]


def _spaced_labels(levels: np.ndarray, room: float = 0.06) -> list[str]:
    """A label per tick, blank where it would overlap its labelled neighbour (the last always shows)."""
    span = float(levels[-1] - levels[0]) or 1.0
    shown, last = [], None
    for v in levels[:-1]:
        ok = last is None or (v - last) / span >= room
        ok = ok and (levels[-1] - v) / span >= room
        shown.append(f"{v:g}" if ok else "")
        last = v if ok else last
    return shown + [f"{levels[-1]:g}"]


def dose_curve(frame: pd.DataFrame, axis: str, layout: Layout | None = None, ddof: int = 1, title: str = "",
               fits: pd.DataFrame | None = None) -> Figure | None:
    """Combined stress, extreme noise and relapse drop against a dose (``frame["dose"]``): mean ± SD
    per arm, a dot per seed; the fitted 4-parameter logistic of an arm where ``fits`` holds one."""
    frame, layout = _prepared(frame, layout)
    xe = frame.loc[frame["metric"] == "profile", "x"].max()
    f = frame[frame["section"].isin(["treated", "untreated", "relapse"])]
    if f.empty:
        return None
    keys = arm_keys(f, layout)
    styles = _styles(keys)
    levels = np.sort(f["dose"].unique())
    span = float(levels[-1] - levels[0]) or 1.0
    drew_fit = False
    with matplotlib.rc_context(RC):
        fig = new_figure(WIDTH, 5.8)
        axes = fig.subplots(3, 1, sharex=True)
        for ax, h in zip(axes, DOSE):
            section, metric = h.section, h.metric
            m = f[(f["metric"] == metric) & (f["section"].isin([section, "untreated"] if section == "treated"
                                                               else [section]))]
            if h.x == "extreme":
                m = m[np.isclose(m["x"].astype(float), xe)]
            for i, (arm, tv) in enumerate(keys):
                sub = select_arm(m, layout, arm, tv)
                if sub.empty:
                    continue
                kw = styles[(arm, tv)]
                # the seeds of each arm side by side, so arms at one dose do not hide each other
                dodge = (i - (len(keys) - 1) / 2) * 0.012 * span
                ax.scatter(sub["dose"] + dodge, sub["value"], s=5, color=kw["color"], alpha=0.45, linewidths=0,
                           zorder=1)
                st = _stats(sub, ["dose"], ddof).sort_values("dose")
                _band(ax, st, "dose", kw, layout.label(arm, tv) if section == "treated" else None,
                      clip=None if metric == "drop" else ACCURACY)
                drew_fit |= _fitted_line(ax, fits, layout.label(arm, tv), h.title, levels, kw["color"])
            ax.set_ylabel(h.title)
            if metric != "drop":
                ax.set_ylim(0, 102)
        if title:
            axes[0].set_title(title, loc="left")
        axes[-1].set_xlabel(axis)
        if len(levels) <= 12:
            axes[-1].set_xticks(levels, _spaced_labels(levels), rotation=45 if len(levels) > 6 else 0)
        handles, labels = axes[0].get_legend_handles_labels()
        if drew_fit:
            handles.append(Line2D([], [], color="0.3", linewidth=0.7))
            labels.append("4-parameter logistic fit")
        legend(fig, handles, labels, ncols=2)
        return finish(fig)


def _fitted_line(ax, fits: pd.DataFrame | None, label: str, measure: str, levels: np.ndarray, color: str) -> bool:
    """Draw an arm's fitted curve on its panel, if ``fits`` holds one that converged."""
    if fits is None or fits.empty:
        return False
    row = fits[(fits["Treatment"] == label) & (fits["Measure"] == measure) & fits["ok"]]
    if row.empty:
        return False
    from .study import curve

    xs = np.geomspace(levels[0], levels[-1], 200) if row["log"].iloc[0] else np.linspace(levels[0], levels[-1], 200)
    ax.plot(xs, curve(xs, row.iloc[0]), color=color, linewidth=0.7, alpha=0.9, zorder=4)
    return True


def phase_diagram(frame: pd.DataFrame, a: str, b: str, layout: Layout | None = None, ddof: int = 1,
                  title: str = "") -> Figure | None:
    """Mean combined stress over two doses (``frame["dose_a"]``, ``["dose_b"]``): a heatmap per arm,
    each cell its mean ± SD and n."""
    frame, layout = _prepared(frame, layout)
    f = frame[frame["section"].isin(["treated", "untreated"]) & (frame["metric"] == "combined")]
    f = f.dropna(subset=["dose_a", "dose_b"])
    if f.empty:
        return None
    keys = list(arm_keys(f, layout))
    xa, xb = np.sort(f["dose_a"].unique()), np.sort(f["dose_b"].unique())
    ncols = 2 if len(keys) == 4 else min(3, len(keys))
    nrows = -(-len(keys) // ncols)
    cell = min(0.36, 2.4 / max(len(xa), 1))
    width = WIDTH if ncols == 1 else 7.0   # more than one arm: two journal columns
    with matplotlib.rc_context(RC):
        fig = new_figure(width, 1.0 + nrows * max(1.7, 1.3 * cell * len(xb) + 0.9))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        image = None
        size = 5.0 if len(xa) <= 6 else 4.2
        for ax, (arm, tv) in zip(axes.flat, keys):
            sub = select_arm(f, layout, arm, tv)
            g = sub.groupby(["dose_b", "dose_a"])["value"]
            grid = g.mean().unstack().reindex(index=xb, columns=xa)
            ns = g.count().unstack().reindex(index=xb, columns=xa)
            sds = g.std(ddof=ddof).unstack().reindex(index=xb, columns=xa)
            image = ax.imshow(grid.to_numpy(), origin="lower", cmap="viridis", vmin=layout.chance or 0, vmax=100,
                              aspect="auto")
            for (i, j), v in np.ndenumerate(grid.to_numpy()):
                if np.isnan(v):
                    continue
                n, sd = int(ns.iat[i, j]), sds.iat[i, j]
                text = f"{v:.0f}" + (f"±{sd:.0f}" if n >= 2 and not np.isnan(sd) else "") + f"\nn={n}"
                ax.text(j, i, text, ha="center", va="center", fontsize=size, linespacing=1.0,
                        color="white" if v < 70 else "black")
            ax.set_title(layout.label(arm, tv), loc="left")
            ax.set_xticks(range(len(xa)), [f"{v:g}" for v in xa], rotation=90 if len(xa) > 6 else 0)
            ax.set_yticks(range(len(xb)), [f"{v:g}" for v in xb])
        for ax in axes.flat[len(keys):]:
            ax.set_visible(False)
        for i, ax in enumerate(axes.flat[:len(keys)]):
            if i + ncols >= len(keys):      # the lowest panel of its column
                ax.set_xlabel(a)
            if i % ncols == 0:
                ax.set_ylabel(b)
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=8)
        fig.colorbar(image, ax=axes, label="Combined stress, mean (%)", shrink=0.9)
        return finish(fig)


# -- every figure of a sweep -----------------------------------------------------------------


def slug(gvals: dict) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.=-]+", "-", f"{k}={v}") for k, v in gvals.items())


def dose_figures(frame: pd.DataFrame, layout: Layout, ddof: int, axes: list, fits: pd.DataFrame | None = None
                 ) -> list[tuple[str, Figure, str]]:
    """(name, figure, caption): a dose-response figure per numeric swept axis (one per combination
    of the other swept axes), and a phase diagram per pair of axes."""
    out = []
    sd = _sd_name(ddof)
    names = {a.name for a in axes}
    split = [g for g in layout.global_axes if g not in names]
    lay = layout.without(names)

    fmt = dose.show_value
    for axis in axes:
        others = [o for o in axes if o is not axis]
        for fixed, sub in dose.conditions(frame, axis, others, split):
            tag = dose.describe(fixed)
            stem = f"dose_{axis.name}" + (f"_{slug({_short(k): fmt(v) for k, v in fixed.items()})}" if fixed else "")
            here = None
            if fits is not None and len(fits):
                here = fits[(fits["axis"] == axis.name) & (fits["condition"] == tag)]
            fig = dose_curve(sub, axis.name, lay, ddof, title=tag, fits=here)
            if fig is not None:
                band = f"mean ± {sd} across seeds (bands), " if has_band(sub, lay) else "mean (one seed: no band), "
                fitted = "; thin lines: the fitted 4-parameter logistic" if here is not None and len(here) and \
                    here["ok"].any() else ""
                out.append((stem, fig, f"Dose response across `{axis.name}`" + (f" ({tag})" if tag else "")
                            + f": {band}a dot per seed; the untreated network in black where the axis applies to "
                              f"it{fitted}."))
    for a, b in itertools.combinations(axes, 2):
        others = [o for o in axes if o is not a and o is not b]
        for fixed, sub in dose.conditions(frame, a, others, split):
            sub = sub.rename(columns={"dose": "dose_a"}).assign(dose_b=lambda d: d["config_hash"].map(b.values))
            if b.treatment:
                sub = sub[~sub["arm"].isin(list(BASELINE_ARMS))]
            tag = dose.describe(fixed)
            stem = f"phase_{a.name}_{b.name}" + (f"_{slug({_short(k): fmt(v) for k, v in fixed.items()})}"
                                                 if fixed else "")
            fig = phase_diagram(sub, a.name, b.name, lay, ddof, title=tag)
            if fig is not None:
                out.append((stem, fig, f"Phase diagram: combined-stress accuracy over `{a.name}` x `{b.name}`"
                            + (f" ({tag})" if tag else "") + f", one panel per treatment; each cell its mean"
                            f" ± {sd} and n (seeds), coloured by the mean."))
    return out


def all_figures(frame: pd.DataFrame, layout: Layout, ddof: int, threshold: float | None,
                response_threshold: float | None = None) -> list[tuple[str, Figure, str]]:
    """(name, figure, caption) of every figure the data allow, one set per combination of the
    global swept axes, whose values each figure's title gives."""
    out = []
    g = layout.global_axes
    groups = [((), frame)] if not g else ranked(frame.groupby(g, sort=False))
    sd = _sd_name(ddof)
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        gv = dict(zip(g, key))
        title = dose.describe(gv)
        tag = f" ({', '.join(f'{k}={v}' for k, v in gv.items())})" if gv else ""
        suffix = f"_{slug(gv)}" if gv else ""
        bands = has_band(sub, layout)
        band = f"mean ± {sd} across seeds (bands)" if bands else "the value of the single seed (no band)"
        made = [
            ("profile", profile(sub, layout, ddof, title),
             f"Accuracy under internal noise{tag}: {band}; open markers, dotted: the same weights off drug."),
            ("longitudinal", longitudinal(sub, layout, ddof, threshold, title),
             f"Combined-stress accuracy per cycle{tag}: thin grey lines are single seeds, the marked line "
             + (f"and band the mean ± {sd}" if bands else "the mean") + "; dashed: relapse threshold."),
            ("sparsity", sparsity(sub, layout, ddof, title), f"Sparsity per cycle{tag}: {band}."),
            ("state_dependence", state_dependence(sub, layout, ddof, title),
             f"Modulated treatments on and off drug{tag}: bars "
             + (f"mean ± {sd}" if bands else "the mean") + ", dots single seeds."),
            ("onset", onset(sub, layout, ddof, response_threshold, title),
             f"Onset{tag}: accuracy by treatment epoch, {band} over thin single-seed "
             "lines; dashed: response threshold"
             + (f"; dotted: chance ({layout.chance:.3g}%)." if layout.chance is not None else ".")),
            ("response", response_curve(sub, layout, title),
             f"Response{tag}: share of seeds whose combined-stress accuracy has reached the threshold, by "
             "treatment epoch (Kaplan-Meier" + (", 95% band" if bands else "") + "; responders/seeds in the "
             "legend); ticks: seeds that never responded, censored at their last onset point."),
        ]
        out += [(f"{name}{suffix}", fig, c) for name, fig, c in made if fig is not None]
    return out
