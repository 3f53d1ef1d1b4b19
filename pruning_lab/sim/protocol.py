"""One job, step by step: baseline -> pathology -> treatment -> relapse -> longitudinal course.

``run(job)``'s numbers depend on the job alone: every random number comes from the job's stream
policy (``rng``: a stream named by (seed, purpose), or the published code's one stream in its
order), and the baseline is bit-identical whether trained here or handed over by a baseline
provider (the store's cache). It is not pure, and says so: so that the numbers never depend on
how it was launched, it sets the process up for them first (torch pinned to one thread,
``numerics.establish``: the numerics' environment variables and library settings).
"""

from __future__ import annotations

import hashlib
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict
from typing import Callable, Protocol

import torch

from .. import numerics
from . import course as treatment_course
from ..config import NOISE_STREAM, SCHEMA, Job, Train, content_hash
from .data import Datasets, load
from .engines import choose
from .evaluation import combined, evaluate
from .network import Network, init
from .phases import run_phases
from .policy import Named, Notebook, for_job
from .pruning import further, prune
from .training import train

log = logging.getLogger(__name__)


def baseline_config(job: Job) -> dict:
    """Exactly the config that determines the trained healthy network (its cache key).

    The pathology is not in it: pruning is cheap and deterministic, so every sparsity of a
    seed (a severity sweep) prunes the one healthy network.
    """
    return {
        "seed": job.seed,
        "data": asdict(job.data),
        "model": asdict(job.model),
        "baseline": asdict(job.baseline),
        "engine": choose(job.engine, 0.0, job.engine_sparse_from),
        "numerics": job.numerics,
        "numerics_version": numerics.VERSION,
        # only when not the default, so that the default's keys stay what they were
        **({"rng": job.rng} if job.rng != "named" else {}),
    }


def train_healthy(job: Job, data: Datasets, policy: Named | Notebook | None = None) -> Network:
    """The healthy network: dense training from the seed's initialisation."""
    draws = (policy or for_job(job)).draws("baseline")
    net = init(job.model, draws.generator)
    engine = choose(job.engine, 0.0, job.engine_sparse_from)
    train(net, Train(job.baseline.epochs, job.baseline.lr, 0.0, 0.0), data.train, job.data.batch_size, draws,
          engine=engine, label="baseline")
    return net


def pathology(job: Job, healthy: Network, published: bool = False) -> Network:
    """The depressed state: a copy of ``healthy`` pruned to the pathology's sparsity and scope."""
    pruned = healthy.clone()
    prune(pruned, job.pathology.sparsity, job.pathology.scope, published)
    return pruned


State = dict[str, torch.Tensor]


class BaselineProvider(Protocol):
    """Where a job's healthy network comes from: ``(key, about, build) -> (state, hit)``.

    ``key`` names exactly the config ``about`` that determines the network; ``build()`` trains
    it. A provider may return a state it kept for ``key`` instead (``hit=True``), such as the
    store's baseline cache (``store.BaselineCache.get_or_create``).
    """

    def __call__(self, key: str, about: dict, build: Callable[[], State]) -> tuple[State, bool]: ...


def train_here(key: str, about: dict, build: Callable[[], State]) -> tuple[State, bool]:
    """The provider that keeps nothing: every job trains its own baseline."""
    return build(), False


class Timer(dict):
    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        yield
        self[name] = self.get(name, 0.0) + time.perf_counter() - start


def digest(net: Network) -> str:
    """SHA-256 of a network's exact bits (weights, biases, masks, modulation), first 16 hex digits."""
    h = hashlib.sha256(f"{net.damping!r} {net.activation}".encode())
    for t in net.state().values():
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def run(job: Job, baselines: BaselineProvider = train_here) -> dict:
    """Run the whole protocol for one (seed, treatment); returns the JSON-ready result.

    ``baselines`` provides the healthy network (see ``BaselineProvider``). Sets torch's thread
    count and the job's numerics in this process first (the callers that share a process give
    them back: ``api.simulate``). Refuses (``numerics.NumericsError``) a portable job whose
    numerics cannot be established.
    """
    torch.set_num_threads(1)
    environment = numerics.establish(job.numerics)
    timings = Timer()
    started = time.time()
    tag = f"[{job.treatment.name} seed {job.seed}]"
    data = load(job.data)
    seed = job.seed
    policy = for_job(job)

    with timings("baseline"):
        about = baseline_config(job)
        key = content_hash(about)
        state, hit = baselines(key, about, lambda: train_healthy(job, data, policy).state())
        healthy = Network.from_state(state)
        pruned = pathology(job, healthy, policy.published)
        policy.pathology(pruned)
    log.info("%s baseline %s in %.1fs (key %s)", tag, "read from cache" if hit else "trained", timings["baseline"], key)

    with timings("evaluate"):
        metrics: dict = {"healthy": evaluate(healthy, data, job.stress, seed, policy.scores("healthy")),
                         "untreated": evaluate(pruned, data, job.stress, seed, policy.scores("untreated"))}

    net = pruned.clone()
    course = None
    if job.onset.every > 0:
        def score() -> dict[str, float]:
            with timings("onset"):  # also inside the wall time of the phase that calls it
                return treatment_course.point(net, data, job.stress, seed)
        course = treatment_course.Course(job.onset.every, score)
    run_phases(job.treatment.phases, net, data.train, job, policy.draws("treatment"), "treatment", timings,
               before_epoch=course.before_epoch if course else None)
    with timings("evaluate"):
        metrics["treated"] = evaluate(net, data, job.stress, seed, policy.scores("treated"))
        metrics["off_drug"] = evaluate(net.unmodulated(), data, job.stress, seed, policy.scores("off_drug")) \
            if net.modulated else None
    # no course, no response measured: null, not "never responded"
    metrics["onset"] = course.finish() if course else None
    metrics["response"] = treatment_course.response(metrics["onset"], job.onset.response) if course else None
    if course:
        log.info("%s onset: %d points over %d epochs; combined >= %g%% from epoch %s", tag,
                 len(course.curve["epoch"]), course.epochs, job.onset.response, metrics["response"]["epoch"])
    log.info("%s treated: sparsity %.1f%%, combined %.1f%%, extreme %.1f%%", tag, metrics["treated"]["sparsity"],
             metrics["treated"]["combined"], metrics["treated"]["profile"].get("2.5", float("nan")))

    with timings("relapse"):
        metrics["relapse"] = acute_relapse(net, data, job, metrics["treated"]["combined"], policy)
    final: list[Network] = []
    with timings("longitudinal"):
        metrics["longitudinal"] = longitudinal(net, data, job, timings, final, policy) \
            if job.longitudinal.cycles > 0 else None

    result = {
        "schema": SCHEMA,
        "config_hash": job.hash,
        "noise_stream": NOISE_STREAM,
        "config": job.to_dict(),
        "seed": job.seed,
        "treatment": job.treatment.name,
        "label": job.treatment.label,
        "metrics": metrics,
        "baseline": {"key": key, "cache_hit": hit},
        "timings": dict(timings),
        "wall_seconds": time.time() - started,
        "environment": environment,
        # the networks' exact bits: what a numerical change moves before any accuracy does
        "digests": {"treated": digest(net), "final": digest(final[0]) if final else None},
    }
    log.info("%s done in %.1fs", tag, result["wall_seconds"])
    return result


def acute_relapse(net: Network, data: Datasets, job: Job, before: float,
                  policy: Named | Notebook | None = None) -> dict:
    """Prune a copy further (``relapse_fraction`` of the survivors, capped at ``relapse_cap``, in the
    pathology's scope) and measure the drop from ``before``, the treated combined-stress score."""
    policy = policy or for_job(job)
    published = policy.published
    hit = net.clone()
    target = further(net.sparsity(published), job.pathology.relapse_fraction, job.pathology.relapse_cap)
    prune(hit, target, job.pathology.scope, published)
    after = combined(hit, data, job.stress, job.seed, policy.scores("relapse"))
    return {"target": 100.0 * target, "sparsity_before": 100.0 * net.sparsity(published),
            "sparsity_after": 100.0 * hit.sparsity(published), "combined_before": before,
            "combined_after": after, "drop": before - after}


def longitudinal(net: Network, data: Datasets, job: Job, timings: dict | None = None,
                 final: list | None = None, policy: Named | Notebook | None = None) -> dict:
    """Cycles of further pruning + maintenance from a copy of the post-treatment network.

    ``final``, if given, receives the network after the last cycle.
    """
    lg = job.longitudinal
    policy = policy or for_job(job)
    published = policy.published
    net = net.clone()
    accuracy = [combined(net, data, job.stress, job.seed, policy.scores("cycle", 0))]
    sparsity = [100.0 * net.sparsity(published)]
    for cycle in range(1, lg.cycles + 1):
        prune(net, further(net.sparsity(published), lg.prune_fraction), job.pathology.scope, published)
        run_phases(job.treatment.maintenance, net, data.train, job, policy.draws("maintenance", cycle),
                   "maintenance", timings)
        accuracy.append(combined(net, data, job.stress, job.seed, policy.scores("cycle", cycle)))
        sparsity.append(100.0 * net.sparsity(published))
        log.info("[%s seed %d] cycle %d/%d: combined %.1f%%, sparsity %.1f%%", job.treatment.name, job.seed,
                 cycle, lg.cycles, accuracy[-1], sparsity[-1])
    if final is not None:
        final.append(net)
    relapsed = [c for c, a in enumerate(accuracy) if a < lg.relapse_threshold]
    return {"combined": accuracy, "sparsity": sparsity,
            "relapse_cycle": relapsed[0] if relapsed else None,
            "final": accuracy[-1], "total_drop": accuracy[0] - accuracy[-1]}
