"""The documentation: the site builds strictly, and README.md stays one screen with working links."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pruning_lab.config import Job

from .conftest import ROOT

README = ROOT / "README.md"
README_MAX_LINES = 80
# [text](target) and ![alt](target); a target may carry an anchor
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def test_the_site_builds_strictly(tmp_path):
    """A broken link, a bad anchor, a page in the nav that does not exist: each fails the build."""
    assert importlib.util.find_spec("mkdocs") and importlib.util.find_spec("material"), (
        "mkdocs and mkdocs-material are not installed; `make venv` installs them (the dev extra)")
    # NO_MKDOCS_2_WARNING: the theme's notice about its own end of life, printed on every build
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert not [line for line in output.splitlines() if line.startswith("WARNING")], output
    assert (tmp_path / "site" / "index.html").is_file()
    # the studies' READMEs and figures are pages of the site (tools/docs_hooks.py)
    for study in ("paper1", "paper2", "severity", "onset"):
        assert (tmp_path / "site" / "experiments" / study / "index.html").is_file(), study
    assert (tmp_path / "site" / "experiments" / "severity" / "dose_pathology.sparsity.png").is_file()


def test_the_readme_is_one_screen():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; the rest belongs in docs/"


def slug(heading: str) -> str:
    """The anchor of a heading, as the docs site and GitHub both make it for this project's headings."""
    from markdown.extensions.toc import slugify

    return slugify(heading.replace("`", ""), "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", path.read_text()))}


def test_every_relative_link_of_the_readme_points_to_an_existing_file():
    text = FENCE.sub("", README.read_text())
    targets = [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]
    assert targets, "README.md has no relative link"
    broken = []
    for target in targets:
        path, _, anchor = target.partition("#")
        file = (ROOT / path) if path else README
        if not file.is_file():
            broken.append(f"{target}: no file {path}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: {path or 'README.md'} has no heading for #{anchor}")
    assert not broken, "\n".join(broken)


def test_the_results_table_is_the_one_the_reference_gives():
    """README.md and the studies page show the table `python -m pruning_lab.verify --table` prints."""
    table = subprocess.run([sys.executable, "-m", "pruning_lab.verify", "--table"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert table.startswith("| | ours | paper 2 |")
    for page in (README, ROOT / "docs" / "studies.md"):
        assert table in page.read_text(), f"{page.relative_to(ROOT)}: the results table differs from the reference's"


@pytest.mark.parametrize("page", ["docs/usage.md"])
def test_the_example_treatment_is_a_valid_one(tmp_path, page):
    """The new regimen of the usage page, dropped into conf/treatment/, validates."""
    from hydra import compose, initialize_config_dir

    blocks = re.findall(r"^```yaml\n(.*?)^```", (ROOT / page).read_text(), re.S | re.M)
    assert len(blocks) == 1, f"{page}: one yaml block expected, the new treatment"
    name = re.search(r"^name: (\w+)$", blocks[0], re.M).group(1)
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    (conf / "treatment" / f"{name}.yaml").write_text(blocks[0])
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        job = Job.from_config(compose("config", overrides=[f"treatment={name}"]))
    assert job is not None
