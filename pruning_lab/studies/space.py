"""A study's space of knobs, written in Hydra's own sweep syntax.

``interval(lo,hi)`` a float range (``int(interval(2,20))`` integers, ``tag(log,interval(...))``
on a log scale), ``range(a,b[,step])`` and ``choice(a,b,...)`` discrete values. A knob is any
key an override can set (``treatment.damping``, ``pathology.sparsity``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep

from ..config import ConfigError
from ..launch.overrides import one_line


@dataclass(frozen=True)
class Knob:
    """One dimension: a key, and either a range (``low``, ``high``) or a list of ``choices``."""

    key: str
    low: float | None = None
    high: float | None = None
    integer: bool = False
    log: bool = False
    choices: tuple[str, ...] = ()

    def override(self, v: Any) -> str:
        return f"{self.key}={v!r}" if isinstance(v, float) else f"{self.key}={v}"

    def corners(self) -> list[Any]:
        """The values that bound the knob: its two ends, or every choice."""
        return list(self.choices) if self.choices else [self.low, self.high]

    def scale(self, u: float) -> Any:
        """The value at ``u`` in [0, 1] of the range (log-spaced on a log scale; rounded for integers)."""
        if self.log:
            v = self.low * (self.high / self.low) ** u
        else:
            v = self.low + (self.high - self.low) * u
        return int(round(v)) if self.integer else float(v)


def knobs(arguments: Iterable[str], params: Mapping | None = None) -> tuple[list[Knob], list[str]]:
    """The swept knobs among ``params`` and the command line's ``arguments``, and the fixed overrides."""
    try:
        parsed = OverridesParser.create().parse_overrides(
            [f"{k}={v}" for k, v in (params or {}).items()] + list(arguments))
    except Exception as e:
        raise ConfigError(one_line(e)) from None
    space: dict[str, Knob] = {}
    fixed: dict[str, str] = {}
    for o in parsed:
        key = o.key_or_group
        if o.is_sweep_override():
            space[key] = _knob(o)
            fixed.pop(key, None)
        else:
            fixed[key] = o.input_line
            space.pop(key, None)
    return list(space.values()), list(fixed.values())


def _knob(o: Override) -> Knob:
    key, v = o.key_or_group, o.value()
    if isinstance(v, IntervalSweep):
        if not v.start < v.end:
            raise ConfigError(f"{o.input_line}: interval() bounds must rise, got {v.start} then {v.end}")
        if "log" in v.tags and v.start <= 0:
            raise ConfigError(f"{o.input_line}: a log scale needs bounds > 0")
        integer = isinstance(v.start, int) and isinstance(v.end, int)
        return Knob(key, v.start, v.end, integer=integer, log="log" in v.tags)
    if isinstance(v, RangeSweep) and all(isinstance(x, int) for x in (v.start, v.stop, v.step)) and v.step == 1:
        if not v.start < v.stop:
            raise ConfigError(f"{o.input_line}: range() is empty")
        return Knob(key, v.start, v.stop - 1, integer=True)
    if isinstance(v, (RangeSweep, ChoiceSweep)):
        choices = tuple(o.sweep_string_iterator())
        if not choices:
            raise ConfigError(f"{o.input_line}: no values")
        return Knob(key, choices=choices)
    raise ConfigError(f"{o.input_line}: a study's knob takes interval(), range() or choice()")  # pragma: no cover
