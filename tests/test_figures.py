"""Figures: nothing cut off, the swept value in the title, accuracy within [0, 100], no band promised
that is not drawn, heatmap cells with their n."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.text import Text

from pruning_lab.analysis.arms import arms, infer, layout
from pruning_lab.analysis.dose import dose_axes
from pruning_lab.analysis.figures import DPI, all_figures, dose_figures
from pruning_lab.analysis.load import read_results

from .test_aggregate import configs, ev, result, write  # noqa: F401  (configs: a fixture)

LONG = "long_named_combination_regimen_with_bridge"


def stress_sweep(configs, folder, seeds=(0, 1)):  # noqa: F811
    """Every figure kind at once, with long labels: two sparsities (a global axis), two dampings of
    the neurosteroid (a treatment axis), a treatment with a long name, courses, onset, off drug;
    accuracies near 100 so that a ± SD band would pass it."""
    for sp in (0.9, 0.95):
        for seed in seeds:
            for v in (0.6, 0.7):
                def edit(c, sp=sp, v=v):
                    c["pathology"]["sparsity"] = sp
                    c["treatment"]["phases"][0]["damping"] = v
                write(folder / f"n{sp}{v}{seed}.json",
                      result(configs, seed, "neurosteroid", edit=edit, treated=ev(100.0 - 8 * seed, 95.0),
                             off=ev(99.0 - 9 * seed), course=[97.0, 90.0, 70.0 + seed], onset=[40.0, 85.0, 99.0]))

            def edit(c, sp=sp):
                c["pathology"]["sparsity"] = sp
            write(folder / f"c{sp}{seed}.json",
                  result(configs, seed, LONG, edit=edit, treated=ev(99.5 - seed), course=[97.0, 80.0, 60.0 + seed],
                         onset=[40.0, 60.0, 90.0]))
    return folder


@pytest.fixture(scope="module")
def drawn(configs, tmp_path_factory):  # noqa: F811
    """(name, figure, caption) of every figure of the stress sweep."""
    rs = read_results(stress_sweep(configs, tmp_path_factory.mktemp("fig")))
    frame, lay = arms(rs), layout(rs)
    axes, _ = dose_axes(rs)
    made = all_figures(frame, lay, 1, 80.0, 80.0) + dose_figures(frame, lay, 1, axes)
    yield made
    for _, fig, _ in made:
        fig.clear()


def drawn_texts(fig) -> list[Text]:
    """The texts a draw paints: visible, not empty, and no tick label of a tick outside its axis."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = 1e-9 * (abs(lo) + abs(hi) + 1)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - eps <= tick.get_loc() <= hi + eps:
                    hidden |= {tick.label1, tick.label2}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t not in hidden
            and (t.axes is None or t.axes.get_visible())]


KINDS = ("profile", "longitudinal", "sparsity", "state_dependence", "onset", "response", "dose", "phase")


def test_every_figure_kind_is_drawn(drawn):
    names = [name for name, _, _ in drawn]
    for kind in KINDS:
        assert any(n.startswith(kind) for n in names), kind


def test_every_text_lies_inside_the_saved_image(drawn):
    """Drawn as saved (300 dpi, the whole figure: no bbox_inches), no text leaves the image: not the
    legends of long labels, not the panel titles of the longitudinal figure."""
    for name, fig, _ in drawn:
        dpi = fig.get_dpi()
        fig.set_dpi(DPI)
        try:
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            box = fig.bbox
            texts = drawn_texts(fig)
            assert len(texts) > 5, name
            for t in texts:
                e = t.get_window_extent(renderer)
                inside = e.x0 >= box.x0 - 1 and e.x1 <= box.x1 + 1 and e.y0 >= box.y0 - 1 and e.y1 <= box.y1 + 1
                assert inside, f"{name}: {t.get_text()!r} at {e.extents} outside {box.extents}"
            # and, independently of how the texts were picked, all that is drawn fits the figure
            tight = fig.get_tightbbox(renderer)
            w, h = fig.get_size_inches()
            assert tight.x0 >= -0.01 and tight.y0 >= -0.01 and tight.x1 <= w + 0.01 and tight.y1 <= h + 0.01, name
        finally:
            fig.set_dpi(dpi)


def test_a_figure_per_swept_value_says_the_value_in_its_title(drawn):
    titles = {name: (fig._suptitle.get_text() if fig._suptitle else "") for name, fig, _ in drawn}
    for kind in ("profile", "longitudinal", "sparsity", "state_dependence", "onset", "response"):
        assert titles[f"{kind}_pathology.sparsity=0.9"] == "pathology.sparsity = 0.9"
        assert titles[f"{kind}_pathology.sparsity=0.95"] == "pathology.sparsity = 0.95"
    figs = {name: fig for name, fig, _ in drawn}
    assert figs["dose_treatment.damping_sparsity=0.9"].axes[0].get_title(loc="left") == "pathology.sparsity = 0.9"
    assert figs["dose_pathology.sparsity_damping=0.6"].axes[0].get_title(loc="left") == "treatment.damping = 0.6"


def polygon_ys(ax) -> np.ndarray:
    return np.concatenate([p.vertices[:, 1] for c in ax.collections if isinstance(c, PolyCollection)
                           for p in c.get_paths()])


def test_accuracy_bands_and_error_bars_stay_within_0_and_100(drawn):
    figs = {name: fig for name, fig, _ in drawn}
    # the neurosteroid's treated accuracy is 100 and 92: mean 96 ± 5.7 would reach 101.7
    ys = polygon_ys(figs["profile_pathology.sparsity=0.9"].axes[0])
    assert ys.max() == pytest.approx(100.0) and ys.min() >= 0.0
    ys = polygon_ys(figs["dose_pathology.sparsity_damping=0.6"].axes[0])
    assert ys.max() == pytest.approx(100.0)
    state = figs["state_dependence_pathology.sparsity=0.9"].axes[0]
    tops = [seg[:, 1].max() for c in state.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
    assert tops and max(tops) == pytest.approx(100.0)


def test_a_band_that_cannot_be_drawn_is_not_promised(configs, tmp_path):  # noqa: F811
    """One seed: no SD, so no band drawn, named in a legend or promised by a caption."""
    rs = read_results(stress_sweep(configs, tmp_path, seeds=(0,)))
    frame, lay = arms(rs), layout(rs)
    made = {name: (fig, caption) for name, fig, caption in all_figures(frame, lay, 1, 80.0, 80.0)}
    fig, caption = made["profile_pathology.sparsity=0.9"]
    assert not [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert "band" not in caption.replace("no band", "")
    fig, caption = made["longitudinal_pathology.sparsity=0.9"]
    assert "± SD" not in [t.get_text() for t in fig.legends[0].get_texts()]
    assert "band" not in caption
    fig, caption = made["response_pathology.sparsity=0.9"]
    assert "95% band" not in caption and not fig.axes[0].collections


def test_heatmap_cells_show_their_mean_sd_and_n(drawn):
    phase = {name: fig for name, fig, _ in drawn}["phase_pathology.sparsity_treatment.damping"]
    cells = [t.get_text() for ax in phase.axes for t in ax.texts]
    # neurosteroid combined stress 100 and 92 at every cell: 96 ± 6 over 2 seeds
    assert cells and all(c == "96±6\nn=2" for c in cells), cells


def test_a_figure_from_the_tidy_frame_alone(configs, tmp_path):  # noqa: F811
    """From load_results' frame (numbers for axes, no arms, no layout): the same arms and labels."""
    from pruning_lab.analysis.figures import profile
    from pruning_lab.analysis.load import load_results

    frame = load_results(stress_sweep(configs, tmp_path))
    fig = profile(frame[frame["pathology.sparsity"] == 0.9])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:3] == ["Untreated (pruned)", "Neurosteroid-like (damping=0.6)",
                          "Neurosteroid-like (damping=0.6) (off drug)"]
    untreated = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "Untreated (pruned)"][0]
    assert list(untreated.get_ydata()) == pytest.approx([30.5] * 5)     # 30 + seed, two seeds


def test_the_course_and_chance_are_labelled_from_the_runs_configs(configs, tmp_path):  # noqa: F811
    """Five classes: chance is 20%; a course that prunes 20% or 30% a cycle says which, figure by figure."""
    from pruning_lab.analysis.load import load_results

    for frac in (0.2, 0.3):
        for seed in (0, 1):
            def edit(c, frac=frac):
                c["longitudinal"]["prune_fraction"] = frac
                c["model"]["classes"] = 5
            write(tmp_path / f"k{frac}{seed}.json", result(configs, seed, edit=edit, course=[97.0, 90.0]))
    rs = read_results(tmp_path)
    made = {name: fig for name, fig, _ in all_figures(arms(rs), layout(rs), 1, 80.0)}
    for frac in ("0.2", "0.3"):
        cycle = made[f"sparsity_longitudinal.prune-fraction={frac}"].axes[0].get_xlabel()
        assert cycle == f"Cycle (each prunes {float(frac):.0%} of surviving weights)"
    profile = made["profile_longitudinal.prune-fraction=0.2"].axes[0]
    assert " chance (20%)" in [t.get_text() for t in profile.texts]
    assert [line.get_ydata()[0] for line in profile.get_lines() if line.get_label().startswith("_")] == [20.0]
    # a tidy frame knows what its runs share: one prune fraction here
    one = load_results(tmp_path / "k0.20.json")
    made = {name: fig for name, fig, _ in all_figures(*infer(one), 1, 80.0)}
    assert made["sparsity"].axes[0].get_xlabel() == "Cycle (each prunes 20% of surviving weights)"
