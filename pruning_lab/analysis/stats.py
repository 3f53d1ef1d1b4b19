"""Every statistic of the analysis: summaries, the Bayes ceiling, pairwise treatment comparisons,
and the tests of a published value (mean, SD and n, or a count of seeds) against ours.

The treatments of a seed share its pruned baseline and evaluation noise, so two treatments are
compared paired by seed (paired t-test, Wilcoxon signed-rank, Cohen's d_z); a pair whose seeds
differ falls back to the unpaired tests (Welch, Mann-Whitney U, Hedges' g).

Everything is a plain function of arrays or frames, so a reviewer can recompute any number.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as st
from scipy.special import ndtr

ALPHA = 0.05  # the level of every test's verdict


def summary_frame(frame: pd.DataFrame, by: list[str], ddof: int = 1) -> pd.DataFrame:
    """n, mean, sd (``ddof``), sample sd, standard error, min, max and count of ones per group."""
    g = frame.groupby(by, dropna=False, sort=False)["value"]
    out = g.agg(n="count", mean="mean", min="min", max="max", n_true="sum").reset_index()
    sd_sample = g.std(ddof=1).to_numpy()
    out["sd_sample"] = sd_sample
    out["sd"] = sd_sample if ddof == 1 else g.std(ddof=ddof).to_numpy()
    out.loc[out["n"] == 1, "sd"] = np.nan if ddof == 1 else 0.0
    out["se"] = out["sd_sample"] / np.sqrt(out["n"])
    return out


# -- the Bayes-optimal ceiling ---------------------------------------------------------------


def quadrant_ceiling(half_distance: float, r: float) -> float:
    """Bayes accuracy (%) for four equiprobable isotropic Gaussians at (+-a, +-a) with per-axis SD r.

    The Bayes rule picks the quadrant; the axes are independent, so accuracy = Phi(a/r)^2,
    i.e. (1 - Phi(-a/r))^2. r = 0 means points on the centres: 100%.
    """
    if r <= 0:
        return 100.0
    return 100.0 * float(ndtr(half_distance / r)) ** 2


def quadrant_half_distance(centres) -> float | None:
    """``a`` if the centres are the four sign combinations of (a, a), else None."""
    pts = {(float(x), float(y)) for x, y in centres}
    if len(pts) != 4:
        return None
    a = abs(next(iter(pts))[0])
    return a if a > 0 and pts == {(sx * a, sy * a) for sx in (-1, 1) for sy in (-1, 1)} else None


def ceilings(config: dict) -> list[dict]:
    """The analytic ceiling of each test condition of one resolved config."""
    data, stress = config["data"], config["stress"]
    a = quadrant_half_distance(data["centres"])
    s, inp = float(data["spread"]), float(stress["input_sigma"])
    conditions = [
        ("clean", "clean test set (points on the centres)", 0.0, "r = 0"),
        ("standard", "standard test set", s, f"r = spread = {s:g}"),
        ("combined", "combined stress (input + internal noise)", math.hypot(s, inp),
         f"r = sqrt({s:g}^2 + {inp:g}^2) = {math.hypot(s, inp):.4f}; internal noise ignored (see note)"),
    ]
    out = []
    for metric, what, r, how in conditions:
        ceiling = quadrant_ceiling(a, r) if a is not None else math.nan
        out.append({"metric": metric, "condition": what, "r": r, "how": how, "ceiling": ceiling})
    for sigma in stress["profile"]:
        out.append({"metric": f"profile {float(sigma):g}", "condition": f"internal noise sigma = {float(sigma):g}",
                    "r": s, "how": "input-level bound only (r = spread); internal noise has no closed form",
                    "ceiling": quadrant_ceiling(a, s) if a is not None else math.nan})
    return out


def binomial_se(p_percent: float, n: int) -> float:
    """Sampling SE (percentage points) of an accuracy measured on ``n`` test points."""
    p = p_percent / 100.0
    return 100.0 * math.sqrt(max(p * (1 - p), 0.0) / n) if n > 0 else math.nan


# -- pairwise comparisons --------------------------------------------------------------------


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def _hedges(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hedges' g of a - b along the last axis (works on bootstrap stacks)."""
    na, nb = a.shape[-1], b.shape[-1]
    pooled = np.sqrt(((na - 1) * a.var(axis=-1, ddof=1) + (nb - 1) * b.var(axis=-1, ddof=1)) / (na + nb - 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (a.mean(axis=-1) - b.mean(axis=-1)) / pooled
    d = np.where(pooled > 0, d, np.nan)
    return d * (1 - 3 / (4 * (na + nb) - 9))


def hedges_g(a, b) -> float:
    """Bias-corrected standardized mean difference of a - b; NaN when neither group varies."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    return float(_hedges(a, b))


def bootstrap_ci(a, b, resamples: int = 2000, level: float = 0.95, seed: int = 0, min_n: int = 4
                 ) -> tuple[float, float]:
    """Percentile bootstrap CI of Hedges' g, each group resampled on its own (fixed seed)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    # with two or three points a group has a handful of distinct resamples: no interval to speak of
    if len(a) < min_n or len(b) < min_n:
        return math.nan, math.nan
    return percentile_bootstrap((a, b), lambda x, y, axis=-1: _hedges(x, y), resamples, level, seed)


def percentile_bootstrap(samples: tuple, statistic, resamples: int = 2000, level: float = 0.95, seed: int = 0,
                         min_share: float = 0.5, vectorized: bool = True) -> tuple[float, float]:
    """Percentile bootstrap CI (``scipy.stats.bootstrap``, each sample resampled on its own, fixed
    seed) of ``statistic``; resamples where it is undefined (NaN) are dropped, and with fewer than
    ``min_share`` of them left there is no interval (NaN)."""
    return percentile(bootstrap_distribution(samples, statistic, resamples, seed, vectorized), level,
                      min_share * resamples)


def bootstrap_distribution(samples: tuple, statistic, resamples: int = 2000, seed: int = 0,
                           vectorized: bool = True) -> np.ndarray:
    """``statistic`` on each of ``resamples`` bootstrap resamples (``scipy.stats.bootstrap``, each
    sample resampled on its own, fixed seed), NaN where it is undefined."""
    with warnings.catch_warnings():
        # scipy's own interval is NaN when a resample has no statistic; ``percentile`` drops those
        warnings.simplefilter("ignore", st.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = st.bootstrap(samples, statistic, n_resamples=resamples, method="percentile", vectorized=vectorized,
                           axis=-1, paired=False, rng=np.random.default_rng(seed))
    return np.asarray(res.bootstrap_distribution, float)


def percentile(dist: np.ndarray, level: float = 0.95, at_least: float = 0) -> tuple[float, float]:
    """The percentile interval at ``level`` of the finite values of a bootstrap distribution (NaN
    with fewer than ``at_least`` of them)."""
    dist = dist[np.isfinite(dist)]
    if len(dist) == 0 or len(dist) < at_least:
        return math.nan, math.nan
    lo, hi = np.percentile(dist, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def compare_two(a, b) -> dict:
    """Welch t-test, Mann-Whitney U (both two-sided) and Hedges' g with its bootstrap CI."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    out = {"n_a": len(a), "n_b": len(b), "mean_a": a.mean() if len(a) else math.nan,
           "mean_b": b.mean() if len(b) else math.nan, "t": math.nan, "p_t": math.nan,
           "U": math.nan, "p_U": math.nan, "g": math.nan, "g_lo": math.nan, "g_hi": math.nan}
    if len(a) < 2 or len(b) < 2:
        return out
    if a.std() > 0 or b.std() > 0:
        with near_constant():
            t = st.ttest_ind(a, b, equal_var=False)
        out["t"], out["p_t"] = float(t.statistic), float(t.pvalue)
    u = st.mannwhitneyu(a, b, alternative="two-sided")
    out["U"], out["p_U"] = float(u.statistic), float(u.pvalue)
    out["g"] = hedges_g(a, b)
    out["g_lo"], out["g_hi"] = bootstrap_ci(a, b)
    return out


@contextlib.contextmanager
def near_constant():
    """Quiet scipy's warning for samples that differ only in their last bits: the test is still
    computed, and its p-value is what the report shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        yield


def _dz(d: np.ndarray, axis: int = -1) -> np.ndarray:
    """Cohen's d_z: mean over SD (ddof 1) of the paired differences; NaN where they do not vary."""
    sd = d.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, d.mean(axis=axis) / np.where(sd > 0, sd, 1.0), np.nan)


def paired_bootstrap(d, statistic, resamples: int = 2000, level: float = 0.95, seed: int = 0, min_n: int = 4
                     ) -> tuple[float, float]:
    """Percentile bootstrap CI (``scipy.stats.bootstrap``, fixed seed) of ``statistic`` of the
    per-seed differences ``d``; NaN with fewer than ``min_n`` seeds or when ``d`` does not vary."""
    d = np.asarray(d, float)
    if len(d) < min_n or np.ptp(d) == 0:
        return math.nan, math.nan
    # a resample of identical differences has no d_z; with too many such, there is no interval
    return percentile_bootstrap((d,), statistic, resamples, level, seed)


def compare_paired(a, b) -> dict:
    """Paired t-test and Wilcoxon signed-rank test (both two-sided) of a - b, seed by seed; the
    mean paired difference and Cohen's d_z, each with its bootstrap CI."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = a - b
    out = {"n_a": len(a), "n_b": len(b), "mean_a": a.mean() if len(a) else math.nan,
           "mean_b": b.mean() if len(b) else math.nan, "diff": d.mean() if len(d) else math.nan,
           "diff_lo": math.nan, "diff_hi": math.nan, "t": math.nan, "p_t": math.nan, "W": math.nan,
           "p_W": math.nan, "dz": math.nan, "dz_lo": math.nan, "dz_hi": math.nan}
    if len(d) < 2:
        return out
    out["diff_lo"], out["diff_hi"] = paired_bootstrap(d, np.mean)
    if d.std() > 0:
        with near_constant():
            t = st.ttest_rel(a, b)
        out["t"], out["p_t"] = float(t.statistic), float(t.pvalue)
        out["dz"] = float(_dz(d))
        out["dz_lo"], out["dz_hi"] = paired_bootstrap(d, _dz)
    if (d != 0).any():
        w = st.wilcoxon(a, b, alternative="two-sided")
        out["W"], out["p_W"] = float(w.statistic), float(w.pvalue)
    return out


def pairable(a, b) -> bool:
    """Two groups of per-seed values can be paired: both indexed by the same seeds, once each."""
    return (isinstance(a, pd.Series) and isinstance(b, pd.Series) and a.index.is_unique and b.index.is_unique
            and set(a.index) == set(b.index) and len(a) >= 2)


def pairwise(values: dict[str, np.ndarray | pd.Series]) -> pd.DataFrame:
    """All pairs of groups, Holm-adjusted across the pairs (one family per call and test kind).

    Groups given as Series indexed by seed are compared paired when their seeds match
    (``design`` "paired"); otherwise, and for plain arrays, unpaired."""
    rows = []
    for x, y in combinations(values, 2):
        a, b = values[x], values[y]
        if pairable(a, b):
            rows.append({"a": x, "b": y, "design": "paired", **compare_paired(a, b.loc[a.index])})
        else:
            r = compare_two(np.asarray(a, float), np.asarray(b, float))
            rows.append({"a": x, "b": y, "design": "unpaired", **r, "diff": r["mean_a"] - r["mean_b"]})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for c in ("U", "p_U", "g", "g_lo", "g_hi", "W", "p_W", "dz", "dz_lo", "dz_hi", "diff_lo", "diff_hi"):
        if c not in df:
            df[c] = math.nan
    df["p_t_holm"] = holm(df["p_t"].to_numpy())
    # each pair has one rank test, signed-rank or U: one family across the pairs
    paired = (df["design"] == "paired").to_numpy()
    rank = holm(np.where(paired, df["p_W"], df["p_U"]))
    df["p_W_holm"] = np.where(paired, rank, np.nan)
    df["p_U_holm"] = np.where(paired, np.nan, rank)
    return df


# -- a published value against ours: tests from summary statistics ---------------------------


def sample_sd(sd: float, n: float) -> float:
    """The papers' population SD (ddof=0) as a sample SD (ddof=1)."""
    return sd * math.sqrt(n / (n - 1)) if n > 1 and not math.isnan(sd) else math.nan


def welch_df(s1: float, n1: int, s2: float, n2: int) -> float:
    """Welch-Satterthwaite degrees of freedom (NaN when neither side varies)."""
    v1, v2 = s1 ** 2 / n1, s2 ** 2 / n2
    if v1 + v2 == 0:
        return math.nan
    return (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))


def welch_p(d: float, s1: float, n1: int, s2: float, n2: int, df: float | None = None) -> float:
    """Two-sided p of a difference ``d`` of two means with sample SDs and sizes: Welch's t-test, or,
    with ``df`` given (one side has a single value and borrows the other's SD), t with ``df``."""
    se = math.sqrt(s1 ** 2 / n1 + s2 ** 2 / n2)
    if se == 0:
        return 1.0 if d == 0 else 0.0
    if df is None:
        return float(st.ttest_ind_from_stats(d, s1, n1, 0.0, s2, n2, equal_var=False).pvalue)
    return float(2 * st.t.sf(abs(d) / se, df))


def chance_outside(se: float, df: float, tol: float) -> float:
    """P(|difference| > tol) when the two sides do not differ: the difference is SE times a t
    variate with ``df`` degrees of freedom (0 when neither side varies)."""
    if se == 0 or math.isnan(se) or math.isnan(tol):
        return 0.0 if se == 0 else math.nan
    return float(2 * st.t.sf(tol / se, df))


def count_se(ka: float, na: int, kb: float, nb: int) -> float:
    pa, pb = ka / na, kb / nb
    return math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)


def count_chance_outside(ka: int, na: int, kb: int, nb: int) -> float:
    """P(a 2-SE miss) for two seed counts drawn from one rate, the pooled one: every outcome enumerated."""
    p = (ka + kb) / (na + nb)
    a, b = np.arange(na + 1), np.arange(nb + 1)
    pa, pb = st.binom.pmf(a, na, p), st.binom.pmf(b, nb, p)
    total = 0.0
    for i in a:
        for j in b:
            if abs(i - j * na / nb) > 2 * count_se(i, na, j, nb) * na + 1e-9:
                total += pa[i] * pb[j]
    return float(total)


def fisher_p(k: int, n: int, kp: int, n_pub: int) -> float:
    """Two-sided p of Fisher's exact test of two counts of seeds, ``k`` of ``n`` and ``kp`` of ``n_pub``."""
    return float(st.fisher_exact([[k, n - k], [kp, n_pub - kp]]).pvalue)


def misses_by_chance(p_outside) -> tuple[float, int, int]:
    """Expected number of 2-SE misses with no true difference anywhere, and its 95% range, from the
    Poisson-binomial distribution of independent misses with probabilities ``p_outside``."""
    probs = [float(q) for q in p_outside if not math.isnan(q)]
    dist = np.array([1.0])
    for q in probs:
        dist = np.convolve(dist, [1 - q, q])
    cdf = np.cumsum(dist)
    lo = int(np.searchsorted(cdf, 0.025))
    hi = int(np.searchsorted(cdf, 0.975))
    return float(sum(probs)), lo, hi


# -- intervals, equivalence and power ----------------------------------------------------------


def t_interval(d: float, se: float, df: float, level: float = 0.95) -> tuple[float, float]:
    """``d`` ± t quantile x ``se``: the two-sided ``level`` interval of a t statistic with ``df``
    degrees of freedom (the point itself when ``se`` is 0)."""
    if math.isnan(d) or math.isnan(se) or (se > 0 and math.isnan(df)):
        return math.nan, math.nan
    if se == 0:
        return d, d
    q = float(st.t.ppf(0.5 + level / 2, df))
    return d - q * se, d + q * se


def tost(d: float, se: float, df: float, margin: float, alpha: float = ALPHA) -> dict:
    """Two one-sided t-tests of |difference| < ``margin`` (Schuirmann): the p-value of each, their
    maximum, and the 1 - 2 alpha interval; equivalent when that interval lies inside ±margin."""
    lo, hi = t_interval(d, se, df, 1 - 2 * alpha)
    if math.isnan(lo) or math.isnan(margin):
        return {"p_lower": math.nan, "p_upper": math.nan, "p": math.nan, "lo": lo, "hi": hi, "equivalent": None}
    if se == 0:
        p_lower = p_upper = 0.0 if abs(d) < margin else 1.0
    else:
        p_lower = float(st.t.sf((d + margin) / se, df))   # H0: difference <= -margin
        p_upper = float(st.t.cdf((d - margin) / se, df))  # H0: difference >= +margin
    return {"p_lower": p_lower, "p_upper": p_upper, "p": max(p_lower, p_upper), "lo": lo, "hi": hi,
            "equivalent": bool(-margin < lo and hi < margin)}


def hedges_g_ci(d: float, s1: float, n1: int, s2: float, n2: int, df: float | None = None, level: float = 0.95
                ) -> tuple[float, float, float]:
    """Hedges' g of a difference ``d`` of two means from their sample SDs and sizes, with its
    ``level`` CI from the noncentral t (the t statistic's noncentrality inverted, then scaled).

    ``df``: the degrees of freedom of the pooled SD where they are not n1 + n2 - 2 (one side
    borrows the other's SD, or both a third SD); NaN where the pooled SD is 0 or undefined."""
    df = n1 + n2 - 2 if df is None else df
    pooled = math.sqrt(((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2) / (n1 + n2 - 2)) if n1 + n2 > 2 else s1
    if not df or df <= 1 or math.isnan(pooled) or pooled == 0 or math.isnan(d):
        return math.nan, math.nan, math.nan
    j = 1 - 3 / (4 * df - 1)   # Hedges' small-sample correction, as in ``hedges_g``
    scale = math.sqrt(1 / n1 + 1 / n2)
    t = d / (pooled * scale)
    lo, hi = (_noncentrality(t, df, q) for q in (0.5 + level / 2, 0.5 - level / 2))
    return j * t * scale, j * lo * scale, j * hi * scale


def _noncentrality(t: float, df: float, q: float) -> float:
    """The noncentrality at which a noncentral t with ``df`` has ``t`` at its ``q`` quantile."""
    from scipy.optimize import brentq

    def f(nc):
        return float(st.nct.cdf(t, df, nc)) - q

    width = 10 + abs(t)
    lo, hi = t - width, t + width
    try:
        while f(lo) < 0:   # the cdf falls as the noncentrality grows
            lo -= width
        while f(hi) > 0:
            hi += width
        return float(brentq(f, lo, hi, xtol=1e-10))
    except (ValueError, RuntimeError):
        return math.nan


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a share ``k`` of ``n``."""
    if n == 0:
        return math.nan, math.nan
    z = float(st.norm.ppf(0.5 + level / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def risk_difference(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> tuple[float, float, float]:
    """k1/n1 - k2/n2 with Newcombe's hybrid score interval (his method 10: the two Wilson
    intervals combined), for two independent counts."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, level)
    l2, u2 = wilson(k2, n2, level)
    d = p1 - p2
    return d, d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def paired_risk_difference(x, y, level: float = 0.95) -> tuple[float, float, float]:
    """mean(x) - mean(y) of two 0/1 outcomes of the same units, with Newcombe's interval for
    paired data (1998, method 10: the Wilson intervals combined, less their correlation phi)."""
    x, y = np.asarray(x, bool), np.asarray(y, bool)
    n = len(x)
    a, b, c, e = int((x & y).sum()), int((x & ~y).sum()), int((~x & y).sum()), int((~x & ~y).sum())
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n, level)
    l2, u2 = wilson(a + c, n, level)
    margins = (a + b) * (c + e) * (a + c) * (b + e)
    cross = a * e - b * c
    # Newcombe's phi: continuity-corrected when positive, 0 where a margin is empty
    num_ = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
    phi = num_ / math.sqrt(margins) if margins > 0 else 0.0
    d = p1 - p2
    lo = d - math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    hi = d + math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    return d, max(lo, -1.0), min(hi, 1.0)


def sd_ratio(x, y, level: float = 0.95) -> tuple[float, float, float]:
    """SD(x) / SD(y) of two paired samples, with the Pitman-Morgan interval (the variance ratio
    at which x + c y and x - c y, c its square root, are uncorrelated at ``level``)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    vx, vy = x.var(ddof=1), y.var(ddof=1)
    if n < 3 or vy == 0 or vx == 0:
        return (math.sqrt(vx / vy) if vy > 0 else math.nan), math.nan, math.nan
    r = float(np.corrcoef(x, y)[0, 1])
    q = float(st.t.ppf(0.5 + level / 2, n - 2))
    k = 1 + 2 * (1 - r * r) * q * q / (n - 2)
    ratio = vx / vy
    spread = math.sqrt(k * k - 1)
    return math.sqrt(ratio), math.sqrt(ratio * (k - spread)), math.sqrt(ratio * (k + spread))


def detectable(se: float, df: float, alpha: float = ALPHA, power: float = 0.8) -> float:
    """The smallest true difference a two-sided t-test at ``alpha`` detects with ``power``:
    (t_{1-alpha/2} + t_{power}) x SE, ``df`` degrees of freedom."""
    if math.isnan(se) or math.isnan(df):
        return math.nan
    return float(st.t.ppf(1 - alpha / 2, df) + st.t.ppf(power, df)) * se


def difference_power(d: float, se: float, df: float, alpha: float = ALPHA) -> float:
    """Power of a two-sided t-test at ``alpha`` against a true difference ``d`` (the far tail ignored)."""
    if se == 0:
        return 1.0 if d != 0 else 0.0
    return float(st.t.sf(st.t.ppf(1 - alpha / 2, df) - abs(d) / se, df))


def tost_power(d: float, se: float, df: float, margin: float, alpha: float = ALPHA) -> float:
    """Power of two one-sided t-tests at ``alpha`` to show |difference| < ``margin`` when it is ``d``."""
    if se == 0:
        return 1.0 if abs(d) < margin else 0.0
    q = st.t.ppf(1 - alpha, df)
    return max(0.0, float(st.t.cdf((margin - d) / se - q, df) + st.t.cdf((margin + d) / se - q, df)) - 1.0)


def detectable_share(p: float, n1: int, n2: int, alpha: float = ALPHA, power: float = 0.8) -> float:
    """The smallest change from a share ``p`` (of ``n2``) that a two-sided test at ``alpha`` of a
    share of ``n1`` against it detects with ``power`` (Cohen's h, the arcsine scale)."""
    h = float(st.norm.ppf(1 - alpha / 2) + st.norm.ppf(power)) * math.sqrt(1 / n1 + 1 / n2)
    phi = 2 * math.asin(math.sqrt(p))
    shifts = [abs(math.sin(v / 2) ** 2 - p) for v in (phi + h, phi - h) if 0 <= v <= math.pi]
    return min(shifts) if shifts else math.nan
