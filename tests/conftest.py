from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from pruning_lab.config import Job

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# a job small enough to run the whole protocol in about a second
TINY = [
    "baseline.epochs=2", "data.train_size=600", "data.test_size=400", "data.clean_size=200",
    "model.hidden=[48,32]", "longitudinal.cycles=2",
]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def compose_job(*overrides: str) -> Job:
    """The validated Job for ``overrides``, composed from the real conf/ as the CLI does."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return Job.from_config(compose("config", overrides=list(overrides)))


def tiny_job(*overrides: str) -> Job:
    return compose_job(*TINY, *overrides)
