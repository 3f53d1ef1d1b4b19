"""A report as data: its blocks in order, its tables (DataFrames) and figures (matplotlib) by name.

A notebook shows it inline (``_repr_html_``, ``_repr_markdown_``); ``save`` writes ``report.md``,
``report.html`` (one self-contained file: figures embedded as PNG, tables as HTML tables),
``tables/`` (Markdown, CSV, LaTeX), ``figures/`` (PNG, SVG) and the frames behind the numbers.
Both pages are jinja2 templates (``templates/``); the report's text is Markdown, which the
``markdown`` package turns into HTML, raw HTML in it escaped.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markdown
import pandas as pd
from markdown.extensions import Extension
from markdown.extensions.toc import slugify
from markupsafe import Markup

from .tables import Table

HTML_DPI = 150       # the report page: sharp on screen, a few hundred kB per figure
NOTEBOOK_DPI = 100   # inline in a notebook, which is stored with its outputs
# the frames a report keeps beside it (``<name>.csv``), and every file a save writes
FRAMES = ("tidy", "summary", "comparison", "claims", "pairwise", "control", "provenance", "bad_files", "missing_cells",
          "response")
GENERATED = {".": ("report.md", "report.html", *(f"{n}.csv" for n in FRAMES)), "tables": ("*.md", "*.csv", "*.tex"),
             "figures": ("*.png", "*.svg")}


@dataclass
class Block:
    kind: str                      # heading, text, list, table, frame, figure, details
    text: str = ""
    level: int = 2
    items: list[tuple[str, list[str]]] = field(default_factory=list)  # a list's (line, sub-items)
    name: str = ""
    frame: pd.DataFrame | None = None


class Report:
    """Tables (``tables``: what the report prints, by name; ``frames``: the numbers behind them) and
    figures (``figures``: matplotlib ``Figure`` by name, ``captions``), in the order of ``blocks``."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[Block] = []
        self.tables: dict[str, pd.DataFrame] = {}
        self.frames: dict[str, pd.DataFrame] = {}
        self.figures: dict = {}
        self.captions: dict[str, str] = {}
        self._tables: dict[str, Table] = {}

    # -- building --------------------------------------------------------------------------

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Block("heading", text, level))

    def text(self, *paragraphs: str) -> None:
        self.blocks += [Block("text", p) for p in paragraphs if p]

    def bullets(self, items: list) -> None:
        """A list; an item is a line of text, or ``(line, [sub-items])``."""
        if items:
            self.blocks.append(Block("list", items=[i if isinstance(i, tuple) else (i, []) for i in items]))

    def table(self, t: Table, heading: str | None = None, level: int = 3) -> None:
        """A named table: shown here, kept in ``tables``, written to ``tables/`` by ``save``."""
        self._tables[t.name] = t
        self.tables[t.name] = t.display
        if heading is not None:
            self.heading(heading, level)
        self.blocks.append(Block("table", name=t.name, text=t.note))

    def frame(self, df: pd.DataFrame) -> None:
        """A small table shown in place (not one of ``tables``)."""
        self.blocks.append(Block("frame", frame=df))

    def figure(self, name: str, fig, caption: str) -> None:
        self.figures[name] = fig
        self.captions[name] = caption
        self.blocks.append(Block("figure", name=name, text=caption))

    def details(self, summary: str, text: str) -> None:
        self.blocks.append(Block("details", text, name=summary))

    # -- Markdown and HTML ------------------------------------------------------------------

    def markdown(self, embed: bool = False) -> str:
        """report.md; ``embed``: figures as data URIs instead of links to ``figures/``."""
        images = {name: f"data:image/png;base64,{self._png(name, NOTEBOOK_DPI)}" if embed else f"figures/{name}.png"
                  for name in self.figures}
        tables = {name: t.markdown() for name, t in self._tables.items()}
        page = TEMPLATES.get_template("report.md.j2").render(title=self.title, blocks=self.blocks, tables=tables,
                                                             images=images, embedded=embed)
        return page.rstrip("\n") + "\n"

    def html_body(self, dpi: int = HTML_DPI) -> str:
        """The report as an HTML fragment (its own scoped style): figures embedded as PNG."""
        return self._html("body.html.j2", dpi)

    def html(self) -> str:
        """report.html: one self-contained page."""
        return self._html("report.html.j2", HTML_DPI)

    def _html(self, template: str, dpi: int) -> str:
        images = {name: f"data:image/png;base64,{self._png(name, dpi)}" for name in self.figures}
        return TEMPLATES.get_template(template).render(title=self.title, blocks=self.blocks, tables=self.tables,
                                                       images=images)

    def _repr_html_(self) -> str:
        return self.html_body(NOTEBOOK_DPI)

    def _repr_markdown_(self) -> str:
        return self.markdown(embed=True)

    def __repr__(self) -> str:
        return (f"<Report {self.title!r}: {len(self.tables)} tables ({', '.join(self.tables)}), "
                f"{len(self.figures)} figures ({', '.join(self.figures)})>")

    def _png(self, name: str, dpi: int) -> str:
        import matplotlib

        from .figures import RC

        buf = io.BytesIO()
        with matplotlib.rc_context(RC):
            self.figures[name].savefig(buf, format="png", dpi=dpi)
        return base64.b64encode(buf.getvalue()).decode("ascii")

    # -- files -----------------------------------------------------------------------------

    def save(self, out: Path | str) -> Path:
        """Write everything into ``out`` (what an earlier save wrote there is removed first); returns report.md."""
        from ..store import check_dir
        from .figures import save as save_figure

        out = check_dir(out, "out")  # a file, /proc, a directory that cannot be made: one line, nothing written
        out.mkdir(parents=True, exist_ok=True)
        clear_previous(out)
        for t in self._tables.values():
            t.write(out / "tables")
        for name, fig in self.figures.items():
            save_figure(fig, out / "figures", name)
        for name, df in self.frames.items():
            df.to_csv(out / f"{name}.csv", index=False)
        (out / "report.html").write_text(self.html())
        path = out / "report.md"
        path.write_text(self.markdown())
        return path


def clear_previous(out: Path) -> None:
    """Remove what an earlier save wrote here, so no stale table or figure survives a rerun (a bad
    file since repaired, a condition since dropped); nothing else is touched."""
    for folder, patterns in GENERATED.items():
        for pattern in patterns:
            for f in (out / folder).glob(pattern):
                if f.is_file():
                    f.unlink()


# -- the templates and their filters -----------------------------------------------------------


class _EscapeHtml(Extension):
    """Raw HTML in the report's text (a label, a file name) is shown, not rendered: no block or
    inline HTML processor (Python-Markdown's documented replacement for its old safe mode)."""

    def extendMarkdown(self, md):  # noqa: N802 (Markdown's name)
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


_MARKDOWN = markdown.Markdown(extensions=[_EscapeHtml()])


def paragraphs(text: str) -> Markup:
    """Markdown text as HTML (its paragraphs, lists, code, emphasis, links)."""
    return Markup(_MARKDOWN.reset().convert(str(text)))


def inline(text: str) -> Markup:
    """Markdown text that fills an element of its own (a cell, a heading, a list item): without
    the paragraph the converter wraps it in."""
    out = paragraphs(text)
    return Markup(out[3:-4]) if out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1 else out


def _markdown_table(df: pd.DataFrame) -> str:
    return df.astype(str).to_markdown(index=False, disable_numparse=True) if len(df) else "_(none)_"


TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("pruning_lab.analysis", "templates"),
                               autoescape=jinja2.select_autoescape(["html.j2"]), trim_blocks=True,
                               lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
TEMPLATES.filters.update(inline=inline, paragraphs=paragraphs, markdown_table=_markdown_table,
                         slug=lambda text: slugify(str(text), "-"),
                         rows=lambda df: df.astype(str).itertuples(index=False))
