"""Results of schema 1 (``pruning-lab/result/1``), which record their knobs' values (most of them)
but neither their arm nor which phase keys each knob fed: read as they always were. A phase key
goes to the knob that today's ``conf/treatment/<name>.yaml`` writes there (``${treatment.epochs}``)
where the result recorded that knob, else to the recorded knob of its name and value; a result
that recorded no knob takes today's file's knobs, with the values of the phase keys they feed.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from ..tree import leaves, reference

CONF = Path(__file__).resolve().parents[2] / "conf"


def upgrade(result: dict, conf: Path | None = None) -> dict:
    """A schema-1 result with the record schema 2 keeps: ``arm`` (its treatment) and ``knobs``
    (each knob's value and the phase keys it feeds), from ``conf`` (the repository's) as it is today."""
    values = result.get("knobs") if isinstance(result.get("knobs"), dict) else {}
    fed = knob_map(result["treatment"], conf or CONF) or {}
    knobs = {k: {"value": v, "phase_keys": []} for k, v in values.items()}
    for p, v in leaves(result["config"], into_lists=False):
        k = fed.get(p)
        if values and k not in values:
            k = next((k for k in values if _named_alike(p, k) and values[k] == v), None)
        if k is not None:
            # a knob the result did not record takes the value of the first phase key it feeds
            knobs.setdefault(k, {"value": v, "phase_keys": []})["phase_keys"].append(p)
    return {**result, "arm": result["treatment"], "knobs": knobs}


def _named_alike(path: str, knob: str) -> bool:
    """``treatment.phases.<i>.<k>`` and knob ``treatment.<k>``; ``treatment.maintenance.<i>.<k>`` and
    ``treatment.maintenance_<k>``."""
    parts = path.split(".")
    if len(parts) != 4:
        return False
    return knob == f"treatment.{parts[3]}" if parts[1] == "phases" else knob == f"treatment.maintenance_{parts[3]}"


def knob_map(treatment: str, conf: Path = CONF) -> dict[str, str] | None:
    """Each phase key of ``treatment`` written as ``${treatment.<knob>}`` in ``conf/treatment/<name>.yaml``,
    mapped to that knob (``treatment.phases.1.epochs`` -> ``treatment.epochs``); None without the file."""
    path = Path(conf) / "treatment" / f"{treatment}.yaml"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    return _knob_map(treatment, Path(conf), stamp)


@functools.lru_cache(maxsize=256)
def _knob_map(treatment: str, conf: Path, stamp: int) -> dict[str, str] | None:
    """``knob_map`` of the file as it was at ``stamp`` (its mtime): read once per version."""
    node = _treatment_node(treatment, conf / "treatment")
    if node is None:
        return None
    return {f"treatment.{key}": knob for group in ("phases", "maintenance")
            for key, v in leaves(node.get(group) or [], group)
            if (knob := reference(v)) and re.fullmatch(r"treatment\.\w+", knob)}


def _merge(base: dict, over: dict) -> dict:
    """Hydra's merge of two config nodes: mappings key by key, anything else (lists too) replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _treatment_node(name: str, folder: Path, seen: frozenset = frozenset()) -> dict | None:
    """``folder/<name>.yaml`` as written (interpolations kept), its defaults list merged in; None without it."""
    import yaml

    path = folder / f"{name}.yaml"
    if name in seen or not path.is_file():
        return None
    try:
        own = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    defaults = own.pop("defaults", None) or []
    node: dict = {}
    # a group file's own keys come after its defaults unless _self_ says where
    order = defaults if "_self_" in defaults else [*defaults, "_self_"]
    for entry in order:
        if entry == "_self_":
            node = _merge(node, own)
        elif isinstance(entry, str):
            node = _merge(node, _treatment_node(entry, folder, seen | {name}) or {})
    return node
