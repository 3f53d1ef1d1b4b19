"""The arms and the measures, in one place for the tables, the figures and the reports: their
names, labels, order, styles and units.

An arm is a treatment, or one of the baselines every treatment of a seed shares (the healthy
and the untreated network). A treatment's label is its config's, which its results record; the
registry labels what no config names: the baselines and the off-drug state.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    name: str
    color: str
    marker: str
    linestyle: str | tuple
    label: str | None = None  # a baseline's; a treatment is labelled as its results say
    baseline: bool = False    # from every job's own baseline rather than from its treatment

    @property
    def style(self) -> dict:
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}


# in the papers' order, in the Okabe-Ito palette; every arm has its own marker and line style
# too, so a figure reads in black and white
ARMS = {a.name: a for a in (
    Arm("healthy", "#000000", "*", "-", "Healthy (dense)", baseline=True),
    Arm("untreated", "#000000", "x", ":", "Untreated (pruned)", baseline=True),
    Arm("ketamine", "#0072B2", "o", "-"),
    Arm("ssri", "#E69F00", "s", "--"),
    Arm("neurosteroid", "#009E73", "^", "-."),
)}
BASELINE_ARMS = {a.name: a.label for a in ARMS.values() if a.baseline}
PAPER_TREATMENTS = tuple(a.name for a in ARMS.values() if not a.baseline)
# what an arm outside the registry (or one shown twice, at other knob values) is drawn in, in turn
EXTRA_STYLES = [{"color": c, "marker": m, "linestyle": ls} for c, m, ls in (
    ("#CC79A7", "D", (0, (3, 1, 1, 1, 1, 1))), ("#D55E00", "v", (0, (5, 2))), ("#56B4E9", "P", (0, (1, 1))),
    ("#999999", "h", (0, (4, 1, 1, 1))), ("#E69F00", ">", (0, (6, 2, 1, 2))), ("#009E73", "p", (0, (2, 2))),
    ("#0072B2", "X", (0, (8, 2))), ("#F0E442", "<", (0, (3, 3))))]

# a modulated network on drug and off it (the same weights, the modulation removed)
ON_DRUG, OFF_DRUG = "on drug", "off drug"
OFF_DRUG_STYLE = {"linestyle": (0, (1, 1.5)), "markerfacecolor": "white"}  # over the arm's own


def style(arm: str, extra: int = 0) -> dict:
    """An arm's colour, marker and line style; ``extra``: which of the others an unknown arm takes."""
    return ARMS[arm].style if arm in ARMS else EXTRA_STYLES[extra % len(EXTRA_STYLES)]


def rank(value) -> tuple:
    """A sort key: the registry's arms in the papers' order, then numbers as numbers, then text."""
    if value in ARMS:
        return 0, list(ARMS).index(value), ""
    try:
        return 1, float(value), ""
    except (TypeError, ValueError):
        return 2, 0.0, str(value)


def order_key(values):
    """``rank`` of each value of a Series (``sort_values(key=order_key)``)."""
    return values.map(rank)


def ranked(groups):
    """``(key, part)`` pairs of a groupby (keys of one value or tuples) in ``rank`` order."""
    return sorted(groups, key=lambda kv: [rank(v) for v in (kv[0] if isinstance(kv[0], tuple) else (kv[0],))])


# -- measures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    section: str           # the result's metrics section it is read from (treated: the arm's own)
    metric: str
    label: str
    unit: str              # %: an accuracy or a share of weights; pp: percentage points of accuracy
    better: int = 1        # +1: higher is better, -1: lower is
    x: str | None = None   # "extreme": the stress profile's largest σ

    @property
    def title(self) -> str:
        return f"{self.label} ({self.unit})"


SPARSITY = Measure("treated", "sparsity", "Sparsity", "%", better=0)  # neither
CLEAN = Measure("treated", "clean", "Clean", "%")
STANDARD = Measure("treated", "standard", "Standard", "%")
COMBINED = Measure("treated", "combined", "Combined stress", "%")
EXTREME = Measure("treated", "profile", "Extreme internal noise", "%", x="extreme")
RELAPSE_DROP = Measure("relapse", "drop", "Acute relapse drop", "pp", better=-1)
FINAL = Measure("longitudinal", "final", "Final accuracy, last cycle", "%")
TOTAL_DROP = Measure("longitudinal", "total_drop", "Total longitudinal drop", "pp", better=-1)

EVALUATION = (SPARSITY, CLEAN, STANDARD, COMBINED)  # what every evaluation of a network scores
HEADLINE = (COMBINED, EXTREME, RELAPSE_DROP, FINAL, TOTAL_DROP)
DOSE = (COMBINED, EXTREME, RELAPSE_DROP)             # the panels of a dose-response figure
FITTED = (COMBINED, EXTREME)                         # the accuracies a dose-response curve is fitted to

# the stress profile's internal-noise levels, as the papers name them
NOISE_LEVELS = {0.0: "No noise", 0.5: "Moderate", 1.0: "High", 1.5: "Severe", 2.5: "Extreme"}
NOISE_AXIS = "Internal noise σ (SD, hidden-activation units)"
