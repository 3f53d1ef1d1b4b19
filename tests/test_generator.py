"""torch's CPU generator worked from its state (sim/generator.py): torch.randn's numbers, bit for bit."""

from __future__ import annotations

import pytest
import torch

from pruning_lab.sim import generator

# the kernel sim/generator.py follows is torch's AVX2 one (its AVX-512 build runs it too)
needs_exact = pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
                                 reason="torch draws normals through another kernel on this CPU")


@needs_exact
def test_the_normals_are_found_exact_and_used():
    assert generator.exact()


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.equal(a.view(torch.int32), b.view(torch.int32))


@needs_exact
@pytest.mark.parametrize("shape", [(16,), (17,), (3, 100), (623,), (625,), (96, 256), (128, 512), (1000, 2),
                                   (9_999_999,)])
def test_normals_are_torch_randns_and_leave_the_generator_where_it_would(shape):
    # from a used state (a spare normal cached, a twist part-way done): part runs of 16, shapes
    # that cross the generator's twists, and one of 40 million words' worth of Box-Muller pairs
    # (a changed rounding anywhere in the polynomials shows in a share of them)
    ours, theirs = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    for g in (ours, theirs):
        torch.randn(3, generator=g)
        torch.empty(301).uniform_(generator=g)
    assert same_bits(generator._randn(ours, shape), torch.randn(shape, generator=theirs))
    assert torch.equal(ours.get_state(), theirs.get_state())
    assert same_bits(torch.randn(40, generator=ours), torch.randn(40, generator=theirs))


def test_fewer_than_16_normals_are_torch_s_own_draws():
    # torch's scalar path for them keeps a spare normal in the generator state: left to torch
    ours, theirs = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert same_bits(generator._randn(ours, (5,)), torch.randn(5, generator=theirs))
    assert torch.equal(ours.get_state(), theirs.get_state())


@needs_exact
def test_the_extremes_of_the_uniforms_give_torch_s_normals():
    # seed 12's first 2^24 words include u = 0 (log 1 = 0: a zero radius, whose signed zeros
    # torch turns to +0) and the largest u, 1 - 2^-24 (torch.rand draws the same uniforms)
    n = 1 << 24
    u = torch.rand(n, generator=torch.Generator().manual_seed(12))
    assert (u == 0).any() and (u == 1 - 2.0 ** -24).any()
    ours, theirs = torch.Generator().manual_seed(12), torch.Generator().manual_seed(12)
    assert same_bits(generator._randn(ours, (n,)), torch.randn(n, generator=theirs))
