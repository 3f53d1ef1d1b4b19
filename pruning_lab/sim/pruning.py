"""Magnitude pruning: per layer (the published numbers) or global (paper 2's prose)."""

from __future__ import annotations

import torch

from .network import Network


def _threshold(magnitudes: torch.Tensor, target: float) -> torch.Tensor:
    """quantile(|W|, target) with linear interpolation, as numpy/torch.quantile, of any size."""
    # zeros are included, so already-pruned synapses count toward the target
    v = magnitudes.flatten().double().sort().values
    pos = target * (v.numel() - 1)
    lo = int(pos)
    hi = min(lo + 1, v.numel() - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def prune(net: Network, target: float, scope: str = "per_layer", published: bool = False) -> None:
    """Prune in place to sparsity ``target``: keep |W| >= quantile(|W|, target).

    Pruned synapses stay pruned (a threshold of 0 must not revive them), and pruned weights
    are set to exactly zero. Biases are never pruned. ``published``: the threshold as the
    published code computes it, torch.quantile in float32 (its q rounded to float32 too), which
    now and then lands on the weight just below the float64 one and keeps it.
    """
    # a block, not a decorator: mutmut (make mutants) leaves decorated functions alone
    with torch.no_grad():
        if target <= 0:
            return
        if scope == "per_layer" and published:
            thresholds = [torch.quantile(w.abs().flatten(), target) for w in net.weights]
        elif scope == "per_layer":
            thresholds = [_threshold(w.abs(), target) for w in net.weights]
        elif scope == "global":
            t = _threshold(torch.cat([w.abs().flatten() for w in net.weights]), target)
            thresholds = [t] * len(net.weights)
        else:
            raise ValueError(f"unknown pruning scope {scope!r}")
        for i, (w, t) in enumerate(zip(net.weights, thresholds)):
            mask = net.masks[i] & (w.abs().to(t.dtype) >= t)
            net.masks[i] = mask
            net.weights[i] = w * mask


def further(sparsity: float, fraction: float, cap: float = 1.0) -> float:
    """Target sparsity after removing ``fraction`` of the surviving weights, capped."""
    return min(sparsity + (1.0 - sparsity) * fraction, cap)
