"""The studies' settings (hydra.sweeper.search, hydra.sweeper.sensitivity), checked as a config is."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass

from .schema import FIXED, SEED_MAX, Count, Float, Int, Seed, Size, Text

Seeds = tuple[Seed, ...]  # a study's model seeds, each also a data seed (data.seed is ${seed})


def _distinct(seeds: tuple[int, ...], key: str) -> None:
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:  # the same job twice: a seed counted twice in a mean, not a second sample
        raise ValueError(f"{key} must not repeat a seed, got {repeated[0]} twice")


@dataclass(frozen=True, config=FIXED)
class Heldout:
    seeds: Seeds  # seeds the search never sees: the chosen regimens are re-run on them
    best: Size  # how many regimens of the Pareto front are chosen


@dataclass(frozen=True, config=FIXED)
class Search:
    objectives: Annotated[dict[str, Literal["maximize", "minimize"]], Field(min_length=1)]
    seeds: Annotated[Seeds, Field(min_length=1)]
    trials: Size
    batch: Optional[Size]
    sampler: Literal["tpe", "nsga2", "random"]
    sampler_seed: Count  # a trial's sampler is seeded sampler_seed + trials asked before it, in 32 bits
    storage: Optional[Text]
    study_name: Text
    heldout: Heldout

    @model_validator(mode="after")
    def _seeds_apart(self) -> Search:
        _distinct(self.seeds, "hydra.sweeper.search.seeds")
        _distinct(self.heldout.seeds, "hydra.sweeper.search.heldout.seeds")
        shared = sorted(set(self.heldout.seeds) & set(self.seeds))
        if shared:
            raise ValueError(f"held-out seeds must be seeds the search never sees; shared: {shared} "
                             f"(hydra.sweeper.search.heldout.seeds and hydra.sweeper.search.seeds)")
        if self.sampler_seed + self.trials > 2**32 - 1:
            raise ValueError(f"hydra.sweeper.search.sampler_seed must be at most 2**32 - 1 - trials "
                             f"({2**32 - 1 - self.trials}), got {self.sampler_seed}")
        return self


@dataclass(frozen=True, config=FIXED)
class Sensitivity:
    method: Literal["morris", "sobol"]
    treatments: Annotated[dict[str, dict[str, Any]], Field(min_length=1)]
    outcomes: Annotated[tuple[Text, ...], Field(min_length=1)]
    # at least 2: one Morris trajectory has no spread (sigma), one Sobol base sample no interval
    samples: Annotated[Int, Field(ge=2)]
    levels: Annotated[Int, Field(ge=2)]
    seed: Count
    first_seed: Seed
    conf_level: Annotated[Float, Field(gt=0, lt=1)]
    resamples: Annotated[Int, Field(ge=2)]  # a bootstrap of 1 has no spread: its intervals come out NaN

    @model_validator(mode="after")
    def _sampled_as_salib_takes_it(self) -> Sensitivity:
        key = "hydra.sweeper.sensitivity"
        if self.method == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"{key}.samples must be a power of 2 for Sobol's sequence, got {self.samples}")
        if self.method == "morris" and self.levels % 2:  # SALib: an odd grid biases the sample
            raise ValueError(f"{key}.levels must be even for Morris' grid, got {self.levels}")
        if self.first_seed + self.samples - 1 > SEED_MAX:  # trajectory (base sample) g has seed first_seed + g
            raise ValueError(f"{key}.first_seed must be at most {SEED_MAX} - samples + 1 ({SEED_MAX - self.samples + 1}), "
                             f"got {self.first_seed}")
        return self
