"""The steps between the replay's block sums (engines/stretch.py, engines/blocks.batch_sums): torch's roundings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pruning_lab.sim.engines import blocks, stretch

F32 = np.float32


@pytest.mark.parametrize("shape", [(128, 512), (512, 128), (104, 256), (16, 16), (13, 21), (40, 100), (7, 3)])
def test_a_transposition_moves_every_number_and_only_those(shape):
    # 8 x 8 register blocks in 16 x 16 tiles, and the edges of shapes that are no multiple of 16
    src = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    out = np.full(shape[::-1], -1.0, dtype=np.float32)
    stretch.transpose(src, out)
    assert np.array_equal(out, src.T)


def test_the_noise_is_added_as_torch_adds_it_the_product_rounded_first():
    # z s = (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46 rounds to 1 + 2^-22, which cancels y exactly; one
    # fused multiply-add would keep the 2^-46
    y = np.array([-(1 + 2.0 ** -22)], dtype=F32)
    z = np.array([1 + 2.0 ** -23], dtype=F32)
    s = F32(1 + 2.0 ** -23)
    out = np.empty(1, dtype=F32)
    stretch.hidden(y, False, z, s, F32(1.0), out)
    expected = torch.tensor(y) + torch.tensor(z) * float(s)
    assert out[0] == 0.0 and out[0] == expected.item()


def test_relu_noise_and_damping_come_in_the_published_order():
    y = np.array([-2.0, 3.0, np.nan], dtype=F32)
    z = np.array([1.0, 1.0, 1.0], dtype=F32)
    out = np.empty(3, dtype=F32)
    stretch.hidden(y, True, z, F32(0.5), F32(0.25), out)
    # relu first (-2 -> 0, NaN kept), then + 0.5, then x 0.25
    assert out[0] == 0.125 and out[1] == 0.875 and np.isnan(out[2])
    grad = np.empty(3, dtype=F32)
    stretch.hidden_grad(np.array([4.0, 4.0, 4.0], dtype=F32), F32(0.25), y, grad)
    # damping's gradient, then 0 where relu's input was <= 0; NaN's passes, as threshold_backward
    assert list(grad[:2]) == [0.0, 1.0] and grad[2] == 1.0


@pytest.mark.parametrize("batch", [1, 3, 16, 17, 104, 128, 300, 4100])
def test_batch_sums_are_torch_s_sums_over_the_first_dimension(batch):
    # 300 and 4100 reach ATen's second and third levels of partial sums (every 256 and 4096);
    # 96 columns: whole groups of 32, as torch vectorises them (layer widths are multiples of 32)
    g = torch.randn(batch, 96, generator=torch.Generator().manual_seed(batch)) * 1e3
    ours = torch.empty(96)
    blocks.batch_sums(g.t().contiguous().numpy(), ours.numpy())
    assert torch.equal(ours.view(torch.int32), g.sum(0).view(torch.int32))
    # the order shows: from two runs of 16 on, a plain left-to-right sum differs somewhere
    if batch >= 33:
        chain = torch.tensor(np.cumsum(g.numpy(), axis=0, dtype=np.float32)[-1])
        assert not torch.equal(chain, ours)
