"""A result's metrics by name, for the studies that steer by them (search, sensitivity).

A metric is a dotted path into a result's ``metrics``, as ``python -m pruning_lab.verify`` and
the tidy frame name them: ``treated.combined``, ``treated.profile.2.5`` (extreme noise),
``relapse.drop``, ``longitudinal.combined.8`` (cycle 8), ``longitudinal.final``,
``response.epoch`` (the treatment epoch of response), ``off_drug.combined``.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from ..config import ConfigError, Job

EVALUATED = ("healthy", "untreated", "treated", "off_drug")
SCORES = ("sparsity", "clean", "standard", "combined")
RELAPSE = ("target", "sparsity_before", "sparsity_after", "combined_before", "combined_after", "drop")
COURSE = ("final", "total_drop", "relapse_cycle")


def names(job: Job) -> list[str]:
    """Every metric a result of ``job`` holds (off_drug only for a modulated treatment)."""
    out = [f"{s}.{m}" for s in EVALUATED for m in SCORES]
    out += [f"{s}.profile.{sigma:g}" for s in EVALUATED for sigma in job.stress.profile]
    out += [f"{s}.layer_sparsity.{i}" for s in EVALUATED for i in range(len(job.model.hidden) + 1)]
    out += [f"relapse.{m}" for m in RELAPSE]
    if job.longitudinal.cycles:
        out += [f"longitudinal.{m}.{c}" for m in ("combined", "sparsity") for c in range(job.longitudinal.cycles + 1)]
        out += [f"longitudinal.{m}" for m in COURSE]
    if job.onset.every:
        out += ["response.epoch", "response.threshold"]
    return out


def check(metric: str, job: Job, what: str = "objective") -> None:
    """``ConfigError`` naming ``metric`` if no result of ``job`` holds it, with the metrics of its
    section that one does (or the setting that turned the section off)."""
    known = names(job)
    if metric in known:
        return
    section = metric.split(".")[0]
    off = {"longitudinal": (not job.longitudinal.cycles, "the longitudinal course is off here (longitudinal.cycles=0; "
                            "longitudinal=paper2 turns it on)"),
           "response": (not job.onset.every, "the onset course is off here (onset.every=0)")}
    if section in off and off[section][0]:
        raise ConfigError(f"{what} {metric!r} is not a metric of these jobs: {off[section][1]}")
    same = [k for k in known if k.split(".")[0] == section]
    close = difflib.get_close_matches(metric, known, n=1)
    raise ConfigError(f"{what} {metric!r} is not a metric of these jobs; "
                      + (f"did you mean {close[0]}? " if close else "")
                      + (f"those under {section}: {', '.join(same)}" if same else
                         f"metrics are dotted paths such as treated.combined, treated.profile.{job.stress.profile[-1]:g}, "
                         f"relapse.drop, under {', '.join(dict.fromkeys(k.split('.')[0] for k in known))}"))


def value(result: dict, metric: str) -> float:
    """The metric's value in ``result`` (NaN if it has none: off_drug of an unmodulated treatment).
    A job that never responds takes, as its epoch of response, the course's last scored epoch plus
    one interval: later than any it was seen at."""
    node: Any = result["metrics"]
    parts = metric.split(".")
    i = 0
    while i < len(parts) and node is not None:
        if isinstance(node, list):
            node, i = node[int(parts[i])], i + 1
        elif isinstance(node, dict):
            # a key may hold dots itself (a sigma of the profile: 2.5)
            j = next((j for j in range(i + 1, len(parts) + 1) if ".".join(parts[i:j]) in node), None)
            node, i = (node[".".join(parts[i:j])], j) if j is not None else (None, i)
        else:
            node = None
    if node is None and metric == "response.epoch":
        course = result["metrics"].get("onset") or {}
        epochs = course.get("epoch") or []
        step = result["config"]["onset"]["every"]
        return float(epochs[-1] + step) if epochs else math.nan
    if node is None:  # a job without this metric (off_drug of an unmodulated one): no value
        return math.nan
    return float(node)
