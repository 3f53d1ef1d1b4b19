"""Global sensitivity of each treatment's outcomes to the protocol's numbers, with SALib.

Morris screening (elementary effects: ``mu*``, ``sigma``) or a Sobol analysis (Saltelli's
sampling: first-order and total indices with bootstrap intervals) over the knobs every treatment
shares (``params``) and each one's own (``treatments``). Every sample point is a job of the normal
launch path. The model seed is a noise factor, not a knob: it is held common within a Morris
trajectory (a Sobol base sample: its A, B and AB rows) and changes from one to the next, so each
elementary effect (each A/AB difference) compares two networks grown from the same seed, and the
seed's own variance lands in the spread of the effects, not in any knob's index.
"""

from __future__ import annotations

import math
import sys
from contextlib import closing
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from omegaconf import OmegaConf

from ...config import ConfigError, Sensitivity
from ...launch import signals
from ...launch.grid import say, taken
from ...store import read_json
from .. import metrics
from ..base import StudySweeper, check_metrics, result, write_json
from ..space import Knob, knobs


def problem(space: list[Knob]) -> dict:
    """SALib's problem for ``space``: a log-scale knob is sampled in log10 space."""
    return {"num_vars": len(space), "names": [k.key for k in space],
            "bounds": [[math.log10(k.low), math.log10(k.high)] if k.log else [k.low, k.high] for k in space]}


def sample(method: str, prob: dict, n: int, levels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The sample points and, for each, its group (a Morris trajectory, a Sobol base sample)."""
    k = prob["num_vars"]
    if method == "morris":
        from SALib.sample import morris

        X = morris.sample(prob, n, num_levels=levels, seed=seed)
        return X, np.arange(len(X)) // (k + 1)
    from SALib.sample import sobol

    X = sobol.sample(prob, n, calc_second_order=False, seed=seed)
    return X, np.arange(len(X)) // (k + 2)


def analyze(method: str, prob: dict, X: np.ndarray, Y: np.ndarray, levels: int, conf_level: float, resamples: int,
            seed: int) -> dict[str, list[float]]:
    """SALib's indices of outcome ``Y`` at ``X``, as plain lists by name (one value per knob)."""
    if method == "morris":
        from SALib.analyze import morris

        out = morris.analyze(prob, X, Y, num_resamples=resamples, conf_level=conf_level, num_levels=levels, seed=seed)
        keys = ("mu", "mu_star", "sigma", "mu_star_conf")
    else:
        from SALib.analyze import sobol

        out = sobol.analyze(prob, Y, calc_second_order=False, num_resamples=resamples, conf_level=conf_level, seed=seed)
        keys = ("S1", "S1_conf", "ST", "ST_conf")
    return {key: [float(v) for v in out[key]] for key in keys}


def values(space: list[Knob], row: np.ndarray) -> list[Any]:
    """A sample row as the knobs' values (log-scale knobs back from log10, integers rounded)."""
    out = []
    for k, x in zip(space, row):
        v = 10 ** x if k.log else x
        out.append(int(round(v)) if k.integer else float(v))
    return out


class SensitivitySweeper(StudySweeper):
    """``hydra/sweeper=sensitivity``: its settings at ``hydra.sweeper.sensitivity`` (``config.Sensitivity``)."""

    def __init__(self, params: Mapping | None, sensitivity: Mapping) -> None:
        super().__init__(params, "sensitivity", Sensitivity, sensitivity)

    def _spaces(self, arguments: Sequence[str]) -> tuple[dict[str, list[Knob]], list[str]]:
        shared, fixed = knobs(arguments, self.params)
        fixed = [o for o in fixed if not o.startswith("treatment=")]  # each treatment is its own analysis
        spaces = {}
        for t, own in self.settings.treatments.items():
            space = shared + knobs([], own)[0]
            if len(space) < 2:
                raise ConfigError(f"a sensitivity analysis needs at least 2 knobs; {t} has {len(space)}")
            if any(k.choices for k in space):
                raise ConfigError("a sensitivity knob takes interval() or range(), not choice()")
            spaces[t] = space
        return spaces, fixed

    def _jobs(self, spaces, fixed) -> tuple[dict, list]:
        """Every sample point of every treatment, planned (validated); and the plan's jobs."""
        s, planner = self.settings, self.planner("samples")
        plan, all_jobs = {}, []
        for t, space in spaces.items():
            prob = problem(space)
            X, groups = sample(s.method, prob, s.samples, s.levels, s.seed)
            jobs = []
            for row, g in zip(X, groups):
                overrides = [*fixed, f"treatment={t}", *(k.override(v) for k, v in zip(space, values(space, row))),
                             f"seed={s.first_seed + int(g)}"]
                jobs.append(planner.plan(len(all_jobs) + len(jobs), overrides))
            plan[t] = {"space": space, "problem": prob, "X": X, "groups": groups, "jobs": jobs}
            all_jobs += jobs
        return plan, all_jobs

    def _estimate(self, plan: dict) -> str:
        """The study's runtime here and on a cluster, from the stored results of like jobs."""
        timed = {t: v for t, p in plan.items() if (v := _stored_seconds(p["jobs"][0])) is not None}
        missing = [t for t in plan if t not in timed]
        unknown = (f"no stored job like those of {', '.join(missing)} to time them by (run one first, e.g. "
                   f"python -m pruning_lab.run with these settings)")
        if not timed:
            return unknown
        total = sum(timed[t] * len(plan[t]["jobs"]) for t in timed)
        workers = self.launcher.workers()
        cluster = max(timed[t] * math.ceil(len(plan[t]["jobs"]) / 256) for t in timed)
        jobs = f"{', '.join(timed)}'s jobs: " if missing else ""
        return (f"{jobs}about {_hours(total / workers)} here ({workers} workers; a job of "
                + ", ".join(f"{t} {v:.0f} s" for t, v in timed.items())
                + f"), about {_hours(cluster)} on a SLURM cluster running 256 tasks at once, queueing aside"
                + (f"; {unknown}" if missing else ""))

    def sweep(self, arguments: Sequence[str]) -> None:
        s = self.settings
        spaces, fixed = self._spaces(arguments)
        plan, jobs = self._jobs(spaces, fixed)
        check_metrics(s.outcomes, jobs[0], "outcome")
        signals.check()
        say(f"sensitivity ({s.method}) in {self.dir}: {len(jobs)} jobs ("
            + ", ".join(f"{t}: {len(p['jobs'])} = {len(set(p['groups']))} x {len(p['space']) + (1 if s.method == 'morris' else 2)}"
                        for t, p in plan.items()) + "); " + self._estimate(plan))
        with taken(self.dir), closing(self.launcher):
            OmegaConf.save(self.config, self.dir / "multirun.yaml")
            states = self.run(jobs, "samples")
        # every job has ended: a signal during the analysis and its summary changes nothing
        signals.settle()
        record: dict[str, Any] = {"kind": "sensitivity", "method": s.method, "outcomes": list(s.outcomes),
                                  "samples": s.samples, "levels": s.levels, "seed": s.seed,
                                  "conf_level": s.conf_level, "resamples": s.resamples, "fixed": fixed,
                                  "treatments": {}}
        complete = True
        for t, p in plan.items():
            results = [result(j, states) for j in p["jobs"]]
            entry = {"knobs": [k.key for k in p["space"]], "bounds": p["problem"]["bounds"],
                     "log": [k.log for k in p["space"]], "X": p["X"].tolist(),
                     "seeds": [s.first_seed + int(g) for g in p["groups"]], "jobs": [j.hash for j in p["jobs"]],
                     "failed": sum(r is None for r in results), "outcomes": {}}
            for o in s.outcomes:
                Y = np.array([metrics.value(r, o) if r is not None else np.nan for r in results])
                entry["outcomes"][o] = {"Y": [None if np.isnan(y) else float(y) for y in Y]}
                if np.isnan(Y).any():
                    complete = False
                    continue
                entry["outcomes"][o]["indices"] = analyze(s.method, p["problem"], p["X"], Y, s.levels,
                                                          s.conf_level, s.resamples, s.seed)
            record["treatments"][t] = entry
        write_json(self.dir / "sensitivity.json", record)
        for t, entry in record["treatments"].items():
            for o, out in entry["outcomes"].items():
                idx = out.get("indices")
                if idx is None:
                    say(f"{t} {o}: not analysed ({entry['failed']} of its jobs failed)")
                    continue
                key = "mu_star" if s.method == "morris" else "ST"
                ranked = sorted(zip(entry["knobs"], idx[key]), key=lambda kv: -abs(kv[1]))
                say(f"{t} {o}: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked) + f" ({key})")
        say(f"tables and figures: python -m pruning_lab.aggregate {self.dir}")
        if not complete:
            sys.exit(1)


def _stored_seconds(job) -> float | None:
    """The mean time of the jobs in ``job``'s store with its treatment, network and course (None: none)."""
    root = Path(job.store) / "results"
    if not root.is_dir():
        return None
    want = (job.job.treatment.name, job.job.model.hidden, job.job.longitudinal.cycles, job.job.data.train_size)
    seconds = []
    for path in sorted(root.glob("*.json"))[:2000]:
        try:
            r = read_json(path)
        except Exception:  # a damaged file says nothing of time
            continue
        c = (r or {}).get("config") or {}
        try:
            have = (c["treatment"]["name"], tuple(c["model"]["hidden"]), c["longitudinal"]["cycles"], c["data"]["train_size"])
        except (KeyError, TypeError):
            continue
        if have == want and r.get("wall_seconds"):
            seconds.append(float(r["wall_seconds"]))
    return sum(seconds) / len(seconds) if seconds else None


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
