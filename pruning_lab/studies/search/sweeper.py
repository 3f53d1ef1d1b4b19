"""Regimen search: Optuna's ask-and-tell over a space of knobs, each trial a regimen run on K seeds.

A trial is one point of the space (``hydra.sweeper.params`` or sweep overrides on the command
line: ``treatment.fraction=interval(0.1,0.5)``), evaluated on the same K seeds as every other
trial (paired), as K jobs of the normal launch path; its objective values are the seed means of
named metrics (``treated.profile.2.5: maximize``). Trials run in batches as wide as the
launcher's workers. Optuna's own storage keeps the study (SQLite in the study's directory, or a
journal file for several processes or SLURM nodes): a search stopped by a signal or a killed
node resumes where it stopped, its unfinished trials evaluated (from the store where their
jobs had ended) and told, none lost and none asked twice. At the end, the best regimens are
re-run on held-out seeds the search never saw, beside the regimen the search started from, and
written as ready-to-run treatment files.
"""

from __future__ import annotations

import logging
import math
import sys
import warnings
from contextlib import closing
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import OmegaConf

from ...config import ConfigError, Search
from ...launch import signals
from ...launch.grid import say, taken
from ...launch.overrides import override_value
from ...tree import leaves
from ..base import StudySweeper, append_line, check_metrics, mean, result, trial_list, write_json
from ..metrics import value
from ..space import Knob, knobs


class SearchSweeper(StudySweeper):
    """``hydra/sweeper=search``: its settings at ``hydra.sweeper.search`` (``config.Search``)."""

    def __init__(self, params: Mapping | None, search: Mapping) -> None:
        super().__init__(params, "search", Search, search)

    def setup(self, *, hydra_context, task_function, config) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        _check_storage(self.settings.storage)

    # -- before anything runs -------------------------------------------------------------

    @property
    def seeds(self) -> list[int]:
        return list(self.settings.seeds)

    @property
    def objectives(self) -> dict[str, str]:
        return self.settings.objectives

    def _probe(self, fixed: list[str], space: list[Knob]) -> None:
        """Every end of every knob planned (validated) once: an unknown key, or a bound out of its
        knob's range, is refused before any job runs."""
        planner = self.planner("trials")
        lows = [f"{k.key}={k.corners()[0]}" for k in space]
        probes = []
        for i, k in enumerate(space):
            for v in k.corners():
                probes.append(planner.plan(len(probes), [*fixed, *lows[:i], k.override(v), *lows[i + 1:],
                                                         f"seed={self.seeds[0]}"]))
        check_metrics(list(self.objectives), probes[0])

    # -- the study ----------------------------------------------------------------------------

    def _storage(self):
        import optuna

        self.dir.mkdir(parents=True, exist_ok=True)
        if self.settings.storage in (None, "sqlite"):
            return f"sqlite:///{(self.dir / 'study.db').resolve()}"
        if self.settings.storage == "journal":
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend

            return JournalStorage(JournalFileBackend(str((self.dir / "study.journal").resolve())))
        return self.settings.storage  # an Optuna storage URL (a shared database)

    def _study(self):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = self._storage()
        study = optuna.create_study(study_name=self.settings.study_name, storage=storage, load_if_exists=True,
                                    directions=[self.objectives[m] for m in self.objectives])
        if study.metric_names != list(self.objectives):  # what optuna-dashboard labels its axes with
            with warnings.catch_warnings():  # "experimental" since optuna 3.2, and the only way to name them
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.set_metric_names(list(self.objectives))
        # a resumed search draws on from where it stopped, not again from the same seed
        seed = self.settings.sampler_seed + len(study.trials)
        sampler = {"tpe": lambda: optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True),
                   "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
                   "random": lambda: optuna.samplers.RandomSampler(seed=seed)}[self.settings.sampler]()
        return optuna.load_study(study_name=self.settings.study_name, storage=storage, sampler=sampler)

    def sweep(self, arguments: Sequence[str]) -> None:
        import optuna
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
        from optuna.trial import TrialState

        space, fixed = knobs(arguments, self.params)
        if not space:
            raise ConfigError("a search needs a space: hydra.sweeper.params or overrides such as "
                              "treatment.fraction=interval(0.1,0.5)")
        self._probe(fixed, space)
        signals.check()
        distributions = {k.key: CategoricalDistribution(k.choices) if k.choices else
                         (IntDistribution(int(k.low), int(k.high), log=k.log) if k.integer
                          else FloatDistribution(k.low, k.high, log=k.log)) for k in space}
        by_key = {k.key: k for k in space}
        trials, width = self.settings.trials, self.settings.batch or self.launcher.workers()
        with taken(self.dir), closing(self.launcher):
            study = self._study()
            OmegaConf.save(self.config, self.dir / "multirun.yaml")
            done = sum(t.state.is_finished() for t in study.trials)
            say(f"search in {self.dir}: {trials} trials x {len(self.seeds)} seeds "
                f"({trials * len(self.seeds)} jobs; {done} trials done), batches of {width}; "
                f"objectives: {', '.join(f'{m} {d}' for m, d in self.objectives.items())}")
            planner = self.planner("trials")
            # trials left unfinished by a stopped run are evaluated first, under their own numbers
            pending = [t for t in study.trials if t.state == TrialState.RUNNING]
            try:
                while True:
                    finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
                    left = trials - finished - len(pending)
                    batch = pending[:width] + [study.ask(distributions)
                                               for _ in range(max(0, min(width - len(pending), left)))]
                    pending = pending[width:]
                    if not batch:
                        break
                    self._evaluate(study, planner, fixed, by_key, batch)
            except BaseException:
                complete = sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
                say(f"search stopped with {complete} of {trials} trials complete; the same command resumes it")
                raise
            self._end(study, fixed, by_key)

    def _overrides(self, fixed: list[str], by_key: dict[str, Knob], params: dict) -> list[str]:
        return [*fixed, *(by_key[k].override(v) for k, v in params.items())]

    def _evaluate(self, study, planner, fixed, by_key, batch) -> None:
        from optuna.trial import TrialState

        jobs = {t.number: [planner.plan(t.number * len(self.seeds) + i, [*self._overrides(fixed, by_key, t.params),
                                                                         f"seed={s}"])
                           for i, s in enumerate(self.seeds)] for t in batch}
        states = self.run([j for js in jobs.values() for j in js],
                          f"trials {', '.join(str(t.number) for t in batch)}")
        for t in batch:
            per_seed = {m: [] for m in self.objectives}
            ok = True
            for j in jobs[t.number]:
                r = result(j, states)
                if r is None:
                    ok = False
                    break
                for m in self.objectives:
                    per_seed[m].append(value(r, m))
            values = [mean(per_seed[m]) for m in self.objectives] if ok else None
            ok = values is not None and not any(math.isnan(v) for v in values)
            # the ledger first: a trial told but not recorded would be lost to the tables
            append_line(self.dir / "trials.jsonl", {"trial": t.number, "params": t.params, "seeds": self.seeds,
                                                    "values": values if ok else None, "per_seed": per_seed,
                                                    "jobs": [j.hash for j in jobs[t.number]]})
            if ok:
                study.tell(t.number, values)
            else:
                study.tell(t.number, state=TrialState.FAIL)

    # -- the end: held-out seeds, treatment files, the record -----------------------------------

    def _front(self, study) -> list:
        from optuna.trial import TrialState

        complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
        if not complete:
            return []
        front = sorted(study.best_trials, key=lambda t: (t.values[0], t.number))
        best = self.settings.heldout.best
        if len(front) <= best:
            return front
        # spread along the front: its two ends and evenly between
        at = [round(i * (len(front) - 1) / (best - 1)) for i in range(best)] if best > 1 else [0]
        return [front[i] for i in dict.fromkeys(at)]

    def _end(self, study, fixed, by_key) -> None:
        from optuna.trial import TrialState

        trials = study.trials
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        failed = sum(t.state == TrialState.FAIL for t in trials)
        record: dict[str, Any] = {
            "kind": "search", "study_name": self.settings.study_name, "storage": str(self.settings.storage or "sqlite"),
            "objectives": self.objectives, "seeds": self.seeds, "heldout_seeds": list(self.settings.heldout.seeds),
            "space": {k: {"low": v.low, "high": v.high, "integer": v.integer, "log": v.log, "choices": list(v.choices)}
                      for k, v in by_key.items()},
            "fixed": fixed, "trials": len(trials), "complete": len(complete), "failed": failed, "chosen": []}
        if not complete:
            signals.settle()  # the ending is decided: a signal after it changes nothing
            write_json(self.dir / "search.json", record)
            say(f"search: no trial completed ({len(trials)} asked, {failed} failed): nothing to choose; "
                f"see the failed jobs above")
            sys.exit(1)
        chosen = self._front(study)
        heldout = {}
        held = self.settings.heldout.seeds
        if held:
            planner = self.planner("heldout")
            regimens = [(f"trial {t.number}", self._overrides(fixed, by_key, t.params)) for t in chosen]
            regimens.append(("start", list(fixed)))  # the regimen as shipped, for comparison
            H = len(held)
            jobs = {name: [planner.plan(r * H + i, [*o, f"seed={s}"]) for i, s in enumerate(held)]
                    for r, (name, o) in enumerate(regimens)}
            states = self.run([j for js in jobs.values() for j in js], "held-out seeds")
            for name, js in jobs.items():
                results = [result(j, states) for j in js]
                heldout[name] = {"jobs": [j.hash for j in js],
                                 "per_seed": {m: [value(r, m) if r else None for r in results]
                                              for m in self.objectives}}
        signals.settle()  # every job has ended: a signal during the summary changes nothing
        for t in chosen:
            path = self._write_treatment(t, fixed, by_key)
            record["chosen"].append({"trial": t.number, "params": t.params, "values": t.values,
                                     "treatment": str(path) if path else None})
        record["heldout"] = heldout
        record["front"] = [t.number for t in study.best_trials]
        write_json(self.dir / "search.json", record)
        say(f"search: {len(complete)} of {len(trials)} trials complete ({failed} failed); Pareto front: "
            f"{trial_list(record['front'])}; chosen: {trial_list(t.number for t in chosen)}")
        for c in record["chosen"]:
            held = heldout.get(f"trial {c['trial']}", {}).get("per_seed", {})
            parts = []
            for m, v in zip(self.objectives, c["values"]):
                h = [x for x in held.get(m, []) if x is not None]
                parts.append(f"{m} {v:.2f}" + (f" (held-out {mean(h):.2f})" if h else ""))
            say(f"  trial {c['trial']} {c['params']}: {'; '.join(parts)}")
        start = heldout.get("start", {}).get("per_seed", {})
        if start:
            say("  as shipped, held-out: " + "; ".join(
                f"{m} {mean([x for x in v if x is not None]):.2f}" for m, v in start.items() if any(x is not None for x in v)))
        say(f"tables and figures: python -m pruning_lab.aggregate {self.dir}")

    def _write_treatment(self, trial, fixed, by_key) -> Path | None:
        """The trial's regimen as a treatment file (``<study>/treatment/<name>.yaml``), ready to run
        with ``hydra.searchpath=[file://<study>] treatment=<name>``; None if the space sets nothing
        of the treatment."""
        knobs_set = {k[len("treatment."):]: v for k, v in trial.params.items() if k.startswith("treatment.")}
        if not knobs_set:
            return None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(fixed))
        treatment = OmegaConf.to_container(cfg.treatment, resolve=False)
        base = treatment["name"]
        treatment.update(knobs_set)
        treatment["name"] = f"{base}_search{trial.number}"
        treatment["label"] = f"{treatment.get('label', base)} (search trial {trial.number})"
        path = self.dir / "treatment" / f"{treatment['name']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        setting = " ".join(self._setting(cfg))
        header = (f"# {base} with the knobs of search trial {trial.number} ({self.dir}), in the search's setting:\n"
                  f"#   python -m pruning_lab.run -m hydra.searchpath=[file://{self.dir.resolve()}] "
                  f"treatment={treatment['name']}{' ' + setting if setting else ''} seed='range(200,210)'\n")
        path.write_text(header + OmegaConf.to_yaml(OmegaConf.create(treatment)))
        return path

    def _setting(self, cfg) -> list[str]:
        """The overrides that compose the search's setting (``cfg``: its config) from the defaults: the
        options of its groups and the values it sets apart from theirs, the treatment and seed aside."""
        from hydra.types import RunMode

        loader = self.hydra_context.config_loader
        chosen = dict(cfg.hydra.runtime.choices)
        default = dict(loader.load_configuration("config", overrides=[], run_mode=RunMode.RUN).hydra.runtime.choices)
        groups = [f"{g}={o}" for g, o in chosen.items() if not g.startswith("hydra") and g not in SETTING_ASIDE
                  and o != default.get(g) and o is not None]
        base = loader.load_configuration("config", overrides=groups, run_mode=RunMode.RUN)
        mine, theirs = (dict(leaves({k: v for k, v in OmegaConf.to_container(c, resolve=False).items()
                                     if k not in ("hydra", *SETTING_ASIDE)}, into_lists=False)) for c in (cfg, base))
        return groups + [f"{'' if k in theirs else '+'}{k}={override_value(v)}" for k, v in mine.items()
                         if theirs.get(k, _ABSENT) != v]


# what a regimen's own command sets itself, or what does not determine a result
SETTING_ASIDE = ("treatment", "experiment", "seed", "paths", "force", "control")
_ABSENT = object()


def _check_storage(storage: str | None) -> None:
    """``ConfigError`` for a storage that is neither a file kind nor a database URL Optuna can open."""
    if storage in (None, "sqlite", "journal"):
        return
    # Optuna's storage URLs are SQLAlchemy's, which it installs: SQLAlchemy's parser and dialect
    # registry tell a malformed URL or an unknown database apart without connecting (Optuna has no
    # public check short of opening the storage, which creates it)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(storage).get_dialect()
    except (ArgumentError, NoSuchModuleError) as e:
        raise ConfigError(f"hydra.sweeper.search.storage must be null, sqlite, journal or a database URL "
                          f"(sqlite:///study.db, postgresql://...), got {storage!r}: {e}") from None


logging.getLogger("optuna").setLevel(logging.WARNING)
