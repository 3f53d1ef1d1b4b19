"""A report as data: its blocks in order, its tables (DataFrames) and figures (matplotlib) by name.

A notebook shows it inline (``_repr_html_``, ``_repr_markdown_``); ``save`` writes ``report.md``,
``report.html`` (one self-contained file: figures embedded as PNG, tables as HTML tables),
``tables/`` (Markdown, CSV, LaTeX), ``figures/`` (PNG, SVG) and the frames behind the numbers.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .tables import Table

HTML_DPI = 150       # the report page: sharp on screen, a few hundred kB per figure
NOTEBOOK_DPI = 100   # inline in a notebook, which is stored with its outputs
# the frames a report keeps beside it (``<name>.csv``), and every file a save writes
FRAMES = ("tidy", "summary", "comparison", "pairwise", "provenance", "bad_files", "missing_cells", "response")
GENERATED = {".": ("report.md", "report.html", *(f"{n}.csv" for n in FRAMES)), "tables": ("*.md", "*.csv", "*.tex"),
             "figures": ("*.png", "*.svg")}


@dataclass
class Block:
    kind: str                      # heading, text, list, table, frame, figure, details
    text: str = ""
    level: int = 2
    items: list = field(default_factory=list)
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
            self.blocks.append(Block("list", items=list(items)))

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

    # -- Markdown --------------------------------------------------------------------------

    def markdown(self, embed: bool = False) -> str:
        """report.md; ``embed``: figures as data URIs instead of links to ``figures/``."""
        lines = [f"# {self.title}", ""]
        for b in self.blocks:
            if b.kind == "heading":
                lines += ["#" * b.level + " " + b.text, ""]
            elif b.kind == "text":
                lines += [b.text, ""]
            elif b.kind == "list":
                for item in b.items:
                    line, subs = item if isinstance(item, tuple) else (item, [])
                    lines.append(f"- {line}")
                    lines += [f"  - {s}" for s in subs]
                lines.append("")
            elif b.kind == "table":
                lines += [self._tables[b.name].markdown(), ""] + ([f"_{b.text}_", ""] if b.text else [])
            elif b.kind == "frame":
                lines += [_markdown_table(b.frame), ""]
            elif b.kind == "figure":
                src = f"data:image/png;base64,{self._png(b.name, NOTEBOOK_DPI)}" if embed else f"figures/{b.name}.png"
                lines += [f"![{_alt(b.text)}]({src})", "", f"_{b.text}_" + ("" if embed else
                                                                            f" (`figures/{b.name}.png`, `.svg` beside it)"),
                          ""]
            elif b.kind == "details":
                lines += [f"<details><summary>{b.name}</summary>", "", b.text, "", "</details>", ""]
        return "\n".join(lines)

    # -- HTML ------------------------------------------------------------------------------

    def html_body(self, dpi: int = HTML_DPI) -> str:
        """The report as an HTML fragment (its own scoped style): figures embedded as PNG."""
        out = [f"<div class=\"pruning-lab-report\"><style>{CSS}</style>", f"<h1>{inline(self.title)}</h1>"]
        for b in self.blocks:
            if b.kind == "heading":
                level = min(b.level, 6)
                out.append(f"<h{level} id=\"{_anchor(b.text)}\">{inline(b.text)}</h{level}>")
            elif b.kind == "text":
                out.append(f"<p>{inline(b.text)}</p>")
            elif b.kind == "list":
                out.append(_html_list(b.items))
            elif b.kind == "table":
                out.append(_html_table(self.tables[b.name], b.name))
                if b.text:
                    out.append(f"<p class=\"note\">{inline(b.text)}</p>")
            elif b.kind == "frame":
                out.append(_html_table(b.frame))
            elif b.kind == "figure":
                out.append(f"<figure id=\"figure-{html.escape(b.name)}\"><img alt=\"{html.escape(_alt(b.text))}\" "
                           f"src=\"data:image/png;base64,{self._png(b.name, dpi)}\">"
                           f"<figcaption>{inline(b.text)}</figcaption></figure>")
            elif b.kind == "details":
                out.append(f"<details><summary>{inline(b.name)}</summary><p>{inline(b.text)}</p></details>")
        out.append("</div>")
        return "\n".join(out)

    def html(self) -> str:
        """report.html: one self-contained page."""
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(self.title)}</title></head>\n<body>\n{self.html_body()}\n</body></html>\n")

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
        from .figures import save as save_figure

        out = Path(out)
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


# -- rendering helpers -----------------------------------------------------------------------


def _markdown_table(df: pd.DataFrame) -> str:
    return df.astype(str).to_markdown(index=False, disable_numparse=True) if len(df) else "_(none)_"


def _alt(caption: str) -> str:
    return re.sub(r"[`*_\[\]]", "", caption)


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def inline(s: str) -> str:
    """The Markdown the report's text uses (code, bold, italics, links) as escaped HTML."""
    out = []
    for part in re.split(r"(`[^`]+`)", str(s)):
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        t = html.escape(part, quote=False)
        t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
        t = re.sub(r"(?<![\w*])_(?=\S)(.+?)(?<=\S)_(?!\w)", r"<em>\1</em>", t)
        t = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", lambda m: f'<a href="{html.escape(m[2])}">{m[1]}</a>', t)
        out.append(t)
    return "".join(out)


def _html_list(items: list) -> str:
    out = ["<ul>"]
    for item in items:
        line, subs = item if isinstance(item, tuple) else (item, [])
        out.append(f"<li>{inline(line)}" + (_html_list(subs) if subs else "") + "</li>")
    out.append("</ul>")
    return "".join(out)


def _html_table(df: pd.DataFrame, name: str = "") -> str:
    if df is None or df.empty:
        return "<p><em>(none)</em></p>"
    head = "".join(f"<th>{inline(c)}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{inline(v)}</td>" for v in r) + "</tr>"
                   for r in df.astype(str).itertuples(index=False))
    ident = f" id=\"table-{html.escape(name)}\"" if name else ""
    return f"<div class=\"table\"><table{ident}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"


CSS = """
.pruning-lab-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 15px;
  line-height: 1.45; color: #1a1a1a; max-width: 1100px; margin: 0 auto; padding: 0 1em; }
.pruning-lab-report h1 { font-size: 1.6em; border-bottom: 2px solid #ccc; padding-bottom: .2em; }
.pruning-lab-report h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.pruning-lab-report h3 { font-size: 1.1em; margin-top: 1.3em; }
.pruning-lab-report code { background: #f3f3f3; padding: 0 .25em; border-radius: 3px; font-size: .92em; }
.pruning-lab-report .table { overflow-x: auto; margin: .6em 0; }
.pruning-lab-report table { border-collapse: collapse; font-size: .88em; }
.pruning-lab-report th, .pruning-lab-report td { border: 1px solid #d0d0d0; padding: .25em .55em; text-align: left;
  vertical-align: top; }
.pruning-lab-report th { background: #eef2f6; position: sticky; top: 0; }
.pruning-lab-report tbody tr:nth-child(even) { background: #fafafa; }
.pruning-lab-report td:not(:first-child) { white-space: nowrap; }
.pruning-lab-report .note { font-size: .88em; color: #444; font-style: italic; }
.pruning-lab-report figure { margin: 1.2em 0; }
.pruning-lab-report figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
.pruning-lab-report figcaption { font-size: .88em; color: #333; max-width: 700px; }
"""
