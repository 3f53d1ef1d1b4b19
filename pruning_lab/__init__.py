"""pruning-lab: the pruning-plasticity model of depression and its treatments, as sweeps."""

__version__ = "0.1.0"
