"""rng=notebook: the jobs whose draws the published notebook's one stream can follow.

A job under rng=notebook is checked against the notebook's arms (``NOTEBOOK_ARMS``) as a
cross-field rule of ``Job`` (``_not_replayable``); sim/notebook.py positions the stream by them.
"""

from __future__ import annotations

from typing import Any

from .schema import Modulate, Regrow, Train, TreatmentConfig

# The published notebook's arms, in the order it runs them, with the phases its CONFIG gives
# them. Under rng=notebook a job skips the other arms' draws as these draw, and its own arm
# must draw as its namesake here (``draw_pattern``).
NOTEBOOK_ARMS = {
    "ketamine": TreatmentConfig("ketamine", (Regrow(0.5, "gradient", 30, 0.03), Train(15, 5e-4)), (Train(5, 5e-4),),
                                "ketamine"),
    "ssri": TreatmentConfig("ssri", (Train(100, 1e-5, 0.5, 0.0),), (Train(20, 1e-5, 0.3, 0.0),), "ssri"),
    "neurosteroid": TreatmentConfig("neurosteroid", (Modulate(0.7, "tanh"), Train(10, 5e-4)), (Train(10, 5e-4),),
                                    "neurosteroid"),
}


def draw_pattern(phases: tuple) -> tuple:
    """What decides how many numbers ``phases`` draw under rng=notebook (not lr, damping, init_std
    or a noise level other than zero)."""
    def one(p: Any) -> tuple:
        if isinstance(p, Train):
            return ("train", p.epochs, tuple(p.sigma(e) > 0 for e in range(p.epochs)))
        if isinstance(p, Regrow):
            return ("regrow", p.score, p.fraction, p.batches)
        return (p.kind,)
    return tuple(map(one, phases))


# job: a Job (job.py checks it with this function, so this module cannot import Job)
def _not_replayable(job: Any) -> str | None:
    """What of ``job`` the published notebook cannot follow, as the fix to make; None if nothing."""
    if job.numerics != "native" or job.engine != "dense":
        return (f"it needs numerics=native engine=dense (torch's own products), got numerics={job.numerics} "
                f"engine={job.engine}")
    t = job.treatment
    if t.name not in NOTEBOOK_ARMS:
        return f"treatment must be one of its arms {', '.join(NOTEBOOK_ARMS)}, got {t.name!r}"
    arm = NOTEBOOK_ARMS[t.name]
    if [draw_pattern(t.phases), draw_pattern(t.maintenance)] != [draw_pattern(arm.phases),
                                                                 draw_pattern(arm.maintenance)]:
        return (f"treatment {t.name} must draw as its arm there (its phases' kinds, epochs, regrowth and where "
                "noise is on); only lr, damping, activation, init_std and nonzero noise levels may differ")
    per_epoch = -(-job.data.train_size // job.data.batch_size)
    batches = max((p.batches for a in NOTEBOOK_ARMS.values() for p in a.phases if isinstance(p, Regrow)), default=0)
    if batches > per_epoch:
        return (f"its regrowth scores {batches} batches of one epoch, which holds {per_epoch} here: raise "
                "data.train_size or lower data.batch_size")
    if job.onset.every != 0:
        return "it scores no time course: set onset.every=0"
    if job.pathology.scope != "per_layer":
        return "it prunes per layer: set pathology.scope=per_layer"
    if len(job.model.hidden) != 3:
        return f"its network has three hidden layers, got model.hidden={list(job.model.hidden)}"
    return None
