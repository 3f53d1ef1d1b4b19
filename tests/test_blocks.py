"""The replay's products on the survivors (engines/blocks.py, engines/published.py).

The block sums are checked against their definition on numbers whose rounding shows the order;
the engine against the dense one, bit for bit, under torch's own products in a process of its
own (numerics=native, MKL as this CPU runs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from pruning_lab import numerics
from pruning_lab.sim.engines import blocks

TWO24 = 2.0 ** 24


def block_sums(rows_values, cols, bias, a_t, bounds):
    """blocked_product on a CSR of one survivor list per row."""
    offsets = np.cumsum([0] + [len(r) for r in rows_values]).astype(np.int64)
    out = np.empty((len(rows_values), a_t.shape[1]), np.float32)
    blocks.blocked_product(np.asarray(a_t, np.float32), offsets, np.asarray(cols, np.int64),
                           np.asarray([v for r in rows_values for v in r], np.float32),
                           np.asarray(bias, np.float32), np.asarray(bounds, np.int64), out)
    return out


def test_a_block_is_one_chain_in_order_and_blocks_add_onto_the_bias_left_to_right():
    # terms 2^24, 1, 1, -2^24 of features 0..3 (a = 1): in one chain 2^24 + 1 rounds back to
    # 2^24 twice and the sum is 0; cut after feature 1, the blocks are 2^24 and 1 - 2^24 and
    # their sum is 1; cut after feature 2, 2^24 and -2^24 + 1... so each cut gives its own bits
    # 77 samples: a chunk of 64 held in registers, a vector of 8, and 5 one at a time
    terms = [TWO24, 1.0, 1.0, -TWO24]
    a_t = np.ones((4, 77))
    assert (block_sums([terms], [0, 1, 2, 3], [0.0], a_t, [0, 4]) == 0.0).all()
    assert (block_sums([terms], [0, 1, 2, 3], [0.0], a_t, [0, 2, 4]) == 1.0).all()
    # the bias comes first: 2^24 + 1 (first block) rounds away, 2^24 + (1 + 1) would not
    assert (block_sums([[1.0, 1.0]], [0, 1], [TWO24], np.ones((2, 77)), [0, 1, 2]) == TWO24).all()
    assert (block_sums([[1.0, 1.0]], [0, 1], [TWO24], np.ones((2, 77)), [0, 2]) == TWO24 + 2).all()


def test_absent_synapses_are_exact_zeros_and_each_sample_is_its_own_sum():
    rng = np.random.default_rng(0)
    a_t = rng.standard_normal((10, 33)).astype(np.float32)  # 33 samples: a vector tail too
    w = np.zeros((3, 10), np.float32)
    w[0, [1, 4, 7]], w[2, [0, 9]] = [0.5, -2.0, 3.0], [1.5, 0.25]
    rows = [[w[r, c] for c in np.flatnonzero(w[r])] for r in range(3)]
    cols = [c for r in range(3) for c in np.flatnonzero(w[r])]
    got = block_sums(rows, cols, [0.0, 7.0, 0.0], a_t, [0, 5, 10])
    # one survivor per block or fewer, so every sum here is exact whatever the order
    want = np.array([[np.float32(np.float32(0.5 * a_t[1, i] - 2.0 * a_t[4, i]) + np.float32(3.0 * a_t[7, i]))
                      for i in range(33)], [7.0] * 33,
                     [np.float32(1.5 * a_t[0, i]) + np.float32(0.25 * a_t[9, i]) for i in range(33)]], np.float32)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    assert np.abs(got[0] - want[0]).max() < 1e-5


def test_survivor_gradients_are_block_chains_over_the_batch():
    # row 0's survivors (columns 0..8, more than the eight computed together, and a tail)
    # each see g = 2^24, 1, 1, -2^24 over a batch of 4 with a = 1: 0 in one block, 1 cut in two
    g_t = np.array([[TWO24, 1.0, 1.0, -TWO24]], np.float32)
    a_t = np.ones((9, 4), np.float32)
    offsets, col = np.array([0, 9]), np.arange(9)
    out = np.empty(9, np.float32)
    blocks.survivor_grads(g_t, a_t, offsets, col, np.array([0, 4]), out)
    assert (out == 0.0).all()
    blocks.survivor_grads(g_t, a_t, offsets, col, np.array([0, 2, 4]), out)
    assert (out == 1.0).all()


def test_survivor_gradients_keep_each_survivor_s_order_in_vectors_of_eight():
    # 21 samples: two vector steps of 8 and 5 one at a time. Row 0's g is 2^24, 1, 1, -2^24
    # (at samples 0, 9, 17, 20; 0 elsewhere) and rows 1 and 2 have the same terms reversed: in one
    # chain row 0 sums to 0 and rows 1 and 2 to 2, cut after sample 9 every row sums to 1. Column
    # c's a is 2^c, so each survivor's sum is scaled by its own power of two. Rows of 19, 8 and
    # 5 survivors make full and part groups of eight, in pairs and alone (the last).
    g_t = np.zeros((3, 21), np.float32)
    g_t[0, [0, 9, 17, 20]] = [TWO24, 1.0, 1.0, -TWO24]
    g_t[1, [0, 9, 17, 20]] = g_t[2, [0, 9, 17, 20]] = [-TWO24, 1.0, 1.0, TWO24]
    a_t = np.repeat(2.0 ** np.arange(19, dtype=np.float32)[:, None], 21, axis=1)
    col = np.concatenate([np.arange(19), np.arange(18, 10, -1), [3, 7, 11, 12, 18]]).astype(np.int64)
    offsets = np.array([0, 19, 27, 32])
    row = np.repeat([0, 1, 2], [19, 8, 5])
    scale = 2.0 ** col
    memory = np.full(33, -1.0, np.float32)  # and one number past the end, left alone
    out = memory[:32]
    blocks.survivor_grads(g_t, a_t, offsets, col, np.array([0, 21]), out)
    np.testing.assert_array_equal(out, np.where(row == 0, 0.0, 2.0) * scale)
    blocks.survivor_grads(g_t, a_t, offsets, col, np.array([0, 10, 21]), out)
    np.testing.assert_array_equal(out, scale)
    assert memory[32] == -1.0


def test_the_candidate_cuts_include_the_ones_mkl_was_seen_to_use():
    assert (0, 192, 384, 512) in blocks.candidates(512) and (0, 128, 256) in blocks.candidates(256)
    assert all(c[0] == 0 and c[-1] == 96 for c in blocks.candidates(96)) and (0, 96) in blocks.candidates(96)


ENGINES_AGREE = r"""
import json, sys, torch
import pruning_lab
from pruning_lab.config import Train
from pruning_lab.sim import engines, network, pruning, training
from pruning_lab.sim.data import Split
from pruning_lab.sim.engines import blocks
from pruning_lab.sim.notebook import NotebookDraws
from tests.conftest import model_config

out = {}
gen = torch.Generator().manual_seed(0)
x = torch.randn(1000, 2, generator=gen) * 3
data = Split(x, (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long())
for name, noise, modulation in (("noise", 0.5, False), ("tanh", 0.0, True)):
    net = network.init(model_config(hidden=(512, 512, 256)), gen)
    pruning.prune(net, 0.95)
    if modulation:
        net.damping, net.activation = 0.7, "tanh"
    nets = {}
    for engine in (engines.Dense, engines.Published):
        trained = net.clone()
        model_of = training.bind
        training.bind = lambda n, e, published=False: engine(n)
        training.train(trained, Train(epochs=2, lr=5e-4, noise_start=noise, noise_end=0.0), data, 128,
                       NotebookDraws(torch.Generator().manual_seed(7)))
        training.bind = model_of
        nets[engine.__name__] = trained
    d, p = nets["Dense"], nets["Published"]
    out[name] = all(torch.equal(a, b) for a, b in zip(d.weights + d.biases, p.weights + p.biases))
    out[name + "_moved"] = float((d.weights[1] - net.weights[1]).abs().max())
out["planned"] = blocks.plan(512, 512, 128) is not None
out["chosen"] = type(engines.bind(net, "dense", published=True)).__name__
print(json.dumps(out))
"""


def test_the_published_engine_trains_the_dense_engines_bits_under_torchs_products():
    fresh = {k: v for k, v in os.environ.items() if k not in (*numerics.PINS, numerics.PINNED_ENV, numerics.MODE_ENV)}
    run = subprocess.run([sys.executable, "-c", ENGINES_AGREE], env={**fresh, numerics.MODE_ENV: "native"},
                         check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["noise"] and out["tanh"], out
    assert out["noise_moved"] > 1e-3 and out["tanh_moved"] > 1e-3  # training moved the weights
    assert out["chosen"] == "Published"
    # where this CPU's MKL adds in blocks (it did on every x86-64 machine measured), the block
    # sums did the work; elsewhere torch's products did, and the bits above are still the test
    print("block sums used:", out["planned"])


def test_outside_the_replay_the_engines_stay_as_configured():
    from pruning_lab.sim.engines import Dense, bind
    from pruning_lab.sim.network import init
    from pruning_lab.sim.pruning import prune
    from pruning_lab.sim.rng import generator
    from tests.conftest import model_config

    net = init(model_config(hidden=(64, 64)), generator(0, "test"))
    prune(net, 0.95)
    assert type(bind(net, "dense")) is Dense
    # under portable numerics (this process) torch's products are not the dense engine's
    assert numerics.mode() == "portable" and type(bind(net, "dense", published=True)) is Dense
