"""Portable dense products: each element one FMA chain over k in order, however it is blocked.

The cross-CPU promise rests on that definition (an FMA rounds once, the same on every CPU),
so these tests pin the definition itself with sums whose exact float32 value depends on the
order and on fusing, and then check that the blocked kernel gives those bits on every shape
and layout the layers use, with the 8-lane (AVX2) tiles and with the 16-lane (AVX-512) ones
where the CPU has them, and that the layer and its gradients are the ordinary linear map.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pruning_lab import numerics
from pruning_lab.sim import network, noise, products
from pruning_lab.sim.products import fixed_order_linear, matmul
from tests.conftest import needs_avx512

TWO24 = float(2**24)


@pytest.fixture(params=["avx2", pytest.param("avx512", marks=needs_avx512)])
def tiles(request) -> int:
    """matmul's ``wide`` argument: 0 for the 8-lane tiles, the 16-lane tiles' address."""
    return products.wide_tiles() if request.param == "avx512" else 0


def product(a, b, tiles=0) -> np.ndarray:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    c = np.empty((a.shape[0], b.shape[1]), np.float32)
    matmul(a, b, c, tiles)
    return c


def chain(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The definition, one element at a time: c = fma(a[i, k], b[k, j], c) for k = 0, 1, ..."""
    c = np.zeros((a.shape[0], b.shape[1]), np.float32)
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            s = np.float32(0.0)
            for k in range(a.shape[1]):
                s = _fma(a[i, k], b[k, j], s)
            c[i, j] = s
    return c


def _fma(x, y, z) -> np.float32:
    # a float32 product is exact in float64; the sum is exact too unless its exponents lie far
    # apart, and these tests' values (small integers, 1 + 2^-n) keep them close
    return np.float32(np.float64(x) * np.float64(y) + np.float64(z))


def test_a_sum_runs_in_order_of_k_so_its_rounding_is_known(tiles):
    # in order: 2^24 + 1 rounds back to 2^24 (ties to even), so does the next + 1, and - 2^24
    # leaves 0; a sum split into pairs or vector lanes would give 1 or 2
    b = np.array([[TWO24], [1.0], [1.0], [-TWO24]], np.float32)
    assert product(np.ones((1, 4)), b, tiles)[0, 0] == 0.0
    # the same in the tail after a block of four, in every one of three rows, and in the last
    # column of a whole 64-column tile (the 16-lane tiles' last lane; the 8-lane ones' fourth tile)
    b = np.zeros((9, 64), np.float32)
    b[4:, 0] = b[4:, 63] = [TWO24, 1.0, 1.0, -TWO24, 3.0]
    assert product(np.ones((3, 9)), b, tiles)[:, [0, 63]].tolist() == [[3.0, 3.0]] * 3


def test_each_step_is_a_fused_multiply_add(tiles):
    # (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 exactly; rounded on its own it loses the 2^-24, fused
    # with the preceding -(1 + 2^-11) it is all that remains
    x = 1 + 2.0**-12
    a = np.array([[1.0, x]] * 7, np.float32)
    b = np.tile(np.array([[-(1 + 2.0**-11)], [x]], np.float32), (1, 64))
    assert (product(a, b, tiles) == 2.0**-24).all()


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (3, 4, 8), (5, 7, 3), (128, 2, 512), (4, 256, 128),
                                     (127, 37, 29), (512, 128, 2), (13, 9, 83), (4, 5, 130)])
@pytest.mark.parametrize("a_layout", ["C", "F"])
def test_the_blocked_kernel_gives_the_definitions_bits(m, k, n, a_layout, tiles):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    # small integers times 2^-4: every product and partial sum exact, so the chain is exact
    a = (rng.integers(-8, 9, (m, k)) / 16).astype(np.float32)
    b = (rng.integers(-8, 9, (k, n)) / 16).astype(np.float32)
    a = np.asfortranarray(a) if a_layout == "F" else a
    assert np.array_equal(product(a, b, tiles), chain(a, b))
    # and on values that round: blocking must reproduce the very same roundings
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    rows = product(a, b, tiles)
    for i in range(m):  # one row at a time runs the kernel's single-row path
        assert np.array_equal(product(a[i:i + 1], b, tiles)[0], rows[i])


# the full network's products in a training step and in evaluation, in the layouts the layers
# use: (m, k, n), whether a is a transposed view, whether b is
LAYER_PRODUCTS = [(512, 2, 128, False, False), (512, 512, 128, False, False), (4, 256, 128, False, False),
                  (512, 512, 128, True, False), (256, 4, 128, True, False), (512, 128, 512, False, True),
                  (4, 128, 256, True, True), (512, 128, 2, False, True), (512, 512, 4000, False, False)]


@needs_avx512
def test_the_16_lane_tiles_give_the_8_lane_tiles_bits_on_the_layers_products():
    rng = np.random.default_rng(7)
    for m, k, n, a_t, b_t in LAYER_PRODUCTS:
        a = rng.standard_normal((k, m) if a_t else (m, k)).astype(np.float32)
        b = rng.standard_normal((n, k) if b_t else (k, n)).astype(np.float32)
        a, b = (a.T if a_t else a), (b.T if b_t else b)
        narrow, wide = product(a, b), product(a, b, products.wide_tiles())
        assert np.array_equal(narrow, wide), (m, k, n, a_t, b_t)
        assert np.abs(narrow - a.astype(np.float64) @ b).max() < 1e-3  # and both are the product


def test_the_16_lane_tiles_are_512_bit_fmas():
    """The wide tiles compile to zmm FMAs on any machine (compiling needs no AVX-512), so a
    target that silently lost AVX-512 would be seen here, not only as a slower bench."""
    from llvmlite import binding as llvm

    machine = llvm.Target.from_triple(llvm.get_process_triple()).create_target_machine(cpu=products.WIDE_CPU, opt=3)
    asm = machine.emit_assembly(llvm.parse_assembly(str(products.wide_module())))
    fmas = [line.split() for line in asm.splitlines() if "vfmadd" in line]
    assert fmas and all(f[-1].startswith("%zmm") for f in fmas)


def test_the_layer_and_its_gradients_are_the_linear_map():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(37, 64, generator=g, requires_grad=True)
    w = torch.randn(48, 64, generator=g, requires_grad=True)
    b = torch.randn(48, generator=g, requires_grad=True)
    out, ref = fixed_order_linear(h, w, b), F.linear(h, w, b)
    assert torch.allclose(out, ref, atol=1e-5) and out.abs().max() > 1
    grad = torch.randn(37, 48, generator=g)
    ours = torch.autograd.grad(out, (h, w, b), grad)
    theirs = torch.autograd.grad(ref, (h, w, b), grad)
    for x, y in zip(ours, theirs):
        assert x.shape == y.shape and torch.allclose(x, y, atol=1e-4)
        assert y.abs().max() > 1


def test_layers_chain_feature_major_and_the_noise_is_the_same_in_either_layout():
    g = torch.Generator().manual_seed(1)
    h = fixed_order_linear(torch.randn(6, 5, generator=g), torch.randn(7, 5, generator=g), torch.zeros(7))
    assert h.t().is_contiguous()  # the next layer takes h^T without a copy
    k1, k2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    assert torch.equal(noise.add(h, 0.5, k1), noise.add(h.contiguous(), 0.5, k2))


def test_the_mode_picks_the_product(monkeypatch):
    monkeypatch.setenv(numerics.MODE_ENV, "portable")
    assert products.linear() is fixed_order_linear
    monkeypatch.setenv(numerics.MODE_ENV, "native")
    assert products.linear() is F.linear
    x = torch.ones(2, 3)
    (native,) = network.dense_linears([torch.ones(4, 3)], [torch.zeros(4)])
    assert native(x).is_contiguous()  # F.linear's own layout: the native path is torch's
