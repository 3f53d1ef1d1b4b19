"""pruning-lab's sweepers, launchers and config search path, named where Hydra looks for plugins (it instantiates
plugins only from the ``hydra_plugins`` package); the code is in ``pruning_lab.launch`` and
``pruning_lab.studies``. ``hydra/sweeper`` chooses the sweeper (conf/hydra/sweeper/),
``hydra/launcher`` the launcher (conf/hydra/launcher/); the user's own config folder is
searched after conf/ (``pruning_lab.launch.folders``)."""

from hydra.plugins.search_path_plugin import SearchPathPlugin

from pruning_lab.launch import cluster, folders, grid, local
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


class OwnConfigFolder(SearchPathPlugin):
    """The user's config folder (``$PRUNING_LAB_CONF``, or ``./conf``) after the shipped conf/."""

    def manipulate_search_path(self, search_path) -> None:
        folders.add_own_folder(search_path)
