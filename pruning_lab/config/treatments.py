"""A treatment as written, beyond the schema: the phases a derived treatment removes, and its knobs.

A knob is a treatment key no field declares that a phase refers to as ``${treatment.<knob>}``;
``validate`` (job.py) records each with the phase keys it feeds (``knob_record``).
"""

from __future__ import annotations

import difflib
from dataclasses import fields
from typing import Any, Iterable, Mapping

from ..tree import leaves, reference, references
from .schema import PHASES, ConfigError, TreatmentConfig


def _referred(node: Any) -> set[str]:
    """The treatment knobs that ``${treatment.<knob>}`` references under ``node`` name."""
    return {k.removeprefix("treatment.") for _, v in leaves(node) for k in references(v) if k.startswith("treatment.")}


# a derived treatment's edits of its parent's lists: the phases (or maintenance phases) it removes
REMOVALS = {"remove_phases": "phases", "remove_maintenance": "maintenance"}


def _derived(cfg: Mapping, raw: Mapping) -> tuple[Mapping, Mapping, set[str]]:
    """The config with the phases its treatment removes (``remove_phases: [regrow]``: every phase
    of that kind; ``[0]``: the phase at that position) taken out of ``cfg`` and ``raw`` alike, and
    the knobs only those phases referred to; ``ConfigError`` for a phase the parent lacks."""
    treatment, written = cfg.get("treatment"), raw.get("treatment")
    if not isinstance(treatment, Mapping) or not any(k in treatment for k in REMOVALS):
        return cfg, raw, set()
    treatment, written = dict(treatment), dict(written) if isinstance(written, Mapping) else dict(treatment)
    dropped = set()
    for key, group in REMOVALS.items():
        if key not in treatment:
            continue
        remove, phases = treatment.pop(key), treatment.get(group)
        written.pop(key, None)
        if not isinstance(remove, list) or not isinstance(phases, list):
            raise ConfigError(f"treatment.{key} must be a list of phase kinds ({', '.join(PHASES)}) or positions, "
                              f"got {remove!r}")
        kinds = [p.get("kind") if isinstance(p, Mapping) else None for p in phases]
        gone = set()
        for r in remove:
            at = [i for i, k in enumerate(kinds) if k == r] if isinstance(r, str) else \
                [r] if isinstance(r, int) and not isinstance(r, bool) and 0 <= r < len(phases) else []
            if not at:
                what = f"no {r} phase" if isinstance(r, str) else f"no {group} phase at position {r!r}"
                raise ConfigError(f"treatment.{key} removes {r!r}, but treatment {treatment.get('name')!r} has "
                                  f"{what}; its {group}: {', '.join(map(str, kinds)) or 'none'}")
            gone.update(at)
        rows = list(written.get(group) or phases)
        treatment[group] = [p for i, p in enumerate(phases) if i not in gone]
        written[group] = [p for i, p in enumerate(rows) if i not in gone]
        dropped |= _referred([p for i, p in enumerate(rows) if i in gone])
    return {**cfg, "treatment": treatment}, {**raw, "treatment": written}, dropped


def referred_knobs(written: Any) -> set[str]:
    """The knobs a treatment as written refers to: those its phases name, and those these name in turn."""
    written = written if isinstance(written, Mapping) else {}
    known = _referred([written.get("phases"), written.get("maintenance")])
    while more := _referred([written.get(k) for k in known]) - known:
        known |= more
    return known


def typed_keys(overrides: Iterable[str] | None) -> set[str] | None:
    """The keys a list of overrides sets (``+treatment.epochz=50``: ``treatment.epochz``)."""
    if overrides is None:
        return None
    return {o.lstrip("+~").partition("=")[0] for o in overrides}


def _knobs(treatment: Mapping, raw: Mapping, typed: set[str] | None = None, dropped: set[str] = frozenset()
           ) -> list[str]:
    """The treatment's knobs: its keys beyond the schema that a phase refers to, directly or
    through a knob that one does. A key no phase refers to is no knob: refused (``ConfigError``)
    when it was typed (``typed``: the keys the overrides set; None: every key but those a removed
    phase referred to, ``dropped``), else left out, as a parent's knob its derived treatment no
    longer uses."""
    extra = sorted(set(treatment) - {f.name for f in fields(TreatmentConfig)})
    known = referred_knobs(raw.get("treatment"))
    for knob in extra:
        if knob not in known and (f"treatment.{knob}" in typed if typed is not None else knob not in dropped):
            kept = [k for k in extra if k in known]
            close = difflib.get_close_matches(knob, kept, n=1)
            raise ConfigError(f"treatment.{knob} is unknown: no phase of treatment {treatment.get('name')!r} refers "
                              f"to ${{treatment.{knob}}}; its knobs: {', '.join(kept) or 'none'}"
                              + (f"; did you mean treatment.{close[0]}?" if close else ""))
    return [k for k in extra if k in known]


def knob_record(knobs: Mapping[str, Any], treatment: Any) -> dict[str, dict]:
    """Each knob of ``knobs`` (``{"treatment.epochs": 15}``) with its value and the phase keys written
    as its ``${treatment.epochs}`` in ``treatment`` as written (``treatment.phases.1.epochs``): what
    a result records, so that its reader names its columns without ``conf/``."""
    fed: dict[str, list[str]] = {k: [] for k in knobs}
    for group in ("phases", "maintenance"):
        node = treatment.get(group) if isinstance(treatment, Mapping) else None
        for key, v in leaves(node or [], f"treatment.{group}"):
            if reference(v) in fed:
                fed[reference(v)].append(key)
    return {k: {"value": v, "phase_keys": fed[k]} for k, v in knobs.items()}
