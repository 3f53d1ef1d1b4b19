"""Hydra's basic sweeper, without its check that composes every job's config one by one.

pruning-lab's validation (``pruning_lab.hydra_callbacks``) has already composed the sweep, once
per distinct combination of config groups, and refused any job that cannot be composed.
"""

from __future__ import annotations

from typing import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class Sweeper(BasicSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        pass
