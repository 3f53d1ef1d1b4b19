"""The internal-noise stream: its generator, its arithmetic, its distribution and its layouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from numba import njit
from scipy import stats

from pruning_lab.sim import noise

EPS32 = float(np.finfo(np.float32).eps)


def test_splitmix64_gives_the_published_reference_values():
    # SplitMix64 seeded with 1234567: the reference outputs of Vigna's splitmix64.c
    expected = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431,
                16408922859458223821]
    got = [int(noise.mix64(np.uint64((1234567 + (i + 1) * int(noise.GAMMA)) % 2**64))) for i in range(5)]
    assert got == expected


@njit
def _all_logs(out):
    for bits in range(out.shape[0]):
        out[bits] = noise.log_unit(bits)


def test_log_is_accurate_for_every_possible_input():
    got = np.empty(2**23, np.float32)
    _all_logs(got)
    u = (2.0 * np.arange(2**23) + 1.0) / 2.0**24
    exact = np.log(u)
    rel = np.abs(got - exact) / np.abs(exact)
    assert rel.max() < 2 * EPS32, rel.max()
    # the radius sqrt(-2 ln u) therefore spans torch.randn's range, no more
    assert math.isclose(math.sqrt(-2 * got[0]), math.sqrt(-2 * math.log(2.0**-24)), rel_tol=1e-6)


@njit
def _circle(ws, c, s):
    for i in range(ws.shape[0]):
        c[i], s[i] = noise.unit_circle(ws[i])


def test_unit_circle_is_accurate_and_covers_the_circle():
    ws = np.concatenate([np.linspace(0, 2**32 - 1, 2**20).astype(np.uint32),
                         np.array([0, 2**29 - 1, 2**29, 2**32 - 1], np.uint32)])
    c, s = np.empty(len(ws), np.float32), np.empty(len(ws), np.float32)
    _circle(ws, c, s)
    phi = (ws & (2**29 - 1)).astype(np.float64) * 2.0**-29 * np.pi / 4
    octant = ws >> 29
    ec = np.where(octant & 1, np.sin(phi), np.cos(phi)) * np.where(octant & 2, -1, 1)
    es = np.where(octant & 1, np.cos(phi), np.sin(phi)) * np.where(octant & 4, -1, 1)
    assert np.abs(c - ec).max() < 2 * EPS32 and np.abs(s - es).max() < 2 * EPS32
    # the angle is uniform on the circle: every 1/64 of it gets its share
    angle = np.arctan2(s, c)
    counts, _ = np.histogram(angle, bins=64, range=(-np.pi, np.pi))
    assert counts.min() > 0.99 * len(ws) / 64 and counts.max() < 1.01 * len(ws) / 64


@pytest.fixture(scope="module")
def draws():
    z = torch.zeros(2048, 1024)
    return noise.add(z, 1.0, torch.Generator().manual_seed(12345)).double().numpy()


def test_numbers_are_standard_normal(draws):
    x = draws.ravel()
    n = x.size  # 2.1 million
    se = 1 / math.sqrt(n)
    assert abs(x.mean()) < 5 * se
    assert abs(x.std() - 1) < 5 * se / math.sqrt(2)
    assert abs(stats.skew(x)) < 5 * math.sqrt(6 / n)
    assert abs(stats.kurtosis(x)) < 5 * math.sqrt(24 / n)
    assert stats.kstest(x, "norm").pvalue > 1e-3
    for k in (1, 2, 3):  # tail areas, each within 5 standard errors
        p = 2 * stats.norm.sf(k)
        assert abs((np.abs(x) > k).mean() - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert np.abs(x).max() <= math.sqrt(-2 * math.log(2.0**-24)) + 1e-5


def test_numbers_are_uncorrelated(draws):
    r = 5 / math.sqrt(draws.size)  # 5 standard errors of a correlation near 0
    pairs = draws.T.ravel()  # numbers 2j and 2j + 1 come from one random word
    assert abs(np.corrcoef(pairs[0::2], pairs[1::2])[0, 1]) < 2 * r
    assert abs(np.corrcoef(draws[:-1].ravel(), draws[1:].ravel())[0, 1]) < r  # across samples
    assert abs(np.corrcoef(draws[:, :-1].ravel(), draws[:, 1:].ravel())[0, 1]) < r  # across units
    # squares too: Box-Muller's two numbers share a radius, but are independent
    assert abs(np.corrcoef(pairs[0::2] ** 2, pairs[1::2] ** 2)[0, 1]) < 2 * r


@pytest.mark.parametrize("batch,units", [(128, 512), (128, 256), (7, 5), (4, 3), (5, 4), (1, 1)])
def test_both_layouts_hold_the_same_numbers(batch, units):
    h = torch.randn(batch, units)
    a = noise.add(h, 0.7, torch.Generator().manual_seed(1))
    b = noise.add_feature_major(h.t().contiguous(), 0.7, torch.Generator().manual_seed(1),
                                out=torch.empty(units, batch))
    assert torch.equal(a, b.t())


def test_number_k_is_a_function_of_the_key_and_k():
    batch, units = 6, 5
    key = noise.draw_key(torch.Generator().manual_seed(2))
    z = noise.add(torch.zeros(batch, units), 1.0, torch.Generator().manual_seed(2))
    for b in range(batch):
        for u in range(units):
            k = u * batch + b
            assert z[b, u].item() == noise.normal_pair(key, k // 2)[k % 2]


def test_noise_follows_the_generator():
    h = torch.zeros(16, 8)
    g = torch.Generator().manual_seed(5)
    first, second = noise.add(h, 1.0, g), noise.add(h, 1.0, g)
    assert not torch.equal(first, second)  # each draw takes a new key
    assert torch.equal(first, noise.add(h, 1.0, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, noise.add(h, 1.0, torch.Generator().manual_seed(6)))
    doubled = noise.add(h, 2.0, torch.Generator().manual_seed(5))
    assert torch.allclose(doubled, 2 * first, rtol=0, atol=1e-6)


def test_the_gradient_passes_through_unchanged():
    h = torch.randn(4, 6, requires_grad=True)
    (noise.add(h, 0.5, torch.Generator().manual_seed(0)) * torch.arange(6.0)).sum().backward()
    assert torch.equal(h.grad, torch.arange(6.0).expand(4, 6))
