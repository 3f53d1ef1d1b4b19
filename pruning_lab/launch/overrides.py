"""A sweep's overrides as Hydra parses them, for the sweep itself and for whoever reads it later;
Hydra's and OmegaConf's errors as one line."""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import fields
from typing import Any, Callable, Iterable, Mapping, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException

from ..config import RUN_KEYS, ConfigError, TreatmentConfig, printable, referred_knobs, shown
from ..tree import leaves


def override_value(v: Any) -> str:
    """A value as Hydra's override grammar reads it back (``0.5``, ``true``, ``null``, ``[64,64]``, ``ssri``;
    a string with other characters quoted)."""
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(override_value(x) for x in v) + "]"
    if isinstance(v, str) and not re.fullmatch(r"[A-Za-z0-9_./-]+", v):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(v) if isinstance(v, float) else str(v)


def as_line(overrides: Iterable[str]) -> str:
    """``overrides`` as a command line shows them, on one line (a newline or a NUL in a value escaped)."""
    return printable(" ".join(overrides))


def sweep_arguments(task: Iterable[str], params: Mapping | None = None, config_loader=None) -> list[Override]:
    """The command line's overrides ``task`` and a preset's ``hydra.sweeper.params``, parsed
    (with Hydra's ``config_loader``, ``glob()`` can list a group's options)."""
    # as Hydra's BasicSweeper: the preset's params first, so the command line wins
    return OverridesParser.create(config_loader=config_loader).parse_overrides(
        overrides=[f"{k}={v}" for k, v in (params or {}).items()] + list(task))


def values(o: Override) -> list[str]:
    """Every value an override takes: the swept ones, or its single value."""
    return list(o.sweep_string_iterator()) if o.is_sweep_override() else [str(o.value())]


def one_job(overrides: Iterable[str]) -> None:
    """``ConfigError`` for an override of one job that sweeps (``interval()``, ``0,1``), as a grid
    given job by job (the Python API's) would otherwise hand it to Hydra."""
    parser = OverridesParser.create()
    for line in overrides:
        try:
            o = parser.parse_override(line)
        except Exception:
            continue  # named when the job is planned
        if o.is_sweep_override() and not o.is_discrete_sweep():
            raise ConfigError(INTERVAL)
        if o.is_sweep_override():
            raise ConfigError(f"{line} sweeps within one job: give the values as a list, "
                              f"{{{o.get_key_element()!r}: [{', '.join(o.sweep_string_iterator())}]}}")


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
    integer of 5000 digits raises Python's ValueError) or parses without a key (``=1``, which
    Hydra's defaults list refuses with a ValueError naming neither); what it refuses itself, it names."""
    parser = OverridesParser.create()
    for arg in dict.fromkeys(overrides):
        try:
            keyless = parser.parse_override(arg).key_or_group == ""
        except HydraException:
            continue
        except Exception as e:
            raise ConfigError(f"cannot parse override {shown(arg)}: {one_line(e)}") from None
        if keyless:
            raise ConfigError(f"cannot parse override {shown(arg)}: no key before '='")


INTERVAL = ("interval() samples a range, which a grid cannot: run it as a search (hydra/sweeper=search) or a "
            "sensitivity study (hydra/sweeper=sensitivity); a grid takes lists, range(), choice() and glob()")


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
    lines = [printable(ln.strip()) for ln in text.splitlines() if ln.strip()]
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


# Hydra's refusal of a value for a key the config lacks (it advises ``+key=value``, which would
# only be refused in turn, or run a typo)
_NO_KEY = re.compile(r"Could not override '([^']+)'")


def closest_key(message: str, overrides: Sequence[str], compose: Callable[[list[str]], Any]) -> str:
    """``message``, or, when Hydra refused an override of a key the config lacks, one line offering
    the closest key there is (``compose``: the config of the other ``overrides``)."""
    found = _NO_KEY.search(message)
    if found is None:
        return message
    key = found[1]
    try:
        keys = config_keys(compose([o for o in overrides if o.lstrip("+~").partition("=")[0] != key
                                    and not _is_sweep(o)]))
    except Exception:  # the rest does not compose either: nothing to offer
        keys = []
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    return f"{key} is not a config key" + (f"; did you mean {close[0]}?" if close else "")


def _is_sweep(override: str) -> bool:
    try:
        return OverridesParser.create().parse_override(override).is_sweep_override()
    except Exception:
        return False


def config_keys(cfg) -> list[str]:
    """Every key of a composed config that takes a value (a treatment's: its schema's and its knobs)."""
    from omegaconf import OmegaConf

    tree = OmegaConf.to_container(cfg, resolve=False)
    out = [k for k in RUN_KEYS if k in tree]
    for top, node in tree.items():
        if top == "hydra" or top in RUN_KEYS:
            continue
        if top == "treatment" and isinstance(node, dict):
            keep = {f.name for f in fields(TreatmentConfig)} | referred_knobs(node)
            node = {k: v for k, v in node.items() if k in keep}
        out += [key for key, _ in leaves(node, top, into_lists=False)]
    return out
