"""A sweep's overrides as Hydra parses them, for the sweep itself and for whoever reads it later;
Hydra's and OmegaConf's errors as one line."""

from __future__ import annotations

import itertools
import re
from typing import Iterable, Mapping

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException

from ..config import ConfigError, shown


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
            key, _, value = arg.partition("=")
            # Hydra's override grammar takes only ASCII letters unquoted
            quotable = not value.isascii() and value[:1] not in "'\"" and value.isprintable()
            hint = f"; quote the value: {key}='{value}'" if quotable else ""
            return f"cannot parse override {shown(arg)}: {message}{hint}"
    return message


def check_parsable(overrides: Iterable[str]) -> None:
    """``ConfigError`` for an override Hydra's parser fails on without an error of its own (an
    integer of 5000 digits raises Python's ValueError); what it refuses itself, it names."""
    parser = OverridesParser.create()
    for arg in dict.fromkeys(overrides):
        try:
            parser.parse_override(arg)
        except HydraException:
            continue
        except Exception as e:
            raise ConfigError(f"cannot parse override {shown(arg)}: {one_line(e)}") from None


INTERVAL = "interval() needs a sweeper that samples; a grid takes lists, range(), choice() and glob()"


def expand(arguments: Iterable[str], params: Mapping | None = None, config_loader=None) -> list[list[str]]:
    """Every job's overrides, as Hydra's basic sweeper expands them: the cartesian product of the
    swept values, the last override varying fastest; a key given twice keeps its first place and
    its last value. ``ConfigError`` for a sweep that samples (``interval()``) or has no jobs."""
    axes: dict[str, list[str]] = {}
    empty = []
    try:
        for o in sweep_arguments(arguments, params, config_loader):
            key = o.get_key_element()
            if o.is_sweep_override() and not o.is_discrete_sweep():
                raise ConfigError(INTERVAL)
            axes[key] = [f"{key}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override() \
                else [f"{key}={o.get_value_element_as_str()}"]
            if not axes[key]:
                empty.append(o.input_line or f"{key}={o.get_value_element_as_str()}")
    except ConfigError:
        raise
    except Exception as e:  # a malformed sweep: range(0,4,0), an unparsable override, ...
        raise ConfigError(one_line(e)) from None
    if empty:
        raise ConfigError(f"the sweep has no jobs: {', '.join(empty)} is empty")
    return [list(job) for job in itertools.product(*axes.values())]


_NOISE = ("See https://", "Set the environment variable", "full_key:", "object_type=", "reference_type=",
          "provider=", "Config search path")


def one_line(e: BaseException) -> str:
    """A Hydra, OmegaConf or config error as one line, without the advice to read a traceback."""
    text = str(e).strip() or type(e).__name__
    cause = e.__cause__
    if cause is not None and type(cause).__module__.startswith("omegaconf"):
        text += "\n" + str(cause)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    cut = next((i for i, ln in enumerate(lines) if ln.startswith("Config search path")), len(lines))
    lines = [ln for ln in lines[:cut] if not ln.startswith(_NOISE)]
    # a missing group option: Hydra lists the choices on the lines after "Available options"
    at = next((i for i, ln in enumerate(lines) if ln.startswith("Available options")), None)
    if at is not None:
        head = re.sub(r"^In '[^']*': ", "", " ".join(lines[:at]))
        return f"{head}; choose from: {', '.join(lines[at + 1:])}"
    if not lines:
        return type(e).__name__
    return " ".join(ln if i == len(lines) - 1 or ln[-1] in ".:;?!" else ln + ";" for i, ln in enumerate(lines))
