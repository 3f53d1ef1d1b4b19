"""Figures for a journal column (3.5 in wide), PNG and SVG, readable in black and white.

Every arm has its own marker and line style as well as colour (Okabe-Ito palette); bands are
mean ± SD across seeds with the report's SD convention.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on workers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from . import dose, response  # noqa: E402
from .arms import Layout  # noqa: E402
from .load import order_key  # noqa: E402

WIDTH = 3.5  # inches: one journal column
RC = {"font.size": 8, "axes.labelsize": 8, "axes.titlesize": 8, "legend.fontsize": 6.5,
      "xtick.labelsize": 7, "ytick.labelsize": 7, "lines.linewidth": 1.2, "lines.markersize": 4,
      "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 300, "svg.fonttype": "none",
      "legend.frameon": False}
STYLES = {"untreated": ("#000000", "x", ":"), "healthy": ("#000000", "*", "-"),
          "ketamine": ("#0072B2", "o", "-"), "ssri": ("#E69F00", "s", "--"), "neurosteroid": ("#009E73", "^", "-.")}
EXTRA = [("#CC79A7", "D", (0, (3, 1, 1, 1, 1, 1))), ("#D55E00", "v", (0, (5, 2))), ("#56B4E9", "P", (0, (1, 1))),
         ("#999999", "h", (0, (4, 1, 1, 1)))]
NOISE_LABEL = "Internal noise σ (SD, hidden-activation units)"


def style(arm: str, i: int = 0) -> dict:
    color, marker, ls = STYLES.get(arm) or EXTRA[i % len(EXTRA)]
    return {"color": color, "marker": marker, "linestyle": ls}


def _save(fig, folder: Path, stem: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{stem}.png"
    # constrained layout already fits everything; a "tight" bbox would lay the figure out twice more
    fig.savefig(png)
    fig.savefig(folder / f"{stem}.svg")
    plt.close(fig)
    return png


def _stats(frame: pd.DataFrame, by: list[str], ddof: int) -> pd.DataFrame:
    g = frame.groupby(by, dropna=False)["value"]
    out = g.agg(mean="mean", n="count").reset_index()
    out["sd"] = g.std(ddof=ddof).fillna(0.0).to_numpy()
    return out


def _arm_keys(frame: pd.DataFrame, layout: Layout) -> list[tuple[str, tuple]]:
    keys = frame[["arm", *layout.treatment_axes]].drop_duplicates()
    keys = keys.sort_values(list(keys.columns), key=order_key)
    return [(r[0], tuple(r[1:])) for r in keys.itertuples(index=False)]


def _select(frame: pd.DataFrame, layout: Layout, arm: str, tv: tuple) -> pd.DataFrame:
    m = frame["arm"] == arm
    for a, v in zip(layout.treatment_axes, tv):
        m &= frame[a] == v
    return frame[m]


def _styles(keys: list[tuple[str, tuple]]) -> dict:
    """Known arms keep their style; others, and repeated arms under other axis values, take the next."""
    out, extra, seen = {}, 0, set()
    for arm, tv in keys:
        if arm in STYLES and arm not in seen:
            out[(arm, tv)] = style(arm)
        else:
            out[(arm, tv)] = style("", extra)
            extra += 1
        seen.add(arm)
    return out


def profile(frame: pd.DataFrame, layout: Layout, ddof: int, folder: Path, stem: str) -> Path | None:
    """Accuracy vs internal noise, mean ± SD band per arm; off-drug as open markers."""
    f = frame[(frame["metric"] == "profile") & frame["section"].isin(["untreated", "treated", "off_drug"])]
    if f.empty:
        return None
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(WIDTH, 3.1), layout="constrained")
        keys = _arm_keys(f, layout)
        styles = _styles(keys)
        for (arm, tv) in keys:
            sub = _select(f, layout, arm, tv)
            for section in ("untreated", "treated", "off_drug"):
                s = sub[sub["section"] == section]
                if s.empty:
                    continue
                st = _stats(s, ["x"], ddof).sort_values("x")
                kw = dict(styles[(arm, tv)])
                label = layout.label(arm, tv)
                if section == "off_drug":
                    kw.update(linestyle=(0, (1, 1.5)), markerfacecolor="white")
                    label += " (off drug)"
                ax.plot(st["x"], st["mean"], label=label, **kw)
                ax.fill_between(st["x"], st["mean"] - st["sd"], st["mean"] + st["sd"], color=kw["color"],
                                alpha=0.15, linewidth=0)
        ax.axhline(25, color="0.5", linewidth=0.6, linestyle=(0, (2, 2)))
        # at the left edge, below the line: the right end is where the untreated curve ends near chance
        ax.text(ax.get_xlim()[0], 24, " chance (25%)", ha="left", va="top", fontsize=6, color="0.4")
        ax.set(xlabel=NOISE_LABEL, ylabel="Accuracy (%)", ylim=(0, 102))
        # below the axes: inside, it would hide the curves it names
        fig.legend(loc="outside lower center", ncols=2)
        return _save(fig, folder, stem)


def longitudinal(frame: pd.DataFrame, layout: Layout, ddof: int, threshold: float | None, folder: Path,
                 stem: str) -> Path | None:
    """Combined-stress accuracy per cycle: one panel per arm, thin line per seed, mean ± SD."""
    f = frame[(frame["section"] == "longitudinal") & (frame["metric"] == "combined")]
    if f.empty:
        return None
    keys = _arm_keys(f, layout)
    styles = _styles(keys)
    relapsed = frame[(frame["section"] == "longitudinal") & (frame["metric"] == "relapsed")]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(keys), 1, figsize=(WIDTH, 0.6 + 1.5 * len(keys)), sharex=True, sharey=True,
                                 squeeze=False, layout="constrained")
        lo = max(0.0, float(f["value"].min()) - 5)
        for ax, (arm, tv) in zip(axes[:, 0], keys):
            sub = _select(f, layout, arm, tv)
            kw = styles[(arm, tv)]
            for _, s in sub.groupby("seed"):
                s = s.sort_values("x")
                ax.plot(s["x"], s["value"], color="0.55", linewidth=0.5, alpha=0.8, zorder=1)
            st = _stats(sub, ["x"], ddof).sort_values("x")
            ax.fill_between(st["x"], st["mean"] - st["sd"], st["mean"] + st["sd"], color=kw["color"], alpha=0.2,
                            linewidth=0, zorder=2)
            ax.plot(st["x"], st["mean"], zorder=3, **kw)
            if threshold is not None:
                ax.axhline(threshold, color="black", linewidth=0.8, linestyle=(0, (4, 2)), zorder=0)
            r = _select(relapsed, layout, arm, tv)
            n, k = sub["seed"].nunique(), int(r["value"].sum())
            ax.set_title(f"{layout.label(arm, tv)}: n = {n} seeds, {k} relapsed", loc="left")
            ax.set_ylim(lo, 100.5)
            ax.set_ylabel("Combined stress (%)")
        handles = [Line2D([], [], color="0.55", linewidth=0.5, label="single seed"),
                   Line2D([], [], color="black", marker="o", label="mean"),
                   Patch(facecolor="0.75", label="± SD")]
        if threshold is not None:
            handles.append(Line2D([], [], color="black", linewidth=0.8, linestyle=(0, (4, 2)),
                                  label=f"relapse threshold ({threshold:g}%)"))
        fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), handlelength=1.8,
                   columnspacing=1.0)
        axes[-1, 0].set_xlabel("Cycle (each prunes 10% of surviving weights)")
        axes[-1, 0].xaxis.get_major_locator().set_params(integer=True)
        return _save(fig, folder, stem)


def sparsity(frame: pd.DataFrame, layout: Layout, ddof: int, folder: Path, stem: str) -> Path | None:
    """Sparsity per cycle, mean ± SD per arm."""
    f = frame[(frame["section"] == "longitudinal") & (frame["metric"] == "sparsity")]
    if f.empty:
        return None
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(WIDTH, 2.7), layout="constrained")
        keys = _arm_keys(f, layout)
        styles = _styles(keys)
        for arm, tv in keys:
            st = _stats(_select(f, layout, arm, tv), ["x"], ddof).sort_values("x")
            kw = styles[(arm, tv)]
            ax.plot(st["x"], st["mean"], label=layout.label(arm, tv), **kw)
            ax.fill_between(st["x"], st["mean"] - st["sd"], st["mean"] + st["sd"], color=kw["color"], alpha=0.15,
                            linewidth=0)
        ax.set(xlabel="Cycle (each prunes 10% of surviving weights)", ylabel="Sparsity (% of weights zero)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        fig.legend(loc="outside lower center", ncols=2)
        return _save(fig, folder, stem)


def state_dependence(frame: pd.DataFrame, layout: Layout, ddof: int, folder: Path, stem: str) -> Path | None:
    """On vs off drug for every modulated arm: bars (hatched = off) ± SD, a dot per seed."""
    off = frame[frame["section"] == "off_drug"]
    if off.empty:
        return None
    keys = _arm_keys(off, layout)
    xe = float(frame.loc[frame["metric"] == "profile", "x"].max())
    measures = [("clean", None, "Clean"), ("standard", None, "Standard"), ("combined", None, "Combined\nstress"),
                ("profile", xe, f"Extreme\nσ = {xe:g}")]
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(keys), 1, figsize=(WIDTH, 0.5 + 2.0 * len(keys)), squeeze=False, sharex=True,
                                 layout="constrained")
        for ax, (arm, tv) in zip(axes[:, 0], keys):
            sub = _select(frame, layout, arm, tv)
            for j, (section, hatch, face, name) in enumerate((("treated", "", "white", "on drug"),
                                                              ("off_drug", "////", "0.75", "off drug"))):
                means, sds = [], []
                for i, (metric, x, _) in enumerate(measures):
                    v = sub[(sub["section"] == section) & (sub["metric"] == metric)]
                    v = v[v["x"] == x] if x is not None else v
                    vals = v["value"].to_numpy()
                    means.append(vals.mean() if len(vals) else np.nan)
                    sds.append(vals.std(ddof=ddof) if len(vals) > ddof else 0.0)
                    pos = i + (j - 0.5) * 0.38
                    ax.scatter(pos + rng.uniform(-0.07, 0.07, len(vals)), vals, s=5, color="black", zorder=3,
                               linewidths=0)
                pos = np.arange(len(measures)) + (j - 0.5) * 0.38
                ax.bar(pos, means, width=0.36, yerr=sds, capsize=2, color=face, edgecolor="black", hatch=hatch,
                       linewidth=0.7, label=name, error_kw={"elinewidth": 0.7}, zorder=2)
            ax.set_xticks(range(len(measures)), [m[2] for m in measures])
            ax.set(ylabel="Accuracy (%)", ylim=(0, 105))
            ax.set_title(f"{layout.label(arm, tv)} (n = {sub['seed'].nunique()} seeds)", loc="left")
        handles = [Patch(facecolor="white", edgecolor="black", label="on drug"),
                   Patch(facecolor="0.75", edgecolor="black", hatch="////", label="off drug"),
                   Line2D([], [], color="black", marker="o", markersize=2, linestyle="none", label="single seed")]
        fig.legend(handles=handles, loc="outside upper center", ncols=3)
        return _save(fig, folder, stem)


def _band(ax, st: pd.DataFrame, x: str, kw: dict, label: str | None, alpha: float = 0.15, **line) -> None:
    ax.fill_between(st[x], st["mean"] - st["sd"], st["mean"] + st["sd"], color=kw["color"], alpha=alpha,
                    linewidth=0, zorder=2)
    ax.plot(st[x], st["mean"], label=label, zorder=3, **{**kw, **line})


def onset(frame: pd.DataFrame, layout: Layout, ddof: int, threshold: float | None, folder: Path,
          stem: str) -> Path | None:
    """Accuracy during treatment, by treatment epoch: combined stress and extreme noise, mean ± SD
    per arm over thin per-seed lines; the response threshold dashed."""
    f = frame[frame["section"] == "onset"]
    if f.empty:
        return None
    keys = _arm_keys(f, layout)
    styles = _styles(keys)
    panels = [("combined", "Combined stress"), ("extreme", "Extreme internal noise")]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 4.4), sharex=True, layout="constrained")
        for ax, (metric, title) in zip(axes, panels):
            m = f[f["metric"] == metric]
            for arm, tv in keys:
                sub = _select(m, layout, arm, tv)
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
            ax.axhline(25, color="0.5", linewidth=0.6, linestyle=(0, (2, 2)), zorder=0)
            ax.set(ylabel="Accuracy (%)", ylim=(0, 102))
            ax.set_title(title, loc="left")
        axes[1].set_xlabel("Treatment epoch (cumulative over training phases)")
        axes[1].xaxis.get_major_locator().set_params(integer=True)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
        return _save(fig, folder, stem)


def response_curve(frame: pd.DataFrame, layout: Layout, folder: Path, stem: str) -> Path | None:
    """Share of seeds responded by treatment epoch (Kaplan-Meier, 95% band), a step line per arm;
    a tick where a seed that never responded was last seen."""
    seeds = response.per_seed(frame, layout)
    seeds = seeds[seeds["time"].notna()]
    if seeds.empty:
        return None
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(WIDTH, 3.0), layout="constrained")
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
        # labels carry "(responders/seeds)": two long ones side by side overflow the figure's width
        long = max(len(t) for t in ax.get_legend_handles_labels()[1]) > 28
        fig.legend(loc="outside lower center", ncols=1 if long else 2)
        return _save(fig, folder, stem)


DOSE_MEASURES = [("treated", "combined", None, "Combined stress (%)"),
                 ("treated", "profile", "extreme", "Extreme noise (%)"),
                 ("relapse", "drop", None, "Acute relapse drop (pp)")]


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


def dose_curve(frame: pd.DataFrame, layout: Layout, ddof: int, axis: str, folder: Path, stem: str,
               title: str = "") -> Path | None:
    """Combined stress, extreme noise and relapse drop against a dose (``frame["dose"]``): mean ± SD
    per arm, a dot per seed."""
    xe = frame.loc[frame["metric"] == "profile", "x"].max()
    f = frame[frame["section"].isin(["treated", "untreated", "relapse"])]
    if f.empty:
        return None
    keys = _arm_keys(f, layout)
    styles = _styles(keys)
    levels = np.sort(f["dose"].unique())
    span = float(levels[-1] - levels[0]) or 1.0
    with plt.rc_context(RC):
        fig, axes = plt.subplots(3, 1, figsize=(WIDTH, 5.6), sharex=True, layout="constrained")
        for ax, (section, metric, x, ylabel) in zip(axes, DOSE_MEASURES):
            m = f[(f["metric"] == metric) & (f["section"].isin([section, "untreated"] if section == "treated"
                                                               else [section]))]
            if x == "extreme":
                m = m[np.isclose(m["x"].astype(float), xe)]
            for i, (arm, tv) in enumerate(keys):
                sub = _select(m, layout, arm, tv)
                if sub.empty:
                    continue
                kw = styles[(arm, tv)]
                # the seeds of each arm side by side, so arms at one dose do not hide each other
                dodge = (i - (len(keys) - 1) / 2) * 0.012 * span
                ax.scatter(sub["dose"] + dodge, sub["value"], s=5, color=kw["color"], alpha=0.45, linewidths=0,
                           zorder=1)
                st = _stats(sub, ["dose"], ddof).sort_values("dose")
                _band(ax, st, "dose", kw, layout.label(arm, tv) if section == "treated" else None)
            ax.set_ylabel(ylabel)
            if metric != "drop":
                ax.set_ylim(0, 102)
        if title:
            axes[0].set_title(title, loc="left")
        axes[-1].set_xlabel(axis)
        if len(levels) <= 12:
            axes[-1].set_xticks(levels, _spaced_labels(levels), rotation=45 if len(levels) > 6 else 0)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
        return _save(fig, folder, stem)


def phase_diagram(frame: pd.DataFrame, layout: Layout, a: str, b: str, folder: Path, stem: str,
                  title: str = "") -> Path | None:
    """Mean combined stress over two doses (``frame["dose_a"]``, ``["dose_b"]``): a heatmap per arm."""
    f = frame[frame["section"].isin(["treated", "untreated"]) & (frame["metric"] == "combined")]
    f = f.dropna(subset=["dose_a", "dose_b"])
    if f.empty:
        return None
    keys = [k for k in _arm_keys(f, layout)]
    xa, xb = np.sort(f["dose_a"].unique()), np.sort(f["dose_b"].unique())
    ncols = 2 if len(keys) == 4 else min(3, len(keys))
    nrows = -(-len(keys) // ncols)
    cell = min(0.32, 2.4 / max(len(xa), 1))
    width = WIDTH if ncols == 1 else 7.0   # more than one arm: two journal columns
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, 0.9 + nrows * max(1.6, cell * len(xb) + 0.9)),
                                 squeeze=False, layout="constrained")
        image = None
        for ax, (arm, tv) in zip(axes.flat, keys):
            sub = _select(f, layout, arm, tv)
            grid = sub.groupby(["dose_b", "dose_a"])["value"].mean().unstack().reindex(index=xb, columns=xa)
            image = ax.imshow(grid.to_numpy(), origin="lower", cmap="viridis", vmin=25, vmax=100, aspect="auto")
            for (i, j), v in np.ndenumerate(grid.to_numpy()):
                if not np.isnan(v):
                    ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=5.5,
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
        return _save(fig, folder, stem)


def dose_figures(frame: pd.DataFrame, layout: Layout, ddof: int, axes: list, folder: Path
                 ) -> list[tuple[Path, str]]:
    """A dose-response figure per numeric swept axis (one per combination of the other swept axes),
    and a phase diagram per pair of axes."""
    out = []
    sd = "SD" if ddof == 1 else "population SD"
    merged = {k for a in axes for k in a.keys}
    for axis in axes:
        others = [o for o in axes if o is not axis]
        lay = Layout(layout.global_axes, [t for t in layout.treatment_axes if t not in merged], layout.labels)
        for fixed, sub in dose.conditions(frame, axis, others):
            tag = ", ".join(f"{_short(k)}={v:g}" for k, v in fixed.items())
            stem = f"dose_{axis.name}" + (f"_{slug({_short(k): f'{v:g}' for k, v in fixed.items()})}" if fixed else "")
            p = dose_curve(sub, lay, ddof, axis.name, folder, stem, title=tag)
            if p is not None:
                out.append((p, f"Dose response across `{axis.name}`" + (f" ({tag})" if tag else "")
                            + f": mean ± {sd} across seeds (bands), a dot per seed; the untreated network in "
                              "black where the axis applies to it."))
    for a, b in itertools.combinations(axes, 2):
        others = [o for o in axes if o is not a and o is not b]
        lay = Layout(layout.global_axes, [t for t in layout.treatment_axes if t not in merged], layout.labels)
        for fixed, sub in dose.conditions(frame, a, others):
            sub = sub.rename(columns={"dose": "dose_a"}).assign(dose_b=lambda d: d["config_hash"].map(b.values))
            if b.treatment:
                sub = sub[~sub["arm"].isin(["untreated", "healthy"])]
            tag = ", ".join(f"{_short(k)}={v:g}" for k, v in fixed.items())
            stem = f"phase_{a.name}_{b.name}" + (f"_{slug({_short(k): f'{v:g}' for k, v in fixed.items()})}"
                                                 if fixed else "")
            p = phase_diagram(sub, lay, a.name, b.name, folder, stem, title=tag)
            if p is not None:
                out.append((p, f"Phase diagram: mean combined-stress accuracy over `{a.name}` x `{b.name}`"
                            + (f" ({tag})" if tag else "") + ", one panel per treatment."))
    return out


def slug(gvals: dict) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.=-]+", "-", f"{k}={v}") for k, v in gvals.items())


def all_figures(frame: pd.DataFrame, layout: Layout, ddof: int, threshold: float | None, folder: Path,
                response_threshold: float | None = None) -> list[tuple[Path, str]]:
    """Every figure the data allow, one set per combination of the global swept axes."""
    out = []
    g = layout.global_axes
    groups = [((), frame)] if not g else list(frame.groupby(g, sort=False))
    groups.sort(key=lambda kv: [order_key(pd.Series([v]))[0] for v in (kv[0] if isinstance(kv[0], tuple) else (kv[0],))])
    sd = "SD" if ddof == 1 else "population SD"
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        gv = dict(zip(g, key))
        tag = f" ({', '.join(f'{k}={v}' for k, v in gv.items())})" if gv else ""
        suffix = f"_{slug(gv)}" if gv else ""
        made = [
            (profile(sub, layout, ddof, folder, f"profile{suffix}"),
             f"Accuracy under internal noise{tag}: mean ± {sd} across seeds (bands); open markers, dotted: "
             "the same weights off drug."),
            (longitudinal(sub, layout, ddof, threshold, folder, f"longitudinal{suffix}"),
             f"Combined-stress accuracy per cycle{tag}: thin grey lines are single seeds, the marked line and "
             f"band the mean ± {sd}; dashed: relapse threshold."),
            (sparsity(sub, layout, ddof, folder, f"sparsity{suffix}"),
             f"Sparsity per cycle{tag}: mean ± {sd} across seeds."),
            (state_dependence(sub, layout, ddof, folder, f"state_dependence{suffix}"),
             f"Modulated treatments on and off drug{tag}: bars mean ± {sd}, dots single seeds."),
            (onset(sub, layout, ddof, response_threshold, folder, f"onset{suffix}"),
             f"Onset{tag}: accuracy by treatment epoch, mean ± {sd} across seeds (bands) over thin single-seed "
             "lines; dashed: response threshold; dotted: chance (25%)."),
            (response_curve(sub, layout, folder, f"response{suffix}"),
             f"Response{tag}: share of seeds whose combined-stress accuracy has reached the threshold, by "
             "treatment epoch (Kaplan-Meier, 95% band; responders/seeds in the legend); ticks: seeds that "
             "never responded, censored at their last onset point."),
        ]
        out += [(p, c) for p, c in made if p is not None]
    return out
