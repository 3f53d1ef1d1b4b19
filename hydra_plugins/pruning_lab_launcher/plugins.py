"""pruning-lab's sweeper and launchers, named where Hydra looks for plugins (it instantiates
plugins only from the ``hydra_plugins`` package); the code is in ``pruning_lab.launch``."""

from typing import Any, Mapping

from hydra.plugins.sweeper import Sweeper as HydraSweeper

from pruning_lab.config import ConfigError
from pruning_lab.launch import cluster, local, search, sensitivity, sweeper

STUDIES = ("grid", "search", "sensitivity")


class Sweeper(HydraSweeper):
    """The sweep ``study`` asks for: a grid in Hydra's basic syntax, planned before launch (the
    default); a regimen search (Optuna); a sensitivity study (SALib). An experiment preset
    chooses it with ``hydra.sweeper.study``."""

    def __init__(self, study: str = "grid", params: Mapping | None = None, search: Mapping | None = None,
                 sensitivity: Mapping | None = None) -> None:
        self.study, self.params = study, params
        self.settings = {"search": dict(search or {}), "sensitivity": dict(sensitivity or {})}

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        if self.study not in STUDIES:
            raise ConfigError(f"hydra.sweeper.study must be one of {', '.join(STUDIES)}, got {self.study!r}")
        kinds = {"grid": sweeper.PlanningSweeper, "search": search.SearchSweeper,
                 "sensitivity": sensitivity.SensitivitySweeper}
        extra = self.settings.get(self.study, {})
        self.chosen = kinds[self.study](params=self.params, **extra)
        self.chosen.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: Any) -> Any:
        return self.chosen.sweep(arguments)


class LocalLauncher(local.LocalLauncher):
    """Worker processes on this machine (joblib's loky executor)."""


class SlurmLauncher(cluster.SlurmLauncher):
    """A SLURM array through submitit."""


class SubmititLocalLauncher(cluster.SubmititLocalLauncher):
    """submitit's local executor: the SLURM path on this machine."""
