"""pruning-lab: the pruning-plasticity model of depression and its treatments, as sweeps.

``pruning_lab.simulate(overrides, store=None)`` runs one job as the CLI would;
``pruning_lab.sweep(grid, ...)`` runs a sweep on the CLI's launch path and returns its tidy
frame; ``pruning_lab.load_results(path)`` reads a store or a sweep dir into one;
``pruning_lab.report(results)`` makes its report (tables and figures, shown inline, ``.save(dir)``).
Each is imported on first use, so importing the package stays cheap (no torch, no pandas).
"""

__version__ = "0.1.0"
__all__ = ["simulate", "sweep", "job", "load_results", "report", "ConfigError"]

_LAZY = {"simulate": "api", "sweep": "api", "job": "api", "load_results": "analysis.load",
         "report": "analysis.sections", "ConfigError": "config"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


from . import numerics  # noqa: E402

# before torch and numba are used: they read these settings once, at first use
numerics.prepare()
