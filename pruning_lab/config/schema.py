"""The config schema: what a composed config must hold, as frozen pydantic dataclasses.

Hydra composes YAML and every default lives in ``conf/``: the schema declares each key's type and
bounds and sets no value itself, with one exception: a train phase's internal noise is off unless
it names it (``noise_start``, ``noise_end``), as the protocol trains every phase but the SSRI-like
ones, because a phase is an item of a list and Hydra gives list items no defaults. Here: the field
types, the phases treatments are written in and the config groups; the job they make up is in
``job.py``.
"""

from __future__ import annotations

import re
import reprlib
from typing import Annotated, Literal, Union

from pydantic import ConfigDict, Field, Strict
from pydantic.dataclasses import dataclass


class ConfigError(ValueError):
    """A config value the protocol cannot run with; its message is one line."""


def shown(value: object, width: int = 80) -> str:
    """``value`` as a message quotes it: its repr, on one line, cut to about ``width`` characters."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = width
    # a str's repr escapes its newlines; an object's may span lines (an array, a frame)
    return printable(re.sub(r"\s*[\r\n]\s*", " ", short.repr(value)))


def printable(text: str) -> str:
    """``text`` with each character a terminal would not print (a newline, a NUL) escaped, as Python writes it."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


# strict: a bool or a string is not a number, nor 2.0 a count; an int is a float, read as one
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Int = Annotated[int, Strict()]
Text = Annotated[str, Strict(), Field(min_length=1)]
Fraction = Annotated[Float, Field(ge=0, le=1)]
Sigma = Annotated[Float, Field(ge=0)]  # a standard deviation (of noise, of the data, of new weights)
Count = Annotated[Int, Field(ge=0)]
Size = Annotated[Int, Field(ge=1)]
FIXED = ConfigDict(extra="forbid")
# the data streams are NumPy RandomState(1000 * seed + 300 at most), seeded with 32 bits
SEED_MAX = (2**32 - 301) // 1000
Seed = Annotated[Int, Field(ge=0, le=SEED_MAX)]


# -- phases: the vocabulary treatments are written in ------------------------------------------


@dataclass(frozen=True, config=FIXED)
class Regrow:
    """Reinstate a fraction of each layer's pruned positions (gradient-scored or random)."""

    fraction: Annotated[Float, Field(gt=0, le=1)]
    score: Literal["gradient", "random"]
    batches: Size  # mini-batches over which |gradient| is summed
    init_std: Sigma  # regrown weights ~ N(0, init_std^2)
    kind: Literal["regrow"] = "regrow"  # the phase's tag, not a setting


@dataclass(frozen=True, config=FIXED)
class Train:
    """Masked Adam training; internal noise fades linearly from noise_start to noise_end (off unless given)."""

    epochs: Count
    lr: Annotated[Float, Field(gt=0)]
    noise_start: Sigma = 0.0
    noise_end: Sigma = 0.0
    kind: Literal["train"] = "train"

    def sigma(self, epoch: int) -> float:
        """Internal noise in epoch ``epoch`` (0-based): start in the first, end in the last."""
        if self.epochs <= 1:
            return self.noise_start
        return self.noise_start + (self.noise_end - self.noise_start) * epoch / (self.epochs - 1)


@dataclass(frozen=True, config=FIXED)
class Modulate:
    """Switch tonic inhibition: damping of hidden activations and their nonlinearity."""

    damping: Annotated[Float, Field(gt=0, le=1)]  # an inhibition: it scales activity down, never up
    activation: Literal["relu", "tanh"]
    kind: Literal["modulate"] = "modulate"


PHASES = {cls.kind: cls for cls in (Regrow, Train, Modulate)}
Phase = Annotated[Union[Regrow, Train, Modulate], Field(discriminator="kind")]


# -- config groups ----------------------------------------------------------------------------


@dataclass(frozen=True, config=FIXED)
class DataConfig:
    centres: Annotated[tuple[tuple[Float, Float], ...], Field(min_length=2)]
    spread: Sigma
    train_size: Size
    test_size: Size
    clean_size: Size
    batch_size: Size
    seed: Seed


@dataclass(frozen=True, config=FIXED)
class ModelConfig:
    inputs: Literal[2]  # the cluster task is 2-D
    hidden: Annotated[tuple[Size, ...], Field(min_length=1)]
    classes: Int


@dataclass(frozen=True, config=FIXED)
class BaselineConfig:
    epochs: Count
    lr: Annotated[Float, Field(gt=0)]


@dataclass(frozen=True, config=FIXED)
class PathologyConfig:
    sparsity: Annotated[Float, Field(ge=0, lt=1)]
    scope: Literal["per_layer", "global"]
    relapse_fraction: Fraction
    relapse_cap: Annotated[Float, Field(ge=0, lt=1)]


@dataclass(frozen=True, config=ConfigDict(extra="ignore"))  # its other keys are knobs (validate checks them)
class TreatmentConfig:
    name: Text
    phases: tuple[Phase, ...]
    maintenance: tuple[Phase, ...]
    label: Text


@dataclass(frozen=True, config=FIXED)
class StressConfig:
    input_sigma: Sigma
    internal_sigma: Sigma
    profile: tuple[Sigma, ...]
    # the "extreme noise" condition the onset course scores (internal noise only)
    extreme_sigma: Sigma


@dataclass(frozen=True, config=FIXED)
class LongitudinalConfig:
    cycles: Count
    prune_fraction: Fraction
    relapse_threshold: Float


@dataclass(frozen=True, config=FIXED)
class OnsetConfig:
    """The treatment's time course: scored every ``every`` epochs (0: not at all)."""

    every: Count
    response: Annotated[Float, Field(ge=0, le=100)]  # combined-stress accuracy (%) that counts as a response
