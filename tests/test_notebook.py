"""experiments/notebook.ipynb: committed with its outputs, which show the treatments apart; executed
from nothing by nbclient (marked ``notebook``: ``make test-notebook``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from .conftest import ROOT

NOTEBOOK = ROOT / "experiments" / "notebook.ipynb"
ROW = re.compile(r"^(\S.*?)\s{2,}([\d.]+) ± [\d.]+\s+([\d.]+) ± [\d.]+$")


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def outputs(nb: dict, kind: str) -> list[str]:
    return ["".join(o["data"][kind]) for c in code_cells(nb) for o in c["outputs"] if kind in o.get("data", {})]


def arms_apart(nb: dict) -> dict[str, tuple[float, float]]:
    """The combined-stress and extreme-noise means per arm the notebook shows, checked to differ."""
    table = next(t for t in outputs(nb, "text/plain") if "Extreme stress σ=2.5 (%)" in t)
    shown = {m[1]: (float(m[2]), float(m[3])) for line in table.splitlines() if (m := ROW.match(line))}
    untreated, ket, ssri, neuro = (shown[k] for k in ("Untreated (pruned)", "Ketamine-like", "SSRI-like",
                                                       "Neurosteroid-like"))
    # combined stress: every treatment well above the untreated network, the SSRI-like course between
    assert ket[0] > ssri[0] + 10 and neuro[0] > ssri[0] + 10 and ssri[0] > untreated[0] + 10, shown
    # extreme noise tells regrowth from tonic inhibition, and inhibition from the untreated network
    assert ket[1] > neuro[1] + 20 and neuro[1] > untreated[1] + 5, shown
    return shown


def check(nb: dict) -> None:
    cells = code_cells(nb)
    assert [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1))
    assert not [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert len(outputs(nb, "image/png")) == 1                  # the profile figure, untreated line included
    assert any("Study report" in "".join(o.get("text", "")) for c in cells for o in c["outputs"])
    arms_apart(nb)


def test_the_committed_notebook_holds_outputs_that_show_the_treatments_apart():
    check(json.loads(NOTEBOOK.read_text()))


def test_the_notebook_keeps_its_results_out_of_git():
    nb = json.loads(NOTEBOOK.read_text())
    source = "".join("".join(c["source"]) for c in code_cells(nb))
    assert 'out = "outputs/notebook"' in source and 'store=f"{out}/store"' in source
    assert "outputs/store" not in source                     # never the command line's shared store
    ignored = subprocess.run(["git", "check-ignore", "-q", "experiments/outputs/notebook/store/results/x.json"],
                             cwd=ROOT)
    assert ignored.returncode == 0


@pytest.mark.notebook
def test_the_notebook_runs_from_nothing(tmp_path):
    """Executed by nbclient in a fresh directory: its own store fills with the 15 jobs, and the
    outputs show the treatments apart."""
    nbformat = pytest.importorskip("nbformat", reason="the notebook extra: make test-notebook installs it")
    from nbclient import NotebookClient

    shutil.copy(NOTEBOOK, tmp_path / "notebook.ipynb")
    nb = nbformat.read(tmp_path / "notebook.ipynb", as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    check(json.loads(nbformat.writes(nb)))
    assert len(list((tmp_path / "outputs" / "notebook" / "store" / "results").glob("*.json"))) == 15
    assert (tmp_path / "outputs" / "notebook" / "report" / "report.html").is_file()
