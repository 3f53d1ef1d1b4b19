"""A sweep's overrides as Hydra parses them, for the sweep itself and for whoever reads it later."""

from __future__ import annotations

from typing import Iterable, Mapping

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override


def sweep_arguments(task: Iterable[str], params: Mapping | None = None, config_loader=None) -> list[Override]:
    """The command line's overrides ``task`` and a preset's ``hydra.sweeper.params``, parsed
    (with Hydra's ``config_loader``, ``glob()`` can list a group's options)."""
    # as Hydra's BasicSweeper: the preset's params first, so the command line wins
    return OverridesParser.create(config_loader=config_loader).parse_overrides(
        overrides=[f"{k}={v}" for k, v in (params or {}).items()] + list(task))


def values(o: Override) -> list[str]:
    """Every value an override takes: the swept ones, or its single value."""
    return list(o.sweep_string_iterator()) if o.is_sweep_override() else [str(o.value())]


def name_unparsable(message: str, overrides: Iterable[str]) -> str:
    """A parse error's ``message``, naming the first of ``overrides`` that does not parse (Hydra's may not)."""
    if "override" in message:
        return message
    parser = OverridesParser.create()
    for arg in overrides:
        try:
            parser.parse_override(arg)
        except Exception:
            return f"cannot parse override '{arg}': {message}"
    return message
