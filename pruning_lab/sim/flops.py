"""FLOPs: the floating-point operations of a job's products, part by part, from the job alone.

The products are a job's arithmetic: the dense engine multiplies whole weight matrices, the
sparse engine only the surviving synapses, and evaluation always the dense weights. Counted
here without building a network, as ``protocol.run`` would run them: bench/bench.py sets a
sweep's count against this machine's FMA peak (the sweep's floor), and tests/test_flops.py
against the products a small job actually runs.
"""

from __future__ import annotations

import math

from ..config import Job, Modulate, Regrow
from .engines import choose
from .pruning import further
from .regrowth import n_regrow

# a job's parts, as its result's ``timings`` name them (the maintenance phases run inside the course)
PARTS = ("baseline", "treatment", "onset", "evaluate", "relapse", "maintenance", "longitudinal")


class Count:
    """A job's network as its protocol changes it, in numbers (each layer's surviving synapses,
    its modulation), with the FLOPs of the products it runs: ``flops[part] = [dense, sparse]``,
    and ``training``, each training phase as (label, sparsity, phase, modulation)."""

    def __init__(self, job: Job):
        self.job, sizes = job, [job.model.inputs, *job.model.hidden, job.model.classes]
        self.full = [i * o for i, o in zip(sizes, sizes[1:])]
        self.alive = list(self.full)
        self.prune(job.pathology.sparsity)
        self.modulation: tuple | None = None
        self.flops = {p: [0.0, 0.0] for p in PARTS}
        self.training: list[tuple] = []

    def prune(self, target: float) -> None:
        """Each layer pruned to ``target`` as pruning.prune does it, layer by layer: the synapses
        at or above the quantile at position target * (n - 1), the pruned (zeros) included, survive."""
        self.alive = [min(a, n - math.ceil(target * (n - 1))) for a, n in zip(self.alive, self.full)]

    @property
    def sparsity(self) -> float:
        return 1 - sum(self.alive) / sum(self.full)

    def products(self, part: str, samples: float, weights: list, backward: bool = True, sparse: bool = False) -> None:
        # a sample's forward pass is 2w; its backward pass the weight gradient's 2w and the input
        # gradient's 2w, which the input layer has no use for
        per = 2 * sum(weights) + (4 * sum(weights) - 2 * weights[0] if backward else 0)
        self.flops[part][sparse] += samples * per

    def evaluate(self, part: str, samples: float) -> None:
        self.products(part, samples, self.full, backward=False)

    def phases(self, phases, part: str, label: str) -> int:
        """Apply ``phases``; the epochs they train."""
        epochs, d = 0, self.job.data
        for p in phases:
            if isinstance(p, Regrow):
                if p.score == "gradient":  # scores every position: the dense gradient, over shuffled epochs
                    epochs_, batches = divmod(p.batches, -(-d.train_size // d.batch_size))
                    self.products(part, epochs_ * d.train_size + batches * d.batch_size, self.full)
                    self.training.append(("regrow scoring", self.sparsity, p, self.modulation))
                self.alive = [a + n_regrow(n - a, p.fraction) for a, n in zip(self.alive, self.full)]
            elif isinstance(p, Modulate):
                self.modulation = None if (p.damping, p.activation) == (1.0, "relu") else (p.damping, p.activation)
            else:
                sparse = choose(self.job.engine, self.sparsity, self.job.engine_sparse_from) == "sparse"
                self.products(part, p.epochs * d.train_size, self.alive if sparse else self.full, sparse=sparse)
                self.training.append((label, self.sparsity, p, self.modulation))
                epochs += p.epochs
        return epochs


def count(job: Job, baseline: bool = True) -> Count:
    """The products of ``protocol.run(job)``; ``baseline``: it trains its healthy network (no cache)."""
    c, d, lg = Count(job), job.data, job.longitudinal
    evaluate = d.clean_size + d.test_size * (2 + len(job.stress.profile))  # clean, standard, combined, profile
    if baseline:
        c.products("baseline", job.baseline.epochs * d.train_size, c.full)
    c.evaluate("evaluate", 2 * evaluate)  # healthy, untreated
    epochs = c.phases(job.treatment.phases, "treatment", f"{job.treatment.label}, course")
    if job.onset.every:  # 3 measures at epoch 0, every `every` epochs, and at the end
        c.evaluate("onset", 3 * d.test_size * (-(-epochs // job.onset.every) + 1))
    c.evaluate("evaluate", evaluate * (2 if c.modulation else 1))  # treated, and off the drug
    c.evaluate("relapse", d.test_size)  # after, on a copy (before is the treated score)
    c.evaluate("longitudinal", d.test_size)
    for cycle in range(1, lg.cycles + 1):
        c.prune(further(c.sparsity, lg.prune_fraction))
        c.phases(job.treatment.maintenance, "maintenance", f"{job.treatment.label}, cycle {cycle}")
        c.evaluate("longitudinal", d.test_size)
    return c
