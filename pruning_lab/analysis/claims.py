"""The papers' claims (``experiments/paper<N>/claims.csv``) tested on our seeds.

Each line of a claims file compares two sides (an arm's measure against another's, or against
a constant) with a relation, a margin and a test; its grammar is in experiments/paper2/README.md.
A line holds, fails, or is not shown at this n by its confidence intervals; a side the results
lack (an arm not run, no longitudinal course) makes it "not run". A claim holds when all its
lines hold and fails when one fails.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import ConfigError
from .margins import lines, number, side as check_side
from .published import EXPERIMENTS
from .measures import BASELINE_ARMS
from .stats import paired_risk_difference, sd_ratio, t_interval, wilson

COLUMNS = ("id", "claim", "statement", "left_arm", "left_metric", "left_x", "stat", "relation", "right_arm",
           "right_metric", "right_x", "value", "margin", "unit", "test", "quote", "where")
RELATIONS = ("greater", "less", "equivalent", "above", "below")
TWO_SIDED = {"paired_t", "paired_binary", "paired_sd"}   # a second side; the others take a constant
TESTS = (*sorted(TWO_SIDED), "one_sample_t", "binomial")
HOLDS, FAILS, NOT_SHOWN, NOT_RUN = "holds", "fails", "not shown at this n", "not run"
ORDER = (FAILS, NOT_RUN, NOT_SHOWN, HOLDS)   # a claim takes the first of its lines' verdicts in this order


def load(path: Path | str) -> pd.DataFrame:
    """The claims file's lines, checked; ConfigError naming the file and line on an unknown arm,
    metric, relation or test, a margin that is not a number > 0, or a side that cannot exist."""
    out = []
    ids = set()
    for line, r in lines(Path(path), COLUMNS):
        where = f"{path}:{line}"
        if not r["id"] or r["id"] in ids:
            raise ConfigError(f"{where}: {'a second line' if r['id'] else 'no id'} {r['id']!r}")
        ids.add(r["id"])
        if r["relation"] not in RELATIONS:
            raise ConfigError(f"{where}: unknown relation {r['relation']!r} (one of {', '.join(RELATIONS)})")
        if r["test"] not in TESTS:
            raise ConfigError(f"{where}: unknown test {r['test']!r} (one of {', '.join(TESTS)})")
        if r["stat"] not in ("mean", "sd") or (r["stat"] == "sd") != (r["test"] == "paired_sd"):
            raise ConfigError(f"{where}: stat {r['stat']!r} with test {r['test']!r} (sd goes with paired_sd, "
                              "mean with the others)")
        check_side(where, r["left_arm"], r["left_metric"], r["left_x"])
        two = r["test"] in TWO_SIDED
        if two:
            if not r["right_arm"] or r["value"]:
                raise ConfigError(f"{where}: test {r['test']} compares two sides: a right side and no value")
            check_side(where, r["right_arm"], r["right_metric"], r["right_x"])
            if (r["left_arm"], r["left_metric"], r["left_x"]) == (r["right_arm"], r["right_metric"], r["right_x"]):
                raise ConfigError(f"{where}: both sides are {r['left_arm']} {r['left_metric']} {r['left_x']}")
        else:
            if r["right_arm"] or not r["value"]:
                raise ConfigError(f"{where}: test {r['test']} compares one side with a value: no right side")
            number(where, "value", r["value"])
        if r["relation"] in ("above", "below"):
            if two or r["margin"]:
                raise ConfigError(f"{where}: {r['relation']} compares one side with a value, without a margin")
        else:
            m = number(where, "margin", r["margin"])
            if m <= 0 or (r["stat"] == "sd" and m <= 1):
                raise ConfigError(f"{where}: the margin must be > {1 if r['stat'] == 'sd' else 0} (a ratio for "
                                  f"an SD), got {r['margin']}")
        out.append({**r, "line": line})
    return pd.DataFrame(out, columns=[*COLUMNS, "line"])


def load_paper(paper: int, root: Path | None = None) -> pd.DataFrame:
    """A paper's claims (``claims.csv`` beside its ``published.csv``), none where it has no such file."""
    path = (root or EXPERIMENTS) / f"paper{paper}" / "claims.csv"
    return load(path) if path.is_file() else pd.DataFrame(columns=[*COLUMNS, "line"])


# -- testing ---------------------------------------------------------------------------------


def values(frame: pd.DataFrame, arm: str, name: str, x: str) -> tuple[pd.Series | None, str]:
    """One side's per-seed values (indexed by seed) from an arms frame, or None and why not.

    A baseline section (the healthy or untreated network) is the seed's own, shared by every
    treatment of the seed: it is read from the baseline arm, for the seeds ``arm`` ran."""
    section, metric = name.split(".", 1)
    ran = frame.loc[frame["arm"] == arm, "seed"]
    if ran.empty:
        return None, f"{arm} not run"
    rows = frame[(frame["arm"] == (section if section in BASELINE_ARMS else arm)) & (frame["section"] == section)
                 & (frame["metric"] == metric) & frame["seed"].isin(set(ran))]
    rows = rows[np.isclose(rows["x"].astype(float), float(x))] if x else rows[rows["x"].isna()]
    if rows.empty:
        return None, f"no {name}{' at ' + x if x else ''} for {arm} in these results"
    if rows["seed"].duplicated().any():
        return None, f"several values of {name} per seed for {arm} (several conditions)"
    return rows.set_index("seed")["value"].sort_index(), ""


def test_line(c: dict, frame: pd.DataFrame) -> dict:
    """One claim line on an arms frame: the effect, its 95% and 90% intervals, and the verdict."""
    out = {"n": 0, "effect": math.nan, "lo": math.nan, "hi": math.nan, "lo90": math.nan, "hi90": math.nan,
           "verdict": NOT_RUN, "why": ""}
    left, why = values(frame, c["left_arm"], c["left_metric"], c["left_x"])
    right = None
    if left is not None and c["test"] in TWO_SIDED:
        right, why = values(frame, c["right_arm"], c["right_metric"], c["right_x"])
    if left is None or (c["test"] in TWO_SIDED and right is None):
        return {**out, "why": why}
    if right is not None:
        seeds = left.index.intersection(right.index)
        left, right = left.loc[seeds], right.loc[seeds]
    n = len(left)
    if n == 0:
        return {**out, "why": "no seed with both sides"}
    out["n"] = n
    constant = float(c["value"]) if c["value"] else 0.0
    intervals = {}
    if c["test"] in ("paired_t", "one_sample_t"):
        d = (left - right).to_numpy() if right is not None else left.to_numpy() - constant
        est = float(d.mean()) if n else math.nan
        se = float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
        intervals = {lv: t_interval(est, se, n - 1, lv) for lv in (0.95, 0.90)}
    elif c["test"] == "paired_binary":
        for lv in (0.95, 0.90):
            est, lo, hi = paired_risk_difference(left.to_numpy() > 0.5, right.to_numpy() > 0.5, lv)
            intervals[lv] = (lo, hi)
    elif c["test"] == "binomial":
        k = int((left.to_numpy() > 0.5).sum())
        est = k / n - constant
        intervals = {lv: tuple(v - constant for v in wilson(k, n, lv)) for lv in (0.95, 0.90)}
    else:  # paired_sd: the ratio of the two SDs
        for lv in (0.95, 0.90):
            est, lo, hi = sd_ratio(left.to_numpy(), right.to_numpy(), lv)
            intervals[lv] = (lo, hi)
    out["effect"] = est
    (out["lo"], out["hi"]), (out["lo90"], out["hi90"]) = intervals[0.95], intervals[0.90]
    out["verdict"] = verdict(c["relation"], out, float(c["margin"]) if c["margin"] else math.nan,
                             ratio=c["stat"] == "sd")
    if out["verdict"] == NOT_SHOWN and math.isnan(out["lo"]):
        out["why"] = f"no interval with {n} seed{'s' if n != 1 else ''}"
    return out


def verdict(relation: str, r: dict, margin: float, ratio: bool = False) -> str:
    """holds / fails / not shown at this n from an effect's 95% (``lo``, ``hi``) and 90%
    (``lo90``, ``hi90``) intervals; ``ratio``: the effect is a ratio, judged on a log scale."""
    est, lo, hi, lo90, hi90 = r["effect"], r["lo"], r["hi"], r["lo90"], r["hi90"]
    if any(math.isnan(v) for v in (est, lo, hi)):
        return NOT_SHOWN
    if ratio:   # on the log scale a ratio is a difference, 1 its null and log(margin) its margin
        est, lo, hi, lo90, hi90 = (math.log(v) if v > 0 else -math.inf for v in (est, lo, hi, lo90, hi90))
        margin = math.log(margin)
    if relation == "less":
        est, lo, hi, lo90, hi90 = -est, -hi, -lo, -hi90, -lo90
        relation = "greater"
    if relation == "greater":
        if lo > 0 and est >= margin:
            return HOLDS
        return FAILS if hi < margin else NOT_SHOWN
    if relation == "equivalent":
        if -margin < lo90 and hi90 < margin:
            return HOLDS
        return FAILS if lo > 0 or hi < 0 else NOT_SHOWN
    if relation == "above":
        return HOLDS if lo > 0 else FAILS if hi < 0 else NOT_SHOWN
    return HOLDS if hi < 0 else FAILS if lo > 0 else NOT_SHOWN   # below


def evaluate(claims: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Every line of ``claims`` tested on ``frame`` (an arms frame of one condition), with its
    claim's verdict (``claim_verdict``)."""
    rows = [{**c, **test_line(c, frame)} for c in claims.to_dict("records")]
    out = pd.DataFrame(rows, columns=[*claims.columns, "n", "effect", "lo", "hi", "lo90", "hi90", "verdict", "why"])
    out["claim_verdict"] = out.groupby("claim", sort=False)["verdict"].transform(
        lambda v: next(x for x in ORDER if x in set(v)))
    return out


def counts(evaluated: pd.DataFrame) -> dict[str, int]:
    """How many claims hold, fail, are not shown at this n and not run."""
    per_claim = evaluated.drop_duplicates("claim")["claim_verdict"].value_counts()
    return {v: int(per_claim.get(v, 0)) for v in (HOLDS, FAILS, NOT_SHOWN, NOT_RUN)}


# -- as printed --------------------------------------------------------------------------------


def effect_text(r: dict) -> str:
    """The effect with its 95% CI and n, in the claim's unit."""
    if r["verdict"] == NOT_RUN:
        return f"not run ({r['why']})"
    est, lo, hi = r["effect"], r["lo"], r["hi"]
    if math.isnan(est):
        return f"— (n = {r['n']})"
    if r["stat"] == "sd":
        body = f"SD ratio {est:.2f}" + ("" if math.isnan(lo) else f" [{lo:.2f}, {hi:.2f}]")
    elif r["test"] in ("paired_binary", "binomial"):
        body = f"{est:+.2f}" + ("" if math.isnan(lo) else f" [{lo:+.2f}, {hi:+.2f}]")
    elif r["relation"] in ("above", "below"):
        v = float(r["value"])
        body = f"{est + v:.1f}" + ("" if math.isnan(lo) else f" [{lo + v:.1f}, {hi + v:.1f}]") + f" vs {v:g}"
    else:
        body = f"{est:+.1f} pp" + ("" if math.isnan(lo) else f" [{lo:+.1f}, {hi:+.1f}]")
    return f"{body} (n = {r['n']})"


def evidence(r: dict, pub: pd.DataFrame) -> str:
    """The published numbers behind a claim line (both sides, where the paper printed them), and where."""
    def printed(arm, name, x):
        section, metric = name.split(".", 1)
        hit = pub[(pub["arm"] == arm) & (pub["section"] == section) & (pub["metric"] == metric)]
        hit = hit[np.isclose(hit["x"].astype(float), float(x))] if x else hit[hit["x"].isna()]
        if metric == "relapsed":
            hit = hit[hit["stat"] == "n_true"]
            return None if hit.empty else f"{int(hit['value'].iloc[0])}/{int(hit['n'].iloc[0])}"
        hit = hit[hit["stat"] == "mean"]
        return None if hit.empty else f"{hit['value'].iloc[0]:g}"
    left = printed(r["left_arm"], r["left_metric"], r["left_x"])
    if r["test"] in TWO_SIDED:
        right = printed(r["right_arm"], r["right_metric"], r["right_x"])
        numbers = f"{left} vs {right}" if left and right else None
    else:
        numbers = left
    return (f"{numbers} ({r['where']})" if numbers else r["where"])


def claims_frame(evaluated: pd.DataFrame, pub: pd.DataFrame) -> pd.DataFrame:
    """The claims table as the report prints it: one line per statement, its claim's verdict beside it."""
    rows = []
    for r in evaluated.to_dict("records"):
        shown = {"holds": "holds", "fails": "**fails**"}.get(r["verdict"], r["verdict"])
        rows.append({"Claim": f"{r['claim']}: {r['claim_verdict']}", "Statement": r["statement"],
                     "Paper's evidence": evidence(r, pub), "Ours [95% CI]": effect_text(r),
                     "Margin": "—" if not r["margin"] else f"{r['margin']} {r['unit']}", "Verdict": shown})
    return pd.DataFrame(rows)


def section(rep, evaluated: pd.DataFrame, pub: pd.DataFrame, paper: int) -> None:
    """"Do the papers' claims hold?": the verdict per claim, then the table of every statement."""
    rep.heading("Do the papers' claims hold?")
    if evaluated.empty:
        rep.text(f"Paper {paper} has no claims file (`claims.csv` beside `published.csv`).")
        return
    c = counts(evaluated)
    seeds = int(evaluated["n"].max()) if len(evaluated) else 0
    rep.text(f"**Of paper {paper}'s {sum(c.values())} claims ({len(evaluated)} statements), on {seeds} "
             f"seed{'s' if seeds != 1 else ''}: {c[HOLDS]} hold, {c[FAILS]} fail, {c[NOT_SHOWN]} are not shown "
             f"at this n, {c[NOT_RUN]} not run.** Each statement of the paper's abstract, results and discussion "
             f"(`claims.csv`, with the sentence it comes from) is tested on our seeds: two treatments of a seed "
             "share its pruned network, so two sides are compared paired by seed (the mean paired difference "
             "with its t interval; a 0/1 outcome per seed, such as a relapse, by Newcombe's paired risk "
             "difference; two spreads by their SD ratio, Pitman-Morgan), one side against a constant by a "
             "one-sample t interval, or by Wilson's interval for a share of seeds. *greater* holds when the "
             "95% CI lies above 0 and the effect reaches the margin, and fails when the 95% CI lies below the "
             "margin; *equivalent* holds when the 90% CI lies inside ±margin (two one-sided tests at α = 0.05) "
             "and fails when the 95% CI excludes 0 and the 90% CI is not inside; *above* and *below* hold when "
             "the 95% CI lies on that side of the value. Anything else is not shown at this n. A claim holds "
             "when each of its statements does, fails when one fails."
             + (" With one seed nothing has an interval: paper 1's claims are tested on paper 2's seeds in "
                "`docs/studies.md`." if seeds == 1 else ""))
    rep.frame(claims_frame(evaluated, pub))
    rep.frames["claims"] = evaluated
