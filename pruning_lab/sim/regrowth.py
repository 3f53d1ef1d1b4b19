"""Regrowth: reinstate pruned synapses, chosen by accumulated |gradient| or at random."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import Regrow
from .data import Split
from .network import Network, dense_linears, forward
from .rng import Draws
from .training import batches


def gradient_scores(net: Network, data: Split, n_batches: int, batch_size: int, draws: Draws) -> list[torch.Tensor]:
    """|dLoss/dW| summed over ``n_batches`` shuffled mini-batches (no noise, weights masked)."""
    with torch.enable_grad():
        return _gradient_scores(net, data, n_batches, batch_size, draws)


def _gradient_scores(net, data, n_batches, batch_size, draws):
    weights = [w.detach().clone().requires_grad_(True) for w in net.weights]
    linears = dense_linears(weights, net.biases)
    scores = [torch.zeros_like(w) for w in weights]
    seen = 0
    while seen < n_batches:  # more batches than one epoch holds: keep drawing epochs
        for idx in batches(len(data), batch_size, draws):
            logits = forward(data.x[idx], linears, damping=net.damping, activation=net.activation)
            grads = torch.autograd.grad(F.cross_entropy(logits, data.y[idx]), weights)
            for s, g in zip(scores, grads):
                s += g.abs()
            seen += 1
            if seen == n_batches:
                break
    return scores


def n_regrow(n_pruned: int, fraction: float) -> int:
    """Synapses regrown in a layer with ``n_pruned`` pruned positions."""
    return min(n_pruned, max(1, int(fraction * n_pruned))) if n_pruned else 0


def regrow(net: Network, phase: Regrow, data: Split, batch_size: int, draws: Draws) -> None:
    """Per layer, reinstate the top-k pruned positions (k = n_regrow) with N(0, init_std^2) weights."""
    # a block, not a decorator: mutmut (make mutants) leaves decorated functions alone
    with torch.no_grad():
        scores = gradient_scores(net, data, phase.batches, batch_size, draws) if phase.score == "gradient" else None
        for i, (w, mask) in enumerate(zip(net.weights, net.masks)):
            pruned = (~mask).flatten().nonzero().squeeze(1)
            k = n_regrow(pruned.numel(), phase.fraction)
            if k == 0:
                continue
            if scores is None:
                chosen = pruned[torch.randperm(pruned.numel(), generator=draws.generator)[:k]]
            else:
                chosen = pruned[torch.topk(scores[i].flatten()[pruned], k).indices]
            new_w, new_mask = w.clone().flatten(), mask.clone().flatten()
            # in the order of ``chosen``: the highest score takes the first number drawn
            new_w[chosen] = draws.normal(k) * phase.init_std
            new_mask[chosen] = True
            net.weights[i], net.masks[i] = new_w.view_as(w), new_mask.view_as(mask)
