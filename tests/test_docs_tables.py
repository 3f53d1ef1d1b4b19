"""Every result table of the docs is what its committed per-seed CSV gives (tools/docs_tables.py)."""

from __future__ import annotations

import importlib.util
import re

import pytest

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("docs_tables", ROOT / "tools" / "docs_tables.py")
docs_tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs_tables)

RESULT = re.compile(r"\d ± \d")   # a mean ± SD: a result, not a runtime or a rule


def test_every_block_is_what_its_csv_gives(capsys):
    assert docs_tables.main(["--check"]) == 0, capsys.readouterr().out


def test_a_hand_edited_number_is_found():
    path = ROOT / "experiments" / "search" / "README.md"
    text = path.read_text()
    m = re.search(r"\| trial 19 \(fraction [^|]*\| [^|]*\| [^|]*\| (\d+\.\d) ± ", text)
    edited = text[:m.start(1)] + "99.9" + text[m.end(1):]
    new, changed = docs_tables.rewrite(edited, str(path))
    assert changed == ["search-heldout"] and new == text


@pytest.mark.parametrize("path", docs_tables.DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_result_table_is_typed_by_hand(path):
    """Every table row with a mean ± SD lies inside a generated block."""
    text = path.read_text()
    inside = [range(m.start(), m.end()) for m in docs_tables.BLOCK.finditer(text)]
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.startswith("|") and RESULT.search(line):
            assert any(offset in r for r in inside), f"{path.name}: {line.strip()}"
        offset += len(line)
