"""Speed and memory: ``make bench``, or ``python bench/bench.py [options]``. On one thread it prints

- this core's FMA peak at the widest vector width it runs (16 lanes with AVX-512, else 8);
- per kind of training phase in paper 2's protocol (from conf/): epochs per second on the dense
  engine and on the one ``engine=auto`` picks, in portable numerics (with AVX-512, the dense
  phases on 8-lane products too) and in native numerics (a subprocess); and the portable
  dense products' GFLOP/s against the peak;
- the paper-2 sweep's FLOP floor (its products' FLOPs over the peak and the cores) and, with
  ``--sweep-dir`` (``--sweep`` runs one), a finished sweep's time, part by part, against it;
- a worker's peak memory on each engine. ``--crossover``: dense vs sparse across sparsities.

Times are CPU seconds (``--clock wall``: wall time), medians of interleaved repeats: on a
shared machine the steadier measure of one thread. Checks belong to tests (the engines'
agreement: tests/test_engines.py, marker slow). ``--replay``: CPU seconds of one seed's three
jobs as the paper-2 replay runs them (experiment=replay_paper2) and as make reproduce does.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import functools
import json
import os
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

from pruning_lab import api, numerics  # noqa: E402
from pruning_lab.config import Job, Regrow, Train, content_hash  # noqa: E402
from pruning_lab.launch.overrides import expand  # noqa: E402
from pruning_lab.sim import flops, network, products, pruning  # noqa: E402
from pruning_lab.sim.data import load  # noqa: E402
from pruning_lab.sim.engines import choose  # noqa: E402
from pruning_lab.sim.protocol import baseline_config  # noqa: E402
from pruning_lab.sim.regrowth import gradient_scores  # noqa: E402
from pruning_lab.sim.rng import draws, generator  # noqa: E402
from pruning_lab.sim.training import train  # noqa: E402
from pruning_lab.store import read_json  # noqa: E402

EXPERIMENT = "paper2"
CHAINS = 12  # FMA chains: 4 cycles of latency x 2 FMA units = 8 cover it, in 16 registers or 32


def clock(kind: str):
    return time.process_time if kind == "cpu" else time.perf_counter


def load_text() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


# -- the peak --------------------------------------------------------------------------------


def fma_peak(tick, lanes: int, cpu: str) -> float:
    """GFLOP/s of one core running only ``lanes``-wide FMAs compiled for ``cpu``: the best of 5.

    In LLVM IR, for products.py's reason: in numba's own loops the chains would live in memory.
    """
    from llvmlite import ir
    from numba.core import cgutils

    module, f32 = ir.Module(name="peak"), ir.FloatType()
    vec = ir.VectorType(f32, lanes)
    fn = ir.Function(module, ir.FunctionType(f32, [ir.IntType(64), f32]), name="chains")
    b = ir.IRBuilder(fn.append_basic_block())
    fma = cgutils.get_or_insert_function(module, ir.FunctionType(vec, [vec] * 3), f"llvm.fma.v{lanes}f32")
    x = b.shuffle_vector(b.insert_element(ir.Constant(vec, ir.Undefined), fn.args[1], ir.Constant(ir.IntType(32), 0)),
                         ir.Constant(vec, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), lanes), None))
    # distinct starting values, so that no two chains can be merged
    slots = [cgutils.alloca_once_value(b, b.fadd(x, ir.Constant(vec, [float(c)] * lanes))) for c in range(CHAINS)]
    with cgutils.for_range(b, fn.args[0]):
        for slot in slots:
            b.store(b.call(fma, [b.load(slot), x, x]), slot)
    total = b.load(slots[0])
    for slot in slots[1:]:  # every chain's result is used: none is optimised away
        total = b.fadd(total, b.load(slot))
    b.ret(b.extract_element(total, ir.Constant(ir.IntType(32), 0)))
    engine = products.compile_for(module, cpu)
    chains = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int64, ctypes.c_float)(engine.get_function_address("chains"))
    steps, best = 20_000_000, 0.0
    for _ in range(5):
        t0 = tick()
        chains(steps, 0.5)
        best = max(best, 2 * lanes * CHAINS * steps / (tick() - t0) / 1e9)
    return best


# -- the protocol, in numbers ----------------------------------------------------------------


def sweep_jobs() -> list:
    """The paper-2 sweep's jobs, as its preset in conf/experiment/ sweeps them."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        params = compose("config", [f"experiment={EXPERIMENT}"], return_hydra_config=True).hydra.sweeper.params
    return [api.job([f"experiment={EXPERIMENT}", *o]) for o in expand([], params)]


def phase_kinds(jobs: list) -> list[tuple]:
    """(label, sparsity, phase, modulation) of each kind of phase the sweep trains: the baseline,
    and each treatment's course and last (sparsest) cycle."""
    kinds = [("baseline", 0.0, Train(jobs[0].baseline.epochs, jobs[0].baseline.lr), None)]
    for name in dict.fromkeys(j.treatment.name for j in jobs):
        training = flops.count(next(j for j in jobs if j.treatment.name == name)).training
        kinds += [t for t in training if "cycle" not in t[0]] + [t for t in training if "cycle" in t[0]][-1:]
    return kinds


# -- speed per phase kind ---------------------------------------------------------------------


class ProductMeter:
    """Counts the FLOPs of products.mm (every portable dense product) and the time in it."""

    def __init__(self, tick):
        self.mm, self.tick, self.flops, self.seconds = products.mm, tick, 0, 0.0

    def __enter__(self):
        def counted(a, b):
            t0 = self.tick()
            out = self.mm(a, b)
            self.seconds += self.tick() - t0
            self.flops += 2 * a.shape[0] * a.shape[1] * b.shape[1]
            return out

        products.mm = counted  # _Linear looks mm up at each call
        return self

    def __exit__(self, *exc):
        products.mm = self.mm


@functools.cache
def shipped():
    """The Job of conf/ as shipped."""
    return api.job()


def prepared(sparsity: float, modulation):
    net = network.init(shipped().model, generator(0, "bench"))
    pruning.prune(net, sparsity)
    if modulation:
        net.damping, net.activation = modulation
    return net


def run(variant: str, engine: str, net, what, data, epochs: int) -> None:
    """One timed repeat of phase ``what`` on ``engine``; the 8-lane products for variant avx2."""
    os.environ[numerics.ISA_ENV] = "avx2" if variant == "avx2" else "auto"
    if isinstance(what, Regrow):  # its scoring, of every position: always dense
        gradient_scores(net, data, what.batches, 128, draws(0, "bench-train"))
    else:  # one epoch's noise is the phase's first (a fading schedule draws less later on)
        phase = dataclasses.replace(what, epochs=epochs, noise_end=what.noise_start)
        train(net, phase, data, 128, draws(0, "bench-train"), engine=engine)


def speed(args, kinds, sparse_from: float) -> list[dict]:
    data, tick, rows = load(shipped().data).train, clock(args.clock), []
    for engine in ("dense", "sparse"):  # first-use costs (numba's kernels, the wide tiles), paid before timing
        run("auto", engine, prepared(0.95, None), Train(1, 1e-3), data, 1)
    for label, sparsity, what, modulation in kinds:
        auto = "dense" if isinstance(what, Regrow) else choose("auto", sparsity, sparse_from)
        variants = ["auto"] if args.native_child else ["dense", "auto"][auto == "dense":]
        if numerics.has_avx512() and auto == "dense" and not args.native_child:
            variants.append("avx2")
        times, flops, inside = {v: [] for v in variants}, 0, []
        start = prepared(sparsity, modulation)
        for _ in range(args.repeats):  # interleaved, so that a change in the machine's load hits all alike
            for v in variants:
                with ProductMeter(tick) as meter:
                    t0 = tick()
                    run(v, "dense" if v == "dense" else auto, start.clone(), what, data, args.epochs)
                    times[v].append(tick() - t0)
                if v == "auto":
                    flops, inside = meter.flops, inside + [meter.seconds]
        units = 1 if isinstance(what, Regrow) else args.epochs
        rate = {v: units / statistics.median(ts) for v, ts in times.items()}
        rows.append({"kind": label, "sparsity": sparsity, "engine": auto, "auto": rate["auto"],
                     "dense": rate.get("dense", rate["auto"]), "avx2": rate.get("avx2"),
                     "flops": flops / units, "in_products": statistics.median(inside) / units})
        print(f"  measured {label} at {100 * sparsity:.1f}%", file=sys.stderr)
    return rows


def native(args) -> list[dict]:
    """``speed``'s engine=auto rates in native numerics, in a fresh process of that mode."""
    fresh = {k: v for k, v in os.environ.items() if k not in (*numerics.PINS, numerics.PINNED_ENV)}
    cmd = [sys.executable, __file__, "--native-child", "--repeats", str(args.repeats), "--epochs", str(args.epochs),
           "--clock", args.clock]
    out = subprocess.run(cmd, env={**fresh, numerics.MODE_ENV: "native"}, cwd=ROOT, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.splitlines()[-1])


def print_speed(rows: list[dict], nat: list[dict] | None, peak: float, args) -> None:
    f = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    print(f"\nEpochs per second on one thread ({args.clock} time, median of {args.repeats} x {args.epochs} epochs; "
          f"regrow scoring: scorings per second); portable numerics, products on {numerics.products_isa()}\n")
    print("| phase kind | sparsity | auto picks | dense | auto | auto / dense | auto, 8-lane products | native | "
          "portable / native |\n|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r, n in zip(rows, nat or [None] * len(rows)):
        print(f"| {r['kind']} | {100 * r['sparsity']:.1f}% | {r['engine']} | {f(r['dense'])} | {f(r['auto'])} | "
              f"{r['auto'] / r['dense']:.2f}x | {f(r['avx2'])} | {f(n and n['auto'])} | "
              f"{'-' if n is None else format(r['auto'] / n['auto'], '.2f') + 'x'} |")
    print(f"\nPortable dense products per phase kind (engine=auto) against the {peak:.1f} GFLOP/s peak: GFLOP per "
          "epoch (regrow: per scoring), time inside products.mm\n")
    print("| phase kind | GFLOP | in products (s) | share of the phase | GFLOP/s | of peak |\n|---|---:|---:|---:|---:|---:|")
    for r in (r for r in rows if r["flops"]):
        rate = r["flops"] / 1e9 / r["in_products"]
        print(f"| {r['kind']} | {r['flops'] / 1e9:.1f} | {r['in_products']:.3f} | {100 * r['in_products'] * r['auto']:.0f}% "
              f"| {rate:.1f} | {100 * rate / peak:.0f}% |")


# -- the sweep's floor ----------------------------------------------------------------------------

PARTS = flops.PARTS


def counted(jobs: list[tuple]) -> dict[str, list[float]]:
    """[dense, sparse] FLOPs per part of ``jobs``: (Job, whether it trains its baseline) pairs."""
    total = {p: [0.0, 0.0] for p in PARTS}
    for job, trains in jobs:
        for part, (d, s) in flops.count(job, trains).flops.items():
            total[part] = [total[part][0] + d, total[part][1] + s]
    return total


def seconds(result: dict) -> dict[str, float]:
    """A result's seconds per part (its ``timings``, onset taken out of the training that scores it)."""
    t = dict(result["timings"])
    t["maintenance"] = sum(v for k, v in t.items() if k.startswith("maintenance/"))
    t["treatment"] = sum(v for k, v in t.items() if k.startswith("treatment/")) - t.get("onset", 0.0)
    t["longitudinal"] = t.get("longitudinal", 0.0) - t["maintenance"]  # the cycles' evaluations
    return {p: t.get(p, 0.0) for p in PARTS}


def floor(args, jobs: list, peak: float) -> None:
    cores, first = os.cpu_count() or 1, {}
    # each seed's baseline is trained once, by the first of its jobs, and stored
    planned = [(j, first.setdefault(content_hash(baseline_config(j)), j) is j) for j in jobs]
    dense, sparse = (sum(f[i] for f in counted(planned).values()) for i in (0, 1))
    bound = (dense + sparse) / (peak * 1e9 * cores)
    print(f"\nThe {EXPERIMENT} sweep's FLOP floor ({len(jobs)} jobs, conf/experiment/{EXPERIMENT}.yaml): dense products "
          f"{dense / 1e12:.2f} TFLOP, sparse {sparse / 1e12:.3f} TFLOP; at {peak:.1f} GFLOP/s a core on {cores} cores: "
          f"**{bound:.0f} s**")
    sweep_dir, wall = args.sweep_dir, None
    if args.sweep:
        sweep_dir = Path(tempfile.mkdtemp(prefix="pruning-lab-bench-")) / "sweep"
        cmd = [sys.executable, "-m", "pruning_lab.run", f"experiment={EXPERIMENT}", f"hydra.sweep.dir={sweep_dir}",
               f"paths.store={sweep_dir.parent / 'store'}", *shlex.split(args.sweep_overrides)]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - t0
    if sweep_dir is None:
        return
    results = [read_json(p) for p in Path(sweep_dir).rglob("result.json")]
    ran = counted([(Job(**r["config"]), not r["baseline"]["cache_hit"]) for r in results])
    took = {p: sum(seconds(r)[p] for r in results) for p in PARTS}
    total = sum(r["wall_seconds"] for r in results)
    print(f"\n{len(results)} results in {sweep_dir}: each part's seconds, summed over the jobs (each on one core), "
          "against its floor (its products' FLOPs at one core's peak)\n")
    print("| part | GFLOP dense | GFLOP sparse | floor (s) | measured (s) | measured / floor |\n|---|---:|---:|---:|---:|---:|")
    for part in PARTS:
        (d, s), t = ran[part], took[part]
        print(f"| {part} | {d / 1e9:.0f} | {s / 1e9:.1f} | {(d + s) / peak / 1e9:.1f} | {t:.1f} | "
              f"{t * peak * 1e9 / max(d + s, 1):.1f}x |")
    print(f"| the rest of the jobs: data, baselines read, pruning, recording | | | | {total - sum(took.values()):.1f} | |")
    bound = sum(d + s for d, s in ran.values()) / (peak * 1e9 * cores)
    print(f"\nThe jobs' {total:.0f} s on {cores} cores, perfectly packed: {total / cores:.0f} s, "
          f"{total / cores / bound:.1f}x their floor of {bound:.0f} s"
          + (f"; the sweep's wall time, processes and all: {wall:.0f} s, {wall / bound:.1f}x" if wall else ""))


# -- memory -----------------------------------------------------------------------------------------

MEMORY_JOB = ["treatment=ssri", "baseline.epochs=1", "treatment.epochs=2", "treatment.maintenance_epochs=1",
              "longitudinal.cycles=1"]


def memory() -> str:
    """Peak RSS of a short full-size job (all the protocol's steps) on each engine, one process each."""
    code = ("import sys, resource; import pruning_lab; from pruning_lab import api; from pruning_lab.sim.protocol import "
            "run; run(api.job(sys.argv[1:])); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    mb = {e: int(subprocess.run([sys.executable, "-c", code, *MEMORY_JOB, f"engine={e}"], capture_output=True, text=True,
                                check=True, cwd=ROOT).stdout.split()[-1]) / 1024 for e in ("dense", "auto")}
    return f"dense {mb['dense']:.0f} MB, auto {mb['auto']:.0f} MB"


# -- the replay's cost -------------------------------------------------------------------------


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
        job = api.job([f"experiment={args.replay_child}", f"treatment={treatment}", f"seed={args.seed}"])
        start = time.process_time()
        run(job, once)
        seconds[treatment] = time.process_time() - start
    print(json.dumps(seconds))


def replay_cost(args) -> None:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per variant and phase kind (default 5)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per timed repeat (default 1)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--no-speed", action="store_true", help="skip the per-phase figures")
    ap.add_argument("--no-native", action="store_true", help="skip the native-numerics subprocess")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--crossover", action="store_true", help="dense vs sparse engine across sparsities")
    ap.add_argument("--sweep-dir", type=Path, help="a finished paper-2 sweep (or store) to set against the floor")
    ap.add_argument("--sweep", action="store_true", help="run the paper-2 sweep now (long) and set it against the floor")
    ap.add_argument("--sweep-overrides", default="", help='overrides for --sweep, e.g. "numerics=native"')
    ap.add_argument("--replay", action="store_true", help="one seed's CPU cost, the paper-2 replay against make reproduce")
    ap.add_argument("--seed", type=int, default=0, help="the seed --replay times (default 0)")
    ap.add_argument("--native-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--replay-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.replay_child:
        return replay_child(args)
    jobs = sweep_jobs()
    if args.native_child:
        numerics.establish("native")
        return print(json.dumps(speed(args, phase_kinds(jobs), shipped().engine_sparse_from)))
    print(f"pruning-lab bench: {os.cpu_count()} cores, torch {torch.__version__}, {numerics.cpu()['model']}; {load_text()}")
    tick = clock(args.clock)
    peaks = {8: fma_peak(tick, 8, "haswell")}
    if numerics.has_avx512():
        peaks[16] = fma_peak(tick, 16, products.WIDE_CPU)
    lanes = max(peaks)
    print(f"\nThis core's FMA peak ({CHAINS} chains, {args.clock} time): "
          + ", ".join(f"{n} lanes {g:.1f} GFLOP/s" for n, g in peaks.items()) + f"; the peak is {lanes} lanes'")
    if not args.no_speed:
        rows = speed(args, phase_kinds(jobs), shipped().engine_sparse_from)
        print_speed(rows, None if args.no_native else native(args), peaks[lanes], args)
    floor(args, jobs, peaks[lanes])
    if not args.no_memory:
        print(f"\nPeak memory of a worker (ru_maxrss, short full-size SSRI-like job): {memory()}")
    if args.crossover:  # every sparsity on both engines: auto is sparse from 0
        kinds = [(f"train at {s:.1%}", s, Train(1, 5e-4), None) for s in (0.3, 0.475, 0.6, 0.7, 0.774, 0.8, 0.9, 0.95)]
        print_speed(speed(args, kinds, 0.0), None, peaks[lanes], args)
    if args.replay:
        replay_cost(args)
    print(f"\n{load_text()}")


if __name__ == "__main__":
    main()
