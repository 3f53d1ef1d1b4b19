"""Refuse a bad config before Hydra writes anything: one line on stderr, exit status 2.

Hydra creates run and sweep directories before the task function runs, so validation has to
happen in the run/multirun start callbacks. For a multirun every job of the sweep is composed
and checked up front, so a typo in the tenth value does not leave nine finished jobs behind.
"""

from __future__ import annotations

import sys
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from .config import ConfigError, Job


def refuse(message: str) -> None:
    print(f"pruning-lab: error: {message}", file=sys.stderr)
    sys.exit(2)


def sweep_overrides(config: DictConfig) -> list[list[str]]:
    """Every job's overrides, expanded as Hydra's basic sweeper does."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    params = config.hydra.sweeper.get("params") or {}
    task = list(task) + [f"{k}={v}" for k, v in params.items()]
    parsed = OverridesParser.create().parse_overrides(overrides=task)
    return [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # Hydra's missing-option message lists the choices on the following lines; keep them
    if len(lines) > 1 and "Available options" in text:
        choices = [ln for ln in lines if not ln.endswith(":") and ln != lines[0]]
        return f"{lines[0]}; choose from: {', '.join(choices)}"
    return lines[0]


class ValidateConfig(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            Job.from_config(config)
        except ConfigError as e:
            refuse(str(e))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        loader = GlobalHydra.instance().config_loader()
        try:
            jobs = sweep_overrides(config)
        except Exception as e:
            refuse(one_line(e))
        for overrides in jobs:
            try:
                Job.from_config(loader.load_sweep_config(config, overrides))
            except ConfigError as e:
                refuse(f"{e} (job {' '.join(overrides)})")
            except Exception as e:  # unknown group option, bad override syntax, ...
                refuse(f"{one_line(e)} (job {' '.join(overrides)})")
