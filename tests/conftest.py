from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import pruning_lab  # noqa: F401  (first: it sets the numerics before torch and numba load)
import pytest
import torch
from hydra import compose, initialize_config_dir
from hypothesis import Phase, settings

from pruning_lab import numerics
from pruning_lab.config import Job

if "MUTANT_UNDER_TEST" in os.environ:  # under make mutants (mutmut)
    # the first failing example kills the mutant; shrinking it to the simplest one is wasted time
    settings.register_profile("mutants", phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.load_profile("mutants")

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# the whole protocol in well under a second of compute; a test that needs more training or
# more cycles says so in its own overrides
TINY = ["baseline.epochs=1", "treatment.epochs=1", "longitudinal.cycles=1", "data.train_size=500",
        "data.test_size=200", "data.clean_size=100", "model.hidden=[32,32]"]


# the one reason a test of the 16-lane products skips; QEMU emulates no AVX-512 (docs/portability.md)
needs_avx512 = pytest.mark.skipif(not numerics.has_avx512(), reason="this CPU lacks AVX-512 (x86-64-v4), so the "
                                  "16-lane products cannot run here; the 8-lane ones are tested")


@pytest.fixture(autouse=True)
def one_thread():
    # tests that call the library below protocol.run compute as a job does, whatever ran before
    # them; run's own pin is tested by setting another count first (test_multirun.py)
    torch.set_num_threads(1)


def compose_job(*overrides: str) -> Job:
    """The validated Job for ``overrides``, composed from the real conf/ as the CLI does."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return Job.from_config(compose("config", overrides=list(overrides)))


@functools.cache
def shipped() -> Job:
    """The Job of conf/ as shipped (paper 2's protocol, the ketamine-like treatment, seed 0)."""
    return compose_job()


def data_config(**changes):
    """conf/'s data group, with ``changes``."""
    return dataclasses.replace(shipped().data, **changes)


def model_config(**changes):
    """conf/'s model group, with ``changes``."""
    return dataclasses.replace(shipped().model, **changes)


def stress_config(**changes):
    """conf/'s stress group, with ``changes``."""
    return dataclasses.replace(shipped().stress, **changes)


def tiny_job(*overrides: str) -> Job:
    """``compose_job`` of TINY, then ``overrides``."""
    return compose_job(*TINY, *overrides)
