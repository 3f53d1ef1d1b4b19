"""The one config schema: what a composed config must hold, as frozen pydantic dataclasses, and
``validate``, which turns it into a ``Config`` or refuses it in one line naming the key at fault.

- ``schema.py``: ``ConfigError`` and ``shown``, the field types, the phases treatments are written
  in (``Regrow``, ``Train``, ``Modulate``) and the config groups;
- ``treatments.py``: what a derived treatment removes (``remove_phases``) and a treatment's knobs;
- ``replay.py``: what rng=notebook can follow (``NOTEBOOK_ARMS``, ``draw_pattern``);
- ``job.py``: ``Job``, ``Config``, the job's hash, ``resolve`` and ``validate``;
- ``studies.py``: the studies' settings (``Search``, ``Sensitivity``).

Each module imports only those listed before it; the rest of the package imports from here.
"""

from .job import (ADDED, ENGINES, NOISE_STREAM, RNG, RUN_KEYS, SCHEMA, Config, Job, Paths, checked, content_hash, job_hash,
                  resolve, validate)
from .replay import NOTEBOOK_ARMS, draw_pattern
from .schema import (PHASES, BaselineConfig, ConfigError, DataConfig, LongitudinalConfig, ModelConfig, Modulate,
                     OnsetConfig, PathologyConfig, Phase, Regrow, StressConfig, Train, TreatmentConfig, printable,
                     shown)
from .studies import Heldout, Search, Sensitivity
from .treatments import knob_record, referred_knobs, typed_keys
