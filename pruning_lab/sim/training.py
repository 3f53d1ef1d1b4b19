"""The one training loop: Adam, cross-entropy, shuffled mini-batches, masks, noise schedule."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager, nullcontext
from typing import Callable

import torch
from torch.optim.adam import adam

from ..config import Train
from .data import Split
from .engines import bind
from .network import Network
from .rng import Draws

log = logging.getLogger(__name__)

# phases with at least this many epochs report progress while they run
PROGRESS_FROM_EPOCHS = 20


@contextmanager
def subnormals_flushed():
    """Treat subnormal floats as zero while training (x86 flush-to-zero), then switch it off.

    Adam's running mean of a synapse whose gradient stays zero (one feeding a silent unit)
    decays by 0.9 a step into the subnormal range, where x86 arithmetic is many times slower
    and the Adam update slows down epoch after epoch. Such values change nothing here (the update they make is ~1e-33 against weights
    of ~1e-2). The mode is per thread and also governs Python's own float arithmetic, so it is
    confined to the training loop (off is torch's default) rather than set for the process.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


class Adam:
    """torch.optim.Adam(fused=True), default betas and eps, as one call of its fused kernel.

    torch.optim.Adam(fused=True) calls this same kernel (on CPU since torch 2.4, the oldest
    version pyproject.toml allows) with the same arguments and state, so the numbers are the
    same (a test pins it bit for bit); calling it directly skips torch.optim's per-step
    bookkeeping, a sizeable part of a sparse step at 95% sparsity.
    """

    def __init__(self, params: list[torch.Tensor], lr: float):
        self.params, self.lr = params, lr
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.steps = [torch.zeros(()) for _ in params]  # float32 step counts, as torch.optim keeps them

    def step(self) -> None:
        # a block, not a decorator: mutmut (make mutants) leaves decorated functions alone
        with torch.no_grad():
            # private torch ops: no public call runs the fused kernel without torch.optim's bookkeeping
            torch._foreach_add_(self.steps, 1)
            torch._fused_adam_(self.params, [p.grad for p in self.params], self.exp_avg, self.exp_avg_sq, [],
                               self.steps, amsgrad=False, lr=self.lr, beta1=0.9, beta2=0.999, weight_decay=0.0,
                               eps=1e-8, maximize=False, grad_scale=None, found_inf=None)


class PublishedAdam(Adam):
    """torch.optim.Adam(foreach=False), default betas and eps: the published code's optimizer.

    Its step is torch.optim.adam.adam, the function torch.optim.Adam.step calls, here with the
    same arguments and state (Adam's: a test pins it bit for bit), without torch.optim's
    per-step bookkeeping: in the replay's steps on the survivors that took a third as long as
    the update.
    """

    def step(self) -> None:
        with torch.no_grad():
            adam(self.params, [p.grad for p in self.params], self.exp_avg, self.exp_avg_sq, [], self.steps,
                 foreach=False, capturable=False, differentiable=False, fused=None, amsgrad=False, beta1=0.9,
                 beta2=0.999, lr=self.lr, weight_decay=0.0, eps=1e-8, maximize=False)


def batches(n: int, batch_size: int, draws: Draws):
    """Index batches of one epoch, reshuffled every call (the last batch may be short)."""
    return draws.order(n).split(batch_size)


def shuffled(data: Split, batch_size: int, draws: Draws):
    """One epoch's (inputs, labels) batches: those of ``batches``, from the same draw.

    Gathered once per epoch and split into views, rather than indexed twice per step: in the
    training loop those small gathers run on cold caches.
    """
    order = draws.order(len(data))
    return data.x[order].split(batch_size), data.y[order].split(batch_size)


def train(net: Network, phase: Train, data: Split, batch_size: int, draws: Draws,
          engine: str = "dense", label: str = "train",
          before_epoch: Callable[[Callable[[], None]], None] | None = None) -> None:
    """Train ``net`` in place; a new optimizer per phase, pruned weights stay exactly zero.

    Published rounding (``draws.published``, rng=notebook): torch.optim.Adam's own step, which
    rounds otherwise than the fused kernel, and subnormal numbers kept, as the published code.

    ``before_epoch(sync)`` is called before each epoch, outside flush-to-zero (so what it
    evaluates equals an evaluation after training); after ``sync()`` ``net`` holds the weights
    trained so far (synced only on demand: a hook that scores every few epochs skips the copy
    on the others). It must not draw from ``draws``.
    """
    if phase.epochs == 0:
        return
    model = bind(net, engine, published=draws.published)
    # fused: one pass over each parameter instead of a dozen elementwise kernels, the same Adam
    # as torch.optim's own step up to rounding; that step itself where the rounding must be the
    # published code's (its default on CPU)
    opt = (PublishedAdam if draws.published else Adam)(model.parameters(), lr=phase.lr)
    every = max(1, phase.epochs // 5)
    start = time.perf_counter()
    for epoch in range(phase.epochs):
        if before_epoch is not None:
            before_epoch(model.write_back)
        with nullcontext() if draws.published else subnormals_flushed():
            sigma = phase.sigma(epoch)
            xs, ys = shuffled(data, batch_size, draws)
            losses = []  # summed only when logged: no per-step arithmetic for the log line
            for x, y in zip(xs, ys):
                losses.append(model.step(x, y, sigma, draws))
                opt.step()
                model.after_step()
            if phase.epochs >= PROGRESS_FROM_EPOCHS and ((epoch + 1) % every == 0 or epoch + 1 == phase.epochs):
                total = sum(float(loss) * len(y) for loss, y in zip(losses, ys))
                log.info("%s: epoch %d/%d loss %.4f sigma %.3f (%.1fs)", label, epoch + 1, phase.epochs,
                         total / len(data), sigma, time.perf_counter() - start)
    model.write_back()
