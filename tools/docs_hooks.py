"""MkDocs hooks of the documentation site (mkdocs.yml): the studies' READMEs and figures.

Each study keeps its README and figures beside its preset and data in ``experiments/``, where
a reader of the repository finds them. The site publishes them under the same relative path,
``experiments/<study>/``, and a page of ``docs/`` links to them as ``../experiments/...``, a
link that works in the repository; the site resolves it one level up, where the pages are.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
_UP_TO_EXPERIMENTS = re.compile(r"\]\(\.\./experiments/")


def on_files(files, config):
    """Add every study's README, and the figures beside it, to the site."""
    for readme in sorted(ROOT.glob("experiments/*/README.md")):
        for path in [readme, *sorted(readme.parent.glob("*.png"))]:
            files.append(File(path.relative_to(ROOT).as_posix(), src_dir=str(ROOT),
                              dest_dir=config["site_dir"], use_directory_urls=config["use_directory_urls"]))
    return files


def on_page_markdown(markdown, page, config, files):
    """A page of docs/ links to a study as ../experiments/...; on the site it sits beside the pages."""
    if page.file.src_uri.count("/") == 0:
        return _UP_TO_EXPERIMENTS.sub("](experiments/", markdown)
    return markdown
