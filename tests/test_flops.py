"""The FLOP count of a job (sim/flops.py) against the products a small job actually runs.

bench/bench.py's floor of a sweep rests on that count; here each product the protocol calls
is counted as it runs (every dense product goes through products.mm in portable numerics,
every sparse one through the sparse engine's CSR product and weight-gradient kernel), and
both totals must be the count's exactly: a miscounted evaluation, epoch, batch or survivor
would show.
"""

from __future__ import annotations

import pytest

from pruning_lab.sim import flops, products
from pruning_lab.sim.engines import kernels, sparse
from pruning_lab.sim.protocol import run
from tests.conftest import tiny_job

# both engines: sparse from 50%, which the regrown ketamine-like network (47.5%) is not, and its
# first cycle's (52.8%) is; the onset course scored every epoch of 3
JOB = ["engine_sparse_from=0.5", "onset.every=1", "treatment.epochs=3", "longitudinal.cycles=2",
       "treatment.maintenance_epochs=1"]


@pytest.mark.parametrize("treatment", ["ketamine", "ssri", "neurosteroid"])
def test_the_count_is_what_the_job_runs(monkeypatch, treatment):
    ran = {"dense": 0, "sparse": 0}
    mm, csr, grad = products.mm, sparse._csr_matmul, kernels.weight_grad

    def counted_mm(a, b):
        ran["dense"] += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        return mm(a, b)

    def counted_csr(col, offsets, values, dense):
        ran["sparse"] += 2 * values.numel() * dense.shape[1]
        return csr(col, offsets, values, dense)

    def counted_grad(crow, col, g, *args):
        ran["sparse"] += 2 * len(col) * g.shape[1]
        return grad(crow, col, g, *args)

    monkeypatch.setattr(products, "mm", counted_mm)
    monkeypatch.setattr(sparse, "_csr_matmul", counted_csr)
    monkeypatch.setattr(kernels, "weight_grad", counted_grad)
    job = tiny_job(f"treatment={treatment}", *JOB)
    run(job)
    c = flops.count(job)
    assert sum(d for d, _ in c.flops.values()) == ran["dense"]
    assert ran["sparse"] > 0 and sum(s for _, s in c.flops.values()) == ran["sparse"]
    assert {label for label, *_ in c.training} >= {f"{job.treatment.label}, course", f"{job.treatment.label}, cycle 2"}
