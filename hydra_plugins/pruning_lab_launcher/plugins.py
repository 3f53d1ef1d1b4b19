"""pruning-lab's sweeper and launchers, named where Hydra looks for plugins (it instantiates
plugins only from the ``hydra_plugins`` package); the code is in ``pruning_lab.launch``."""

from pruning_lab.launch import cluster, local, search, sensitivity, sweeper


class Sweeper(sweeper.PlanningSweeper):
    """Hydra's basic sweep syntax, every job planned and validated before launch."""


class LocalLauncher(local.LocalLauncher):
    """Worker processes on this machine (joblib's loky executor)."""


class SlurmLauncher(cluster.SlurmLauncher):
    """A SLURM array through submitit."""


class SubmititLocalLauncher(cluster.SubmititLocalLauncher):
    """submitit's local executor: the SLURM path on this machine."""


class SearchSweeper(search.SearchSweeper):
    """Regimen search with Optuna (ask-and-tell) on the launch path."""


class SensitivitySweeper(sensitivity.SensitivitySweeper):
    """Global sensitivity (SALib's Morris or Sobol) on the launch path."""
