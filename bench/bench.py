"""Speed and memory of the training engines: ``make bench`` or ``python bench/bench.py [options]``.

Default: for each phase kind of the protocol, on the full network (2-512-512-256-4, 12 000
training points, batches of 128) and one thread, epochs per second of
  plain  - the straightforward loop: unfused Adam, every weight matrix re-masked every step;
  dense  - the dense engine as shipped;
  auto   - the engine ``engine=auto`` picks for that phase (sparse at >= engine_sparse_from);
medians over interleaved repeats, and the ratios. Then, per phase kind, the dense products
(pruning_lab/sim/products.py, the portable ones) that phase runs: their GFLOP/s against this
core's FMA peak, measured first by a kernel of independent FMA chains compiled for the same
pinned target (haswell: AVX2 + FMA); then the peak memory (ru_maxrss) of a worker running a
short full-size job, one subprocess per engine.

Options:
  --kernels      the single products behind the sparse engine's choice of kernels
  --crossover    dense vs sparse engine across sparsities, to place engine_sparse_from
  --equivalence  one seed's three treatments on engine=auto and engine=dense, full size:
                 masks, sparsities and metrics compared stage by stage (several minutes)
  --numerics     the per-phase figures in portable and in native numerics (one subprocess
                 each, interleaved repeats within each) instead of the engines', and their
                 ratio: what portability costs; with --sweep, the sweep is timed in the two
                 numerics modes instead of the two engines
  --replay       CPU seconds of one seed's three jobs as the paper-2 replay runs them
                 (experiment=replay_paper2: rng=notebook, native, dense) and as make
                 reproduce runs them (experiment=paper2), each in a process of its own, the
                 baseline trained once per seed as a sweep's store keeps it; and their ratio
  --sweep        the paper-2 sweep (30 jobs, 2 workers, fresh stores) plus its aggregation,
                 for engine=auto and engine=dense in the same run, and the two result sets
                 compared seed by seed. Takes a long time; --sweep-overrides "..." passes
                 overrides to both sweeps, e.g. a quick check of the code path:
                 "hydra.sweeper.params.seed=0 baseline.epochs=1 treatment.epochs=1
                  treatment.maintenance_epochs=1 longitudinal.cycles=1"

Times are CPU seconds of this process by default (``--clock wall`` for wall time): torch runs
on one thread, so on an idle core the two agree, and on a shared machine CPU time is the
steadier measure of what one core does. The load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pruning_lab  # noqa: E402,F401  (first: it sets the numerics before torch and numba load)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from pruning_lab.api import job as compose_job  # noqa: E402
from pruning_lab.config import Train  # noqa: E402
from pruning_lab.sim.data import load  # noqa: E402
from pruning_lab.sim.engines import choose  # noqa: E402
from pruning_lab.sim.pruning import prune  # noqa: E402
from pruning_lab.sim.network import ACTIVATION, Network, dense_linears, init  # noqa: E402
from pruning_lab.sim.regrowth import gradient_scores  # noqa: E402
from pruning_lab.sim.rng import generator  # noqa: E402
from pruning_lab.sim.training import batches, train  # noqa: E402

BATCH = 128


# -- this core's FMA peak and the products' share of it --------------------------------------


def _fma_chains_intrinsic():
    """An intrinsic: CHAINS independent chains of 8-lane FMAs, n steps each, in registers.

    Written in LLVM IR for the reason products.py's tiles are: in numba's own loops the
    chains would live in memory and measure the load and store ports instead.
    """
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def chains(typingctx, n, x):
        sig = types.float32(types.intp, types.float32)

        def codegen(context, builder, sig, args):
            vec = ir.VectorType(ir.FloatType(), 8)
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3), "llvm.fma.v8f32")
            undef = ir.Constant(vec, ir.Undefined)
            xv = builder.shuffle_vector(builder.insert_element(undef, args[1], ir.Constant(ir.IntType(32), 0)), undef,
                                        ir.Constant(ir.VectorType(ir.IntType(32), 8), None))
            # distinct starting values, so no two chains can be merged into one
            slots = [cgutils.alloca_once_value(builder, builder.fadd(xv, ir.Constant(vec, [float(c)] * 8)))
                     for c in range(CHAINS)]
            with cgutils.for_range(builder, args[0]):
                for slot in slots:
                    builder.store(builder.call(fma, [builder.load(slot), xv, xv]), slot)
            total = builder.load(slots[0])
            for slot in slots[1:]:
                total = builder.fadd(total, builder.load(slot))
            return builder.extract_element(total, ir.Constant(ir.IntType(32), 0))

        return sig, codegen

    return chains


# enough chains to cover an FMA's latency on both of a core's FMA units (4 cycles x 2 units
# needs 8; 12 leave a margin) and few enough to stay in AVX2's 16 registers
CHAINS = 12


def fma_peak(tick) -> tuple[float, str]:
    """(GFLOP/s of one core running only FMAs, the target numba compiled for): the best of 5."""
    import numpy as np
    from numba import njit

    from pruning_lab import numerics

    chains = _fma_chains_intrinsic()

    @njit
    def run(n, x):
        return chains(n, x)

    steps = 20_000_000
    run(10, np.float32(0.5))
    best = 0.0
    for _ in range(5):
        t0 = tick()
        run(steps, np.float32(0.5))
        best = max(best, 2 * 8 * CHAINS * steps / (tick() - t0) / 1e9)
    return best, numerics.numba_target()["cpu_name"]


class ProductMeter:
    """Counts the FLOPs of products.mm (every portable dense product) and the time spent in it,
    on the clock that times the phase, so that the two compare."""

    def __init__(self, tick):
        from pruning_lab.sim import products

        self.products, self.mm, self.tick = products, products.mm, tick
        self.flops, self.seconds = 0, 0.0

    def __enter__(self):
        def counted(a, b):
            t0 = self.tick()
            out = self.mm(a, b)
            self.seconds += self.tick() - t0
            self.flops += 2 * a.shape[0] * a.shape[1] * b.shape[1]
            return out

        self.products.mm = counted  # _Linear looks mm up at each call
        return self

    def __exit__(self, *exc):
        self.products.mm = self.mm


def sparse_from() -> float:
    from omegaconf import OmegaConf

    return float(OmegaConf.load(ROOT / "conf" / "config.yaml").engine_sparse_from)


def clock(kind: str):
    return time.process_time if kind == "cpu" else time.perf_counter


def load_text() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


# -- the straightforward loop, for reference -------------------------------------------------


def plain_forward(x, linears, damping, activation, sigma, g):
    """network.forward as first written: internal noise from torch.randn."""
    act = ACTIVATION[activation]
    h = x
    for i, linear in enumerate(linears):
        h = linear(h)
        if i == len(linears) - 1:
            return h
        h = act(h)
        if sigma > 0:
            h = h + sigma * torch.randn(h.shape, generator=g)
        if damping != 1.0:
            h = h * damping


def plain_train(net: Network, phase: Train, data, g: torch.Generator) -> None:
    """The loop before any speed work: unfused Adam, all weight matrices re-masked every step,
    noise from torch.randn."""
    weights = [w.clone().requires_grad_(True) for w in net.weights]
    biases = [b.clone().requires_grad_(True) for b in net.biases]
    masks = [m.to(w.dtype) for m, w in zip(net.masks, weights)]
    linears = dense_linears(weights, biases)
    opt = torch.optim.Adam([*weights, *biases], lr=phase.lr)
    for epoch in range(phase.epochs):
        sigma = phase.sigma(epoch)
        for idx in batches(len(data), BATCH, g):
            out = plain_forward(data.x[idx], linears, net.damping, net.activation, sigma, g)
            loss = F.cross_entropy(out, data.y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for w, m in zip(weights, masks):
                    w.mul_(m)


# -- phase kinds ---------------------------------------------------------------------------


def phase_kinds(epochs: int) -> list[tuple[str, float, object, tuple | None]]:
    """(label, sparsity, what to run, modulation) for each kind of phase the protocol runs."""
    return [
        ("train, baseline", 0.0, Train(epochs, 1e-3), None),
        ("train, ketamine-like course", 0.475, Train(epochs, 5e-4), None),
        ("train, ketamine-like cycle 8", 0.774, Train(epochs, 5e-4), None),
        ("train", 0.95, Train(epochs, 5e-4), None),
        ("train, neurosteroid-like (tanh, damping)", 0.95, Train(epochs, 5e-4), (0.7, "tanh")),
        # constant noise so every timed epoch draws it, as all but the last SSRI epoch do
        ("train, SSRI-like (internal noise)", 0.95, Train(epochs, 1e-5, 0.5, 0.5), None),
        ("regrow scoring (30 batches)", 0.95, "regrow", None),
    ]


def prepared(sparsity: float, modulation) -> Network:
    net = init(compose_job().model, generator(0, "bench"))
    prune(net, sparsity)
    if modulation:
        net.damping, net.activation = modulation
    return net


def run_variant(variant: str, net: Network, what, data) -> None:
    g = generator(0, "bench-train")
    if what == "regrow":
        gradient_scores(net, data, 30, BATCH, g)  # regrowth scores every position: always dense
    elif variant == "plain":
        plain_train(net, what, data, g)
    else:
        train(net, what, data, BATCH, g, engine=variant)


def speed(args) -> list[dict]:
    data = load(compose_job().data).train
    threshold = sparse_from()
    for engine, s in (("dense", 0.0), ("sparse", 0.95)):  # first-use costs, paid once per process
        train(prepared(s, None), Train(1, 1e-3), data, BATCH, generator(0, "warm"), engine=engine)
    tick = clock(args.clock)
    rows = []
    for label, sparsity, what, modulation in phase_kinds(args.epochs):
        auto = choose("auto", sparsity, threshold)
        variants = ["dense"] if what == "regrow" else ["plain", "dense"] + ([auto] if auto != "dense" else [])
        times: dict[str, list[float]] = {v: [] for v in variants}
        metered = auto if auto in variants else "dense"
        flops, in_products = [], []
        start = prepared(sparsity, modulation)
        for _ in range(args.repeats):  # interleaved, so a change in machine load hits all alike
            for v in variants:
                net = start.clone()
                with ProductMeter(tick) as meter:
                    t0 = tick()
                    run_variant(v, net, what, data)
                    times[v].append(tick() - t0)
                if v == metered:
                    flops.append(meter.flops)
                    in_products.append(meter.seconds)
        units = 1 if what == "regrow" else args.epochs
        rate = {v: units / statistics.median(ts) for v, ts in times.items()}
        row = {"kind": label, "sparsity": sparsity, "auto": auto if what != "regrow" else "dense",
               "plain": rate.get("plain"), "dense": rate["dense"], "auto_rate": rate.get(auto, rate["dense"]),
               # per unit (epoch, or scoring), of the variant auto picks
               "product_flops": flops[0] / units, "product_seconds": statistics.median(in_products) / units}
        rows.append(row)
        print(f"  measured {label} at {100 * sparsity:.1f}%", file=sys.stderr)
    return rows


def print_speed(rows: list[dict], args) -> None:
    unit = "CPU" if args.clock == "cpu" else "wall"
    print(f"\nEpochs per second on one thread ({unit} time; median of {args.repeats} x {args.epochs} epochs; "
          f"regrow scoring: scorings per second)\n")
    print("| phase kind | sparsity | plain | dense | auto picks | auto | auto / dense | auto / plain |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    for r in rows:
        vs_plain = None if r["plain"] is None else r["auto_rate"] / r["plain"]
        print(f"| {r['kind']} | {100 * r['sparsity']:.1f}% | {fmt(r['plain'])} | {fmt(r['dense'])} | {r['auto']} | "
              f"{fmt(r['auto_rate'])} | {r['auto_rate'] / r['dense']:.2f}x | "
              f"{'-' if vs_plain is None else f'{vs_plain:.2f}x'} |")


def print_products(rows: list[dict], peak: tuple[float, str], tick_kind: str, label: str = "") -> None:
    """Per phase kind: the portable dense products' GFLOP/s against the core's FMA peak."""
    gflops, target = peak
    print(f"\nDense products{label} per phase kind, against this core's FMA peak of {gflops:.1f} GFLOP/s "
          f"({CHAINS} chains of 8-lane FMAs compiled for {target}); GFLOP per epoch (regrow: per scoring), "
          f"{'CPU' if tick_kind == 'cpu' else 'wall'} time inside products.mm\n")
    print("| phase kind | sparsity | engine | GFLOP | in products (s) | share of the phase | GFLOP/s | of peak |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if not r["product_flops"]:
            print(f"| {r['kind']} | {100 * r['sparsity']:.1f}% | {r['auto']} | 0 | - | - | - | - |")
            continue
        g = r["product_flops"] / 1e9
        share = r["product_seconds"] * r["auto_rate"]
        rate = g / r["product_seconds"]
        print(f"| {r['kind']} | {100 * r['sparsity']:.1f}% | {r['auto']} | {g:.1f} | {r['product_seconds']:.3f} | "
              f"{100 * share:.0f}% | {rate:.1f} | {100 * rate / gflops:.0f}% |")


# -- peak memory ---------------------------------------------------------------------------

MEMORY_JOB = ["treatment=ssri", "baseline.epochs=1", "treatment.epochs=2", "treatment.maintenance_epochs=1",
              "longitudinal.cycles=1"]


def memory_child(engine: str) -> None:
    """Run a short full-size job (all the protocol's steps) and print this process's peak RSS."""
    from hydra import compose, initialize_config_dir

    from pruning_lab.config import Job
    from pruning_lab.sim.protocol import run

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        job = Job.from_config(compose("config", overrides=[*MEMORY_JOB, f"engine={engine}"]))
    run(job)  # no store: the baseline is trained here too
    print(json.dumps({"engine": engine, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def memory() -> dict[str, float]:
    out = {}
    for engine in ("dense", "auto"):
        p = subprocess.run([sys.executable, __file__, "--memory-child", engine], capture_output=True, text=True,
                           check=True, cwd=ROOT)
        out[engine] = json.loads(p.stdout.strip().splitlines()[-1])["maxrss_kb"] / 1024
    return out


# -- kernels -------------------------------------------------------------------------------


def kernels(args) -> None:
    import warnings

    import numpy as np

    from pruning_lab.sim.engines import kernels as kernels_mod
    from pruning_lab.sim import noise
    from pruning_lab.sim.engines.sparse import Pattern

    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

    tick = clock(args.clock)

    def us(fn, n=200):
        for _ in range(10):
            fn()
        runs = []
        for _ in range(5):
            t0 = tick()
            for _ in range(n):
                fn()
            runs.append((tick() - t0) / n * 1e6)
        return statistics.median(runs)

    print(f"\nSingle products at 95% sparsity, batch {BATCH}, one thread (microseconds, median of 5)\n")
    print("| layer | product | dense (torch.mm) | CSR (MKL, torch.mm) | CSR (embedding_bag) | sampled_addmm | "
          "kernels.weight_grad |")
    print("|---|---|---:|---:|---:|---:|---:|")
    g = torch.Generator().manual_seed(0)
    for n_out, n_in in ((512, 512), (256, 512)):
        mask = torch.rand(n_out, n_in, generator=g) >= 0.95
        w = torch.randn(n_out, n_in, generator=g) * mask
        p = Pattern(mask)
        v = w.flatten()[p.flat]
        csr = w.to_sparse_csr()
        csr_t = w.t().contiguous().to_sparse_csr()
        h_t, g_t = torch.randn(n_in, BATCH, generator=g), torch.randn(n_out, BATCH, generator=g)
        v_t = v[p.perm]
        bag = lambda col, off, val, dense: F.embedding_bag(col, dense, off, mode="sum", per_sample_weights=val)  # noqa: E731
        grad_v, grad_b = torch.empty_like(v).numpy(), torch.empty(n_out).numpy()
        crow, col, g_np, h_np = p.crow.numpy(), p.col.numpy(), g_t.numpy(), h_t.numpy()
        name = f"{n_out}x{n_in}"
        print(f"| {name} | forward W h | {us(lambda: w @ h_t):.0f} | {us(lambda: csr @ h_t):.0f} | "
              f"{us(lambda: bag(p.col, p.offsets, v, h_t)):.0f} | - | - |")
        print(f"| {name} | input gradient W^T g | {us(lambda: w.t() @ g_t):.0f} | {us(lambda: csr_t @ g_t):.0f} | "
              f"{us(lambda: bag(p.t_col, p.t_offsets, v_t, g_t)):.0f} | - | - |")
        print(f"| {name} | weight gradient g h^T | {us(lambda: g_t @ h_t.t()):.0f} | - | - | "
              f"{us(lambda: torch.sparse.sampled_addmm(csr, g_t, h_t.t(), beta=0.0)):.0f} | "
              f"{us(lambda: kernels_mod.weight_grad(crow, col, g_np, h_np, np.float32(1), grad_v, grad_b)):.0f} |")

    print(f"\nInternal noise for one 512-unit layer, batch {BATCH}, one thread (microseconds, median of 5)\n")
    print("| draw | torch.randn, transposed, added | noise.add_feature_major | noise.add (batch-major) |")
    print("|---|---:|---:|---:|")
    a, h = torch.rand(512, BATCH, generator=g), torch.rand(BATCH, 512, generator=g)
    out = torch.empty_like(a)
    old = lambda: torch.add(a, torch.randn(BATCH, 512, generator=g).t().contiguous(), alpha=0.5)  # noqa: E731
    print(f"| N(0, 0.5^2) added to 65 536 activations | {us(old):.0f} | "
          f"{us(lambda: noise.add_feature_major(a, 0.5, g, out)):.0f} | {us(lambda: noise.add(h, 0.5, g)):.0f} |")


def crossover(args) -> None:
    data = load(compose_job().data).train
    tick = clock(args.clock)
    print(f"\nSparse over dense engine by sparsity (training epochs per second, median of {args.repeats})\n")
    print("| sparsity | dense | sparse | sparse / dense |\n|---:|---:|---:|---:|")
    for sparsity in (0.3, 0.4, 0.475, 0.55, 0.6, 0.7, 0.774, 0.8, 0.85, 0.9, 0.95):
        start = prepared(sparsity, None)
        times: dict[str, list[float]] = {"dense": [], "sparse": []}
        for _ in range(args.repeats):
            for engine in times:
                net = start.clone()
                t0 = tick()
                train(net, Train(args.epochs, 5e-4), data, BATCH, generator(0, "bench-train"), engine=engine)
                times[engine].append(tick() - t0)
        d, s = (args.epochs / statistics.median(times[e]) for e in ("dense", "sparse"))
        print(f"| {100 * sparsity:.0f}% | {d:.2f} | {s:.2f} | {s / d:.2f}x |")


# -- equivalence on the full network ---------------------------------------------------------


def flat_metrics(d, prefix="") -> dict[str, float]:
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(flat_metrics(v, f"{prefix}{k}."))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out.update(flat_metrics(v, f"{prefix}{i}."))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        out[prefix.rstrip(".")] = float(d)
    return out


def compare_metrics(a: dict, b: dict) -> tuple[bool, float, str]:
    """(sparsities identical, largest accuracy difference, where) between two metrics dicts."""
    fa, fb = flat_metrics(a), flat_metrics(b)
    same_sparsity = all(fa[k] == fb.get(k) for k in fa if "sparsity" in k or k.endswith("target"))
    diffs = {k: abs(fa[k] - fb[k]) for k in fa if k in fb and "sparsity" not in k and "cycle" not in k}
    worst = max(diffs, key=diffs.get) if diffs else ""
    return same_sparsity, diffs.get(worst, 0.0), worst


def equivalence(args) -> None:
    """The protocol's steps for one seed, run on both engines from the same baseline, compared."""
    from hydra import compose, initialize_config_dir

    from pruning_lab.config import Job
    from pruning_lab.sim.evaluation import combined, evaluate
    from pruning_lab.sim.pruning import further
    from pruning_lab.sim.phases import run_phases
    from pruning_lab.sim.protocol import pathology, train_healthy

    torch.set_num_threads(1)
    print(f"\nEquivalence on the full network, seed {args.seed}: engine=auto vs engine=dense\n")
    print("| treatment | stage | masks identical | sparsity | combined auto | combined dense | max |param diff| |")
    print("|---|---|---|---:|---:|---:|---:|")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        jobs = {(t, e): Job.from_config(compose("config", overrides=[f"treatment={t}", f"engine={e}", f"seed={args.seed}"]))
                for t in ("ketamine", "ssri", "neurosteroid") for e in ("auto", "dense")}
    first = jobs[("ketamine", "dense")]
    data = load(first.data)
    pruned = pathology(first, train_healthy(first, data))  # both engines train the baseline densely
    for treatment in ("ketamine", "ssri", "neurosteroid"):
        stages: dict[str, list] = {}
        worst_metric = (0.0, "")
        evals = {}
        for engine in ("auto", "dense"):
            job = jobs[(treatment, engine)]
            net = pruned.clone()
            run_phases(job.treatment.phases, net, data.train, job, generator(job.seed, "treatment"), "treatment")
            evals[engine] = evaluate(net, data, job.stress, job.seed)
            seen = [("treated", net.clone())]
            g = generator(job.seed, "longitudinal")
            for cycle in range(1, job.longitudinal.cycles + 1):
                prune(net, further(net.sparsity(), job.longitudinal.prune_fraction), job.pathology.scope)
                run_phases(job.treatment.maintenance, net, data.train, job, g, "maintenance")
                seen.append((f"cycle {cycle}", net.clone()))
            for stage, n in seen:
                stages.setdefault(stage, []).append((n, combined(n, data, job.stress, job.seed)))
            print(f"  {treatment} on {engine} done", file=sys.stderr)
        same, diff, where = compare_metrics(evals["auto"], evals["dense"])
        worst_metric = max(worst_metric, (diff, where))
        for stage, ((na, ca), (nd, cd)) in stages.items():
            # synapses alive on one engine and pruned on the other (a swap at the threshold is 2)
            differ = sum(int((x != y).sum()) for x, y in zip(na.masks, nd.masks))
            param = max((x - y).abs().max().item() for x, y in zip(na.weights + na.biases, nd.weights + nd.biases))
            masks = "yes" if not differ else f"NO: {differ} of {sum(m.numel() for m in na.masks)} synapses"
            print(f"| {treatment} | {stage} | {masks} | {100 * na.sparsity():.2f}% | {ca:.2f} | "
                  f"{cd:.2f} | {param:.1e} |")
        where = f" ({worst_metric[1]})" if worst_metric[0] else ""
        print(f"| {treatment} | post-treatment metrics | sparsities {'identical' if same else 'DIFFER'} | | "
              f"largest accuracy difference {worst_metric[0]:.2f} pp{where} | | |")


# -- the paper-2 sweep -----------------------------------------------------------------------


def sweep(args) -> None:
    """The paper-2 sweep timed for engine=auto and engine=dense, or (with --numerics) for portable
    and native numerics, and the two result sets compared seed by seed."""
    overrides = shlex.split(args.sweep_overrides)
    axis, (a, b) = ("numerics", ("portable", "native")) if args.numerics else ("engine", ("auto", "dense"))
    tmp = Path(tempfile.mkdtemp(prefix="pruning-lab-bench-"))
    print(f"\nPaper-2 sweep, {args.workers} workers, fresh stores under {tmp}; overrides: {overrides or 'none'}")
    walls, results = {}, {}
    for value in (a, b):
        sweep_dir, store = tmp / f"sweep_{value}", tmp / f"store_{value}"
        cmd = [sys.executable, "-m", "pruning_lab.run", "-m", "experiment=paper2", f"{axis}={value}",
               f"paths.store={store}", f"hydra.sweep.dir={sweep_dir}", f"hydra.launcher.n_jobs={args.workers}",
               *overrides]
        t0 = time.perf_counter()
        code = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
        t1 = time.perf_counter()
        if code != 0:  # the sweep's own summary says why; the figures are kept if results exist
            print(f"  {axis}={value}: the sweep exited with status {code}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pruning_lab.aggregate", str(sweep_dir), "--out", str(tmp / f"report_{value}"),
                        "--quiet"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        t2 = time.perf_counter()
        walls[value] = (t1 - t0, t2 - t1)
        results[value] = {}
        for f in sweep_dir.rglob("result.json"):
            r = json.loads(f.read_text())
            results[value][(r["treatment"], r["seed"])] = r["metrics"]
        print(f"  {axis}={value}: sweep {t1 - t0:.0f} s, aggregation {t2 - t1:.0f} s, "
              f"{len(results[value])} results ({load_text()})")
    (sa, aa), (sb, ab) = walls[a], walls[b]
    print(f"\n| {axis} | sweep (s) | aggregation (s) | total (min) |\n|---|---:|---:|---:|")
    print(f"| {a} | {sa:.0f} | {aa:.0f} | {(sa + aa) / 60:.1f} |\n| {b} | {sb:.0f} | {ab:.0f} | {(sb + ab) / 60:.1f} |")
    print(f"\nsweep time, {a} over {b}: {sa / sb:.2f}x")
    keys = sorted(set(results[a]) & set(results[b]))
    worst, all_same = (0.0, ""), True
    for key in keys:
        same, diff, where = compare_metrics(results[a][key], results[b][key])
        all_same &= same
        worst = max(worst, (diff, f"{key[0]} seed {key[1]}: {where}"))
    print(f"results compared seed by seed ({len(keys)} jobs): sparsities {'identical' if all_same else 'DIFFER'}; "
          f"largest metric difference {worst[0]:.2f}" + (f" ({worst[1]})" if worst[0] else ""))


def replay_child(args) -> None:
    """CPU seconds of seed ``args.seed``'s three jobs of experiment ``args.replay_child``, as JSON on the last line."""
    from pruning_lab.sim.protocol import run

    kept: dict = {}

    def once(key, about, build):  # each seed's baseline trained once, as the store's cache keeps it
        hit = key in kept
        if not hit:
            kept[key] = build()
        return kept[key], hit

    seconds = {}
    for treatment in ("ssri", "ketamine", "neurosteroid"):
        job = compose_job([f"experiment={args.replay_child}", f"treatment={treatment}", f"seed={args.seed}"])
        start = time.process_time()
        run(job, once)
        seconds[treatment] = time.process_time() - start
    print(json.dumps(seconds))


def replay_cost(args) -> None:
    from pruning_lab import numerics

    fresh = {k: v for k, v in os.environ.items() if k not in (*numerics.PINS, numerics.PINNED_ENV, numerics.MODE_ENV)}
    cost = {}
    for experiment in ("paper2", "replay_paper2"):
        mode = "native" if experiment.startswith("replay") else "portable"
        out = subprocess.run([sys.executable, __file__, "--replay-child", experiment, "--seed", str(args.seed)],
                             env={**fresh, numerics.MODE_ENV: mode}, cwd=ROOT, check=True, stdout=subprocess.PIPE,
                             text=True).stdout
        cost[experiment] = json.loads(out.splitlines()[-1])
    print(f"\nSeed {args.seed}'s three jobs, CPU seconds ({load_text()}):\n")
    print("| experiment | SSRI-like | ketamine-like | neurosteroid-like | seed | 10 seeds on 2 workers (est., min) |")
    print("|---|---:|---:|---:|---:|---:|")
    for experiment, s in cost.items():
        total = sum(s.values())
        print(f"| {experiment} | {s['ssri']:.0f} | {s['ketamine']:.0f} | {s['neurosteroid']:.0f} | {total:.0f} | "
              f"{10 * total / 2 / 60:.1f} |")
    ratio = sum(cost["replay_paper2"].values()) / sum(cost["paper2"].values())
    print(f"\nreplay over make reproduce's jobs: {ratio:.2f}x")


def numerics_child(args) -> None:
    """The per-phase speeds in this process's numerics mode, as JSON on the last line."""
    from pruning_lab import numerics

    mode = os.environ.get(numerics.MODE_ENV, "portable")
    env = numerics.establish(mode)
    print(f"  {mode}: ISA {env['isa']}, portable {env['portable']}", file=sys.stderr)
    print(json.dumps(speed(args)))


def compare_numerics(args) -> list[dict]:
    from pruning_lab import numerics

    fresh = {k: v for k, v in os.environ.items() if k not in (*numerics.PINS, numerics.PINNED_ENV)}
    rates = {}
    for mode in numerics.MODES:
        cmd = [sys.executable, __file__, "--numerics-child", "--repeats", str(args.repeats),
               "--epochs", str(args.epochs), "--clock", args.clock]
        out = subprocess.run(cmd, env={**fresh, numerics.MODE_ENV: mode}, cwd=ROOT, check=True, stdout=subprocess.PIPE,
                             text=True).stdout
        rates[mode] = json.loads(out.splitlines()[-1])
    print(f"\nPortable vs native numerics: epochs per second of the engine auto picks ({args.clock} time; "
          f"median of {args.repeats} x {args.epochs} epochs; regrow scoring: scorings per second)\n")
    print("| phase kind | sparsity | engine | portable | native | portable / native |\n|---|---:|---|---:|---:|---:|")
    for p, n in zip(rates["portable"], rates["native"]):
        print(f"| {p['kind']} | {100 * p['sparsity']:.1f}% | {p['auto']} | {p['auto_rate']:.2f} | {n['auto_rate']:.2f} | "
              f"{p['auto_rate'] / n['auto_rate']:.2f}x |")
    return rates["portable"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per engine and phase kind (default 5)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per timed repeat (default 1)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--no-speed", action="store_true", help="skip the per-phase figures")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--kernels", action="store_true", help="time the single sparse and dense products")
    ap.add_argument("--crossover", action="store_true", help="dense vs sparse engine across sparsities")
    ap.add_argument("--equivalence", action="store_true", help="compare the engines on one full-size seed")
    ap.add_argument("--seed", type=int, default=0, help="seed for --equivalence (default 0)")
    ap.add_argument("--sweep", action="store_true", help="time the paper-2 sweep for engine=auto and engine=dense")
    ap.add_argument("--sweep-overrides", default="", help='Hydra overrides for both sweeps, e.g. "hydra.sweeper.params.seed=0 baseline.epochs=1"')
    ap.add_argument("--workers", type=int, default=2, help="sweep workers (default 2)")
    ap.add_argument("--numerics", action="store_true", help="per-phase speeds, portable vs native numerics")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    ap.add_argument("--numerics-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--replay", action="store_true", help="one seed's CPU cost, the paper-2 replay against make reproduce")
    ap.add_argument("--replay-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.memory_child:
        return memory_child(args.memory_child)
    if args.numerics_child:
        return numerics_child(args)
    if args.replay_child:
        return replay_child(args)

    print(f"pruning-lab bench: {os.cpu_count()} cores, torch {torch.__version__}, "
          f"engine_sparse_from {sparse_from()}; {load_text()}")
    if not args.no_speed:  # with --numerics: the same figures, portable against native
        peak = fma_peak(clock(args.clock))
        if args.numerics:
            print_products(compare_numerics(args), peak, args.clock, " in portable numerics")
        else:
            rows = speed(args)
            print_speed(rows, args)
            print_products(rows, peak, args.clock)
    if not args.no_memory:
        mem = memory()
        print(f"\nPeak memory of a worker (ru_maxrss, short full-size SSRI-like job): "
              f"dense {mem['dense']:.0f} MB, auto {mem['auto']:.0f} MB")
    if args.kernels:
        kernels(args)
    if args.crossover:
        crossover(args)
    if args.equivalence:
        equivalence(args)
    if args.sweep:
        sweep(args)
    if args.replay:
        replay_cost(args)
    print(f"\n{load_text()}")


if __name__ == "__main__":
    main()
