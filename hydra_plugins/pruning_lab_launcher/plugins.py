"""pruning-lab's sweepers and launchers, named where Hydra looks for plugins (it instantiates
plugins only from the ``hydra_plugins`` package); the code is in ``pruning_lab.launch`` and
``pruning_lab.studies``. ``hydra/sweeper`` chooses the sweeper (conf/hydra/sweeper/),
``hydra/launcher`` the launcher (conf/hydra/launcher/)."""

from pruning_lab.launch import cluster, grid, local
from pruning_lab.studies.search import sweeper as search
from pruning_lab.studies.sensitivity import sweeper as sensitivity


class GridSweeper(grid.GridSweeper):
    """A grid in Hydra's basic syntax, every job planned before launch (``hydra/sweeper=grid``, the default)."""


class SearchSweeper(search.SearchSweeper):
    """A regimen search with Optuna (``hydra/sweeper=search``)."""


class SensitivitySweeper(sensitivity.SensitivitySweeper):
    """A global sensitivity study with SALib (``hydra/sweeper=sensitivity``)."""


class LocalLauncher(local.LocalLauncher):
    """Worker processes on this machine (joblib's loky executor)."""


class SlurmLauncher(cluster.SlurmLauncher):
    """A SLURM array through submitit."""


class SubmititLocalLauncher(cluster.SubmititLocalLauncher):
    """submitit's local executor: the SLURM path on this machine."""
