"""The package's layers point one way: each module imports only from its own layer or below.

tree -> numerics -> config -> sim (the simulation) -> store -> launch (the sweep) -> analysis -> api,
with the command-line modules on top. A study (studies/) keeps its two sides together: its
sweeper and what it shares with the other's (base, space, metrics) are the sweep's layer, its
tables the analysis's. Every import counts, those inside functions too; the simulation imports
no Hydra, no OmegaConf and no pandas; no two modules import each other, directly or through others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pruning_lab"
LAYERS = ["tree", "numerics", "config", "sim", "store", "launch", "analysis", "api", "entry"]
ENTRY = {"__init__", "run", "aggregate", "verify"}


def layer(module: str) -> str:
    """The layer of ``pruning_lab.<module>``."""
    first = module.split(".")[0]
    if first == "studies":
        return "analysis" if module.endswith(".tables") else "launch"
    return "entry" if first in ENTRY else first


def imports(path: Path, root: Path = PACKAGE) -> set[str]:
    """The pruning_lab modules (``sim.data``, ``store``, ...) and the other top-level packages ``path`` imports."""
    own = path.relative_to(root).with_suffix("").parts
    package = own[:-1] if own[-1] != "__init__" else own[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" if target else a.name for a in node.names]
                out |= {"pruning_lab." + n if (root / n.replace(".", "/")).with_suffix(".py").exists()
                        or (root / n.replace(".", "/")).is_dir() else "pruning_lab." + target for n in names}
            else:
                out.add(node.module)
    # "pruning_lab." itself: the package's __init__
    return {(m.removeprefix("pruning_lab.") or "__init__") if m.startswith("pruning_lab.") else m.split(".")[0]
            for m in out}


MODULES = {".".join(p.relative_to(PACKAGE).with_suffix("").parts): imports(p) for p in PACKAGE.rglob("*.py")}
OWN = {m.removesuffix(".__init__") for m in MODULES} | {m.split(".")[0] for m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_from_its_layer_or_below(module):
    mine = LAYERS.index(layer(module))
    upward = sorted(m for m in MODULES[module] if m in OWN and LAYERS.index(layer(m)) > mine)
    assert not upward, f"{module} ({layer(module)}) imports {upward}"


def test_the_simulation_imports_no_hydra_no_omegaconf_no_pandas():
    found = {m: sorted(MODULES[m] & {"hydra", "omegaconf", "pandas", "filelock"}) for m in MODULES if layer(m) == "sim"}
    assert not any(found.values()), found
    assert len(found) >= 12  # the walk really saw the simulation


def test_no_import_cycles():
    graph = {m.removesuffix(".__init__"): {i for i in deps if i in MODULES or i + ".__init__" in MODULES}
             for m, deps in MODULES.items()}
    graph = {m: {d for d in deps if d != m and not m.startswith(d + ".")} for m, deps in graph.items()}
    seen, stack = set(), []

    def visit(m: str) -> None:
        assert m not in stack, " -> ".join(stack[stack.index(m):] + [m])
        if m in seen:
            return
        stack.append(m)
        for d in graph.get(m, ()):
            visit(d)
        stack.pop()
        seen.add(m)

    for m in graph:
        visit(m)


def test_each_study_keeps_its_sweeper_in_the_sweep_and_its_tables_in_the_analysis():
    studies = {m: layer(m) for m in MODULES if m.startswith("studies.") and not m.endswith("__init__")}
    assert studies == {"studies.base": "launch", "studies.space": "launch", "studies.metrics": "launch",
                       "studies.search.sweeper": "launch", "studies.search.tables": "analysis",
                       "studies.sensitivity.sweeper": "launch", "studies.sensitivity.tables": "analysis"}


def test_the_walk_sees_an_import_inside_a_function(tmp_path):
    """The check itself: a simulation module that imported the store lazily would be caught."""
    (tmp_path / "sim").mkdir()
    (tmp_path / "store.py").write_text("")
    (tmp_path / "sim" / "bad.py").write_text("def f():\n    from ..store import Store\n    from . import data\n")
    (tmp_path / "sim" / "data.py").write_text("")
    assert imports(tmp_path / "sim" / "bad.py", tmp_path) == {"store", "sim.data"}
