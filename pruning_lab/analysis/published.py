"""The published values (``experiments/paper*/published.csv``) beside ours, the verdict, and the protocol check.

Per value, two readings. The 2-SE check: the difference lies within two standard errors of the
difference, sqrt(s_ours^2/n_ours + s_pub^2/n_pub) with sample SDs (the papers' population SDs
converted), plus half a unit of the published rounding (0.05). The test: a two-sided p-value for
the difference (Welch's t-test from both sides' mean, SD and n; Fisher's exact test for counts of
seeds), Holm-corrected over every value tested.
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path

import pandas as pd

from .load import NAME_KEYS, flatten, knob_columns, show, xkey
from .measures import PAPER_TREATMENTS, rank
from .stats import (ALPHA, chance_outside, count_chance_outside, count_se, fisher_p, holm, sample_sd, welch_df,
                    welch_p)

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = REPO / "experiments"
CONF = REPO / "conf"
PAPER_SEEDS = {1: [42], 2: list(range(10))}
ROUNDING = 0.05   # every published value has one decimal
# config keys that change how a job is computed or scored, not the protocol the paper describes
NOT_PROTOCOL = ("numerics", "rng", "engine", "engine_sparse_from", "onset.every", "onset.response")
COLUMNS = ["paper", "table", "row", "column", "arm", "section", "metric", "x", "stat", "value", "sd", "n", "note",
           "family", "of"]


def load(paper: int, root: Path | None = None) -> pd.DataFrame:
    """The published values of one paper (empty frame if the file is absent)."""
    path = (root or EXPERIMENTS) / f"paper{paper}" / "published.csv"
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    df = pd.read_csv(path)
    df["x"] = pd.to_numeric(df["x"], errors="coerce")
    df["note"] = df["note"].fillna("")
    # a file without a family column counts every value as primary
    df["family"] = df["family"].fillna("primary") if "family" in df else "primary"
    df["of"] = df["of"].fillna("") if "of" in df else ""
    return df


# -- the protocol as published ---------------------------------------------------------------


def reference_configs(paper: int, treatments=PAPER_TREATMENTS) -> dict[str, dict] | None:
    """Flattened resolved config of each of the paper's treatments (its knobs by name), composed from
    ``conf/`` with ``experiment=paper<N>`` (None when the configs cannot be composed here).

    Composing takes about half a second a treatment, and every report asks for both papers: the
    answer is kept for as long as no file of ``conf/`` changes (a notebook that edits one is
    answered afresh)."""
    if not CONF.is_dir():
        return None
    key = (paper, tuple(treatments), _conf_state())
    if key not in _composed:
        out = _compose_references(paper, treatments)
        if out is None:
            return None
        for old in [k for k in _composed if k[2] != key[2]]:  # answers for an older conf/
            del _composed[old]
        _composed[key] = out
    return copy.deepcopy(_composed[key])


_composed: dict[tuple, dict[str, dict]] = {}  # reference_configs' answers, by conf/'s state


def _conf_state() -> tuple:
    """What changes when a file of ``conf/`` changes: each file's path, size and modification time."""
    return tuple(sorted((str(p), st.st_size, st.st_mtime_ns) for p in CONF.rglob("*") if p.is_file()
                        for st in (p.stat(),)))


def _compose_references(paper: int, treatments) -> dict[str, dict] | None:
    try:
        from hydra import compose, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        from ..config import resolve, validate

        GlobalHydra.instance().clear()
        out = {}
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            for t in treatments:
                checked = validate(*resolve(compose("config", overrides=[f"experiment=paper{paper}", f"treatment={t}"])))
                out[t] = knob_columns(flatten(checked.job.to_dict()), checked.knobs)
        GlobalHydra.instance().clear()
        return out
    except Exception as e:  # the report is still useful without the check
        log.warning("could not compose the paper-%d configs (%s)", paper, e)
        return None


def protocol_check(flat: dict[str, dict], runs: pd.DataFrame, paper: int, ref: dict[str, dict]) -> pd.DataFrame:
    """Every config key on which runs differ from the paper's published preset (``flat``: each run's
    flattened config, knobs by name): the shared keys and the seeds over every run, a treatment's
    own keys for the paper's treatments; a treatment the paper lacks is named as such."""
    rows = []
    shared_ref = next(iter(ref.values()))
    hashes = runs["config_hash"].tolist()
    treatment_of = dict(zip(runs["config_hash"], runs["treatment"]))
    everyone = sorted(set(treatment_of.values()), key=rank)

    def which(affected) -> str:
        ts = sorted({treatment_of[h] for h in affected}, key=rank)
        return "every treatment" if ts == everyone and len(ts) > 1 else ", ".join(ts)

    def add(key, affected, ours, want):
        rows.append({"treatment": which(affected), "key": key, "ours": ", ".join(sorted(set(ours), key=rank)),
                     "paper": want, "runs": len(affected)})

    for t in everyone:
        if t not in ref:
            mine = [h for h in hashes if treatment_of[h] == t]
            add("treatment", mine, [t], f"not in paper {paper}")
    shared = sorted({k for h in hashes for k in flat[h] if not k.startswith("treatment.")} | set(
        k for k in shared_ref if not k.startswith("treatment.")))
    for key in shared:
        if key in ("seed", "data.seed") or key in NOT_PROTOCOL:
            continue
        want = show(shared_ref.get(key))
        off = [(h, show(flat[h].get(key))) for h in hashes if show(flat[h].get(key)) != want]
        if off:
            add(key, [h for h, _ in off], [v for _, v in off], want)
    for t in everyone:
        if t not in ref:
            continue   # a treatment the paper lacks has no published knobs to compare
        mine = [h for h in hashes if treatment_of[h] == t]
        keys = sorted({k for h in mine for k in flat[h] if k.startswith("treatment.")} | {
            k for k in ref[t] if k.startswith("treatment.")})
        for key in keys:
            if key in NAME_KEYS:
                continue
            if key not in ref[t] or any(key not in flat[h] for h in mine):
                continue   # a knob one side names and the other does not (an older result): not comparable
            want = show(ref[t][key])
            off = [(h, show(flat[h][key])) for h in mine if show(flat[h][key]) != want]
            if off:
                add(key, [h for h, _ in off], [v for _, v in off], want)
    seed_of = dict(zip(runs["config_hash"], runs["seed"]))
    extra = [h for h in hashes if int(seed_of[h]) not in PAPER_SEEDS[paper]]
    if extra:
        add("seed", extra, [str(int(seed_of[h])) for h in extra], _seed_text(paper))
    bad = [h for h in hashes if flat[h].get("data.seed") != (0 if paper == 1 else flat[h].get("seed"))]
    if bad:
        add("data.seed", bad, [str(flat[h].get("data.seed")) for h in bad], "0" if paper == 1 else "= seed")
    return pd.DataFrame(rows, columns=["treatment", "key", "ours", "paper", "runs"])


def follows(proto: pd.DataFrame | None, n_treatments: int) -> bool:
    """Whether a protocol check finds the published protocol: no departure but more seeds or
    treatments the paper lacks (beside at least one of its own)."""
    if proto is None:
        return False
    other = proto[~proto["key"].isin(["seed", "treatment"])]
    return other.empty and (proto["key"] == "treatment").sum() < n_treatments


def _seed_text(paper: int) -> str:
    s = PAPER_SEEDS[paper]
    return str(s[0]) if len(s) == 1 else f"{s[0]}..{s[-1]}"


def on_protocol(summary: pd.DataFrame, global_axes: list[str], treatment_axes: list[str],
                ref: dict[str, dict] | None) -> pd.Series:
    """Rows of a summary whose swept-axis values are the published ones."""
    mask = pd.Series(True, index=summary.index)
    if not global_axes and not treatment_axes:
        return mask
    if ref is None:
        return pd.Series(False, index=summary.index)
    any_ref = next(iter(ref.values()))
    for a in global_axes:
        mask &= summary[a] == show(any_ref.get(a))
    for a in treatment_axes:
        want = summary["arm"].map(lambda arm: show(ref.get(arm, {}).get(a)))
        mask &= (summary[a] == want) | (summary[a] == "")
    return mask


# -- comparison ------------------------------------------------------------------------------


def compare(pub: pd.DataFrame, summary: pd.DataFrame, spread: pd.DataFrame | None = None) -> pd.DataFrame:
    """One line per published value: ours, the difference, 2 SE and whether it lies within, and the
    test: its p-value, the Holm-adjusted one over every value tested, and the chance of a 2-SE miss
    were there no difference (``p_outside``); for a mean, the test's SDs (``s_ours``, ``s_pub``), its
    standard error and degrees of freedom (``se``, ``df``).

    ``summary`` must hold only on-protocol rows. ``spread`` (optional, paper 2's values) lends
    its between-seed SD to single-seed comparisons, where neither side has one of its own.
    A published value is read at its most favourable within its rounding: the difference less
    0.05, an SD printed as 0.0 as 0.05 (a test needs a spread; the true one is below that).
    """
    idx = {(r["arm"], r["section"], r["metric"], xkey(r["x"])): r for r in summary.to_dict("records")}
    lend = {}
    if spread is not None:
        for r in spread[spread["stat"] == "mean"].to_dict("records"):
            # an SD printed as 0.0 is read as 0.05, as a value's own (below)
            sd = ROUNDING if r["sd"] == 0 else r["sd"]
            lend[(r["arm"], r["section"], r["metric"], xkey(r["x"]))] = (sample_sd(sd, r["n"]), int(r["n"]))
    out = []
    for p in pub.to_dict("records"):
        key = (p["arm"], p["section"], p["metric"], xkey(p["x"]))
        ours = idx.get(key)
        row = {k: p[k] for k in ("table", "row", "column", "arm", "stat", "note")}
        row.update(pub_value=p["value"], pub_sd=p["sd"], pub_n=int(p["n"]), ours=math.nan, ours_sd=math.nan,
                   ours_n=0, diff=math.nan, tol=math.nan, within=None, basis="", test="", p=math.nan,
                   p_outside=math.nan, s_ours=math.nan, s_pub=math.nan, se=math.nan, df=math.nan)
        if ours is None or ours["n"] == 0:
            row["basis"] = "not in this sweep"
            out.append(row)
            continue
        n, stat = int(ours["n"]), p["stat"]
        row["ours_n"] = n
        if stat in ("n_true", "n_false"):
            k = round(ours["n_true"]) if stat == "n_true" else n - round(ours["n_true"])
            kp, n_pub = int(round(p["value"])), int(p["n"])
            row["ours"] = k
            row["diff"] = k - p["value"] * n / n_pub
            row["tol"] = 2 * count_se(k, n, kp, n_pub) * n
            row["within"] = abs(row["diff"]) <= row["tol"] + 1e-9
            row["basis"] = "binomial SE of both proportions"
            row["test"] = "Fisher's exact"
            row["p"] = fisher_p(k, n, kp, n_pub)
            row["p_outside"] = count_chance_outside(k, n, kp, n_pub)
        elif stat in ("min", "max"):
            row["ours"] = ours[stat]
            row["diff"] = ours[stat] - p["value"]
            row["basis"] = "extreme of the seeds: no standard error"
        else:
            row["ours"], row["ours_sd"] = ours["mean"], ours["sd"]
            row["diff"] = ours["mean"] - p["value"]
            printed = p["sd"]
            s_pub = sample_sd(printed, p["n"])
            s_ours = ours["sd_sample"]
            basis, df = "SE from both SDs", None
            if p["n"] == 1 and n == 1:
                s_pub, lent_n = lend.get(key, (math.nan, 0))
                s_ours = s_pub
                basis, df = "one seed each: paper 2's between-seed SD", lent_n - 1
            elif math.isnan(s_pub):
                s_pub, basis = s_ours, "no published SD: ours used for both"
                # a single published value borrows our SD: its df are ours alone
                df = n - 1 if p["n"] == 1 else None
            elif n == 1:
                s_ours, basis, df = s_pub, "one seed: the paper's SD used for ours", p["n"] - 1
            if math.isnan(s_ours) or math.isnan(s_pub):
                row["basis"] = "no SD on either side"
                out.append(row)
                continue
            se = math.sqrt(s_ours ** 2 / n + s_pub ** 2 / p["n"])
            row["tol"] = 2 * se + ROUNDING
            row["within"] = abs(row["diff"]) <= row["tol"]
            row["basis"] = basis
            row["p_outside"] = chance_outside(se, welch_df(s_ours, n, s_pub, int(p["n"])) if df is None else df,
                                              row["tol"])
            # the test reads the printed value at its most favourable (see the docstring)
            if printed == 0:
                s_pub = sample_sd(ROUNDING, p["n"])
            d = math.copysign(max(abs(row["diff"]) - ROUNDING, 0.0), row["diff"])
            row["p"] = welch_p(d, s_ours, n, s_pub, int(p["n"]), df)
            # the test's SDs, standard error and degrees of freedom, for the intervals of the verdict
            row["s_ours"], row["s_pub"] = s_ours, s_pub
            row["se"] = math.sqrt(s_ours ** 2 / n + s_pub ** 2 / p["n"])
            row["df"] = welch_df(s_ours, n, s_pub, int(p["n"])) if df is None else df
            row["test"] = "Welch's t" if df is None else f"t ({df:g} df), one SD for both"
        out.append(row)
    comp = pd.DataFrame(out)
    if len(comp):
        comp["p_holm"] = holm(comp["p"].to_numpy(float))
        comp["differs"] = [None if math.isnan(q) else bool(q < ALPHA) for q in comp["p_holm"]]
    return comp
