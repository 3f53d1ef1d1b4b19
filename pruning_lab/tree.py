"""Nested config and result trees: their leaves by dotted key, and the ``${key}`` references
their strings make. The one walker of such trees, for the planner, the schema, the loader, the
benchmarks and ``verify``."""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

# a reference to a node by its absolute key (an OmegaConf interpolation with no resolver)
REFERENCE = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")


def leaves(node: Any, prefix: str = "", into_lists: bool = True) -> Iterator[tuple[str, Any]]:
    """Every leaf under ``node`` as ``(dotted key, value)``: mappings by key, lists by index
    (``into_lists=False``: a list of anything but mappings is one leaf); an empty one is a leaf."""
    if isinstance(node, (Mapping, list, tuple)) and not node:
        yield prefix, node
        return
    if isinstance(node, Mapping):
        items = ((str(k), v) for k, v in node.items())
    elif isinstance(node, (list, tuple)) and (into_lists or all(isinstance(x, Mapping) for x in node)):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        yield prefix, node
        return
    for k, v in items:
        yield from leaves(v, f"{prefix}.{k}" if prefix else k, into_lists)


def references(value: Any) -> list[str]:
    """The keys that ``${key}`` references in a string name, in order (none for anything else)."""
    return REFERENCE.findall(value) if isinstance(value, str) else []


def reference(value: Any) -> str | None:
    """The key of a value that is one whole reference (``"${treatment.lr}"``), else None."""
    m = REFERENCE.fullmatch(value) if isinstance(value, str) else None
    return m[1] if m else None
