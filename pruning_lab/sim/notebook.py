"""rng=notebook: the published notebook's random draws, from one generator per seed, in its order.

The code behind paper 2 seeds torch's global generator with the seed and then draws
everything from it, one arm after another, in one script; its data come from NumPy
generators of their own (data.py draws the same numbers). A job here runs one arm, so it
draws what its arm draws at the very place the published script does, and skips the other
arms' draws by their count. The order, in torch 2.13 (docs/reproducibility.md says more):

- the healthy network's initialisation (each layer's weight, then its bias, U(+-1/sqrt(fan in)));
  every copy of a network the script makes for an arm or for its course is a new network,
  which draws an initialisation of its own before it takes the copied weights;
- every pass over a data set starts with one 64-bit draw (the data loader's iterator seed);
  a training pass then draws a second, which seeds the generator of that epoch's permutation;
- internal noise: one standard normal tensor per hidden layer and mini-batch, (batch, width),
  added as h + z * sigma; input noise likewise, drawn before the batch's hidden noise;
- scoring runs over batches of 1000;
- regrowth: the scoring pass (as a training pass), then per layer the regrown weights' normals,
  the first number to the highest score;
- the script's order: baseline; the untreated network's scores; then per arm (ketamine-like,
  SSRI-like, neurosteroid-like) its copy, treatment, scores (the neurosteroid-like also off
  drug, combined and extreme only) and the relapse score; then per arm a copy and its cycle-0
  score; then per cycle every arm's maintenance, then every arm's score.

A draw the published code never makes (the healthy network's scores, the off-drug conditions
it does not score) comes from the named streams (rng.py) instead.
"""

from __future__ import annotations

import torch

from ..config import NOTEBOOK_ARMS, Job, Modulate, Regrow, Train, TreatmentConfig
from .data import Split
from .evaluation import Scores
from .generator import advance, randn
from .network import Network
from .regrowth import n_regrow
from .rng import Draws

SCORING_BATCH = 1000  # the published code's test loaders


def int64(generator: torch.Generator) -> int:
    """One draw of a data loader's seed: torch.empty((), int64).random_(), two 32-bit words."""
    return int(torch.empty((), dtype=torch.int64).random_(generator=generator))


class NotebookDraws(Draws):
    """The published code's draws from the seed's one generator, rounded as it rounds."""

    def __init__(self, generator: torch.Generator):
        super().__init__(generator, published=True)

    def order(self, n: int) -> torch.Tensor:
        int64(self.generator)  # the iterator's own seed, unused on one process
        return torch.randperm(n, generator=torch.Generator().manual_seed(int64(self.generator)))

    def noise(self, h: torch.Tensor, sigma: float) -> torch.Tensor:
        return h + self.normal(h.shape) * sigma

    def normal(self, shape: tuple[int, ...] | int) -> torch.Tensor:
        return randn(self.generator, shape)

    def passes(self, split: Split):
        int64(self.generator)
        return list(zip(split.x.split(SCORING_BATCH), split.y.split(SCORING_BATCH)))


class Tally:
    """The 32-bit words a stretch of the published code's draws takes, to skip it by count."""

    def __init__(self):
        self.steps: list[int | tuple[int]] = []  # words to skip, or (n,): n normals drawn for real

    def words(self, n: int) -> None:
        if self.steps and isinstance(self.steps[-1], int):
            self.steps[-1] += n
        else:
            self.steps.append(n)

    def int64(self) -> None:
        self.words(2)

    def uniform(self, n: int) -> None:
        self.words(n)  # float32 uniform_: one word a number

    def normal(self, n: int) -> None:
        # torch.randn of 16 numbers or more fills them from one word each and redraws the last 16
        # when n is not a multiple of 16; fewer come from a scalar path that keeps a spare normal
        # in the generator between calls, so those are drawn for real
        if n >= 16:
            self.words(n + (16 if n % 16 else 0))
        elif n > 0:
            self.steps.append((n,))

    def skip(self, generator: torch.Generator) -> None:
        for step in self.steps:
            if isinstance(step, tuple):
                torch.randn(step[0], generator=generator)
            else:
                advance(generator, step)


def sizes(n: int, batch: int) -> list[int]:
    return [min(batch, n - i) for i in range(0, n, batch)]


class Notebook:
    """The published code's stream for one job: its arm's draws at their place in the order."""

    published = True

    def __init__(self, job: Job):
        self.job, self.arm = job, job.treatment.name
        self.generator = torch.Generator().manual_seed(job.seed)
        self.pruned_counts: list[int] | None = None
        self.events = self._events()
        self.index = {key: i for i, (key, _) in enumerate(self.events)}
        self.position = 0  # the first event not yet drawn or skipped

    # -- what the protocol asks for ---------------------------------------------------------------

    def draws(self, stage: str, cycle: int = 0) -> Draws:
        """A training stage's draws: ``baseline``, ``treatment``, or cycle ``cycle``'s ``maintenance``."""
        key = ("baseline",) if stage == "baseline" else (self.arm, stage, cycle) if stage == "maintenance" \
            else (self.arm, stage)
        self._seek(key)
        return NotebookDraws(self.generator)

    def scores(self, stage: str, cycle: int = 0) -> Scores:
        """A scoring's draws: ``healthy``, ``untreated``, ``treated``, ``off_drug``, ``relapse``, or ``cycle``."""
        prefix = ("untreated",) if stage == "untreated" else (self.arm, stage, cycle) if stage == "cycle" \
            else (self.arm, stage)
        return _Scores(self, prefix)

    def pathology(self, pruned: Network) -> None:
        """The depressed network's pruned synapses per layer: what the skipped regrowth draws."""
        self.pruned_counts = [int((~m).sum()) for m in pruned.masks]

    # -- the order --------------------------------------------------------------------------------

    def _seek(self, key: tuple) -> None:
        i = self.index[key]
        if i < self.position:
            raise RuntimeError(f"draws for {key} asked for after {self.events[self.position - 1][0]}: "
                               "not the published order")
        tally = Tally()
        for _, count in self.events[self.position:i]:
            count(tally)
        tally.skip(self.generator)
        self.position = i + 1

    def _events(self) -> list[tuple[tuple, object]]:
        """(key, count) of every stretch of draws of the published script for this seed, in order."""
        job = self.job
        model, data, stress = job.model, job.data, job.stress
        widths = list(model.hidden)
        shapes = [model.inputs, *widths, model.classes]

        def init(t: Tally) -> None:
            for fan_in, fan_out in zip(shapes[:-1], shapes[1:]):
                t.uniform(fan_out * fan_in)
                t.uniform(fan_out)

        def epochs(phase: Train):
            def count(t: Tally) -> None:
                for e in range(phase.epochs):
                    t.int64()
                    t.int64()
                    if phase.sigma(e) > 0:
                        for b in sizes(data.train_size, data.batch_size):
                            for w in widths:
                                t.normal(b * w)
            return count

        def phases(treatment: TreatmentConfig, which: str):
            def count(t: Tally) -> None:
                for phase in getattr(treatment, which):
                    if isinstance(phase, Train):
                        epochs(phase)(t)
                    elif isinstance(phase, Regrow):
                        t.int64()
                        t.int64()
                        if self.pruned_counts is None:
                            raise RuntimeError("regrowth skipped before the pathology was known")
                        for n in self.pruned_counts:
                            t.normal(n_regrow(n, phase.fraction))
            return count

        def scoring(n: int, input_sigma: float, sigma: float):
            def count(t: Tally) -> None:
                t.int64()
                for b in sizes(n, SCORING_BATCH):
                    if input_sigma > 0:
                        t.normal(b * model.inputs)
                    if sigma > 0:
                        for w in widths:
                            t.normal(b * w)
            return count

        combined = ("combined", scoring(data.test_size, stress.input_sigma, stress.internal_sigma))
        full = [("clean", scoring(data.clean_size, 0.0, 0.0)), ("standard", scoring(data.test_size, 0.0, 0.0)),
                combined, *((f"internal/{s:g}", scoring(data.test_size, 0.0, s)) for s in stress.profile)]
        extreme = scoring(data.test_size, 0.0, stress.extreme_sigma)
        off_drug = [combined, (f"internal/{stress.extreme_sigma:g}", extreme)]

        def arm(name: str) -> TreatmentConfig:
            return job.treatment if name == self.arm else NOTEBOOK_ARMS[name]

        baseline = epochs(Train(job.baseline.epochs, job.baseline.lr))
        events: list[tuple[tuple, object]] = [(("baseline",), lambda t: (init(t), baseline(t)))]
        events += [(("untreated", c), count) for c, count in full]
        for name in NOTEBOOK_ARMS:
            events += [((name, "copy"), init), ((name, "treatment"), phases(arm(name), "phases"))]
            events += [((name, "treated", c), count) for c, count in full]
            if any(isinstance(p, Modulate) for p in arm(name).phases):
                events += [((name, "off_drug", c), count) for c, count in off_drug]
            events.append(((name, "relapse", "combined"), combined[1]))
        for name in NOTEBOOK_ARMS:
            events += [((name, "course"), init), ((name, "cycle", 0, "combined"), combined[1])]
        for cycle in range(1, job.longitudinal.cycles + 1):
            events += [((name, "maintenance", cycle), phases(arm(name), "maintenance")) for name in NOTEBOOK_ARMS]
            events += [((name, "cycle", cycle, "combined"), combined[1]) for name in NOTEBOOK_ARMS]
        return events


class _Scores(Scores):
    """A scoring's conditions: those the published code scores from its stream, the others named."""

    def __init__(self, notebook: Notebook, prefix: tuple):
        super().__init__(notebook.job.seed, published=True)
        self.notebook, self.prefix = notebook, prefix

    def __call__(self, condition: str) -> Draws:
        key = (*self.prefix, condition)
        if key not in self.notebook.index:
            return super().__call__(condition)
        self.notebook._seek(key)
        return NotebookDraws(self.notebook.generator)
