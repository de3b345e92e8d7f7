"""A self-contained HTML page: figures embedded as data URIs, so it opens offline."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Figure:
    path: Path
    caption: str


@dataclass
class Table:
    rows: list[dict]
    caption: str = ""


@dataclass
class Note:
    """Where the notebook's own conclusion was an artefact of one of its flaws."""

    text: str


@dataclass
class Section:
    title: str
    cell: str  # the notebook cell(s) this section answers
    intro: str = ""
    blocks: list = field(default_factory=list)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; }
h2 { margin-top: 2.2em; border-bottom: 1px solid #bbb; }
.cell { color: #666; font-size: 0.9em; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3em; }
.note { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.6em 1em; margin: 1em 0; }
footer { margin-top: 3em; font-size: 0.85em; color: #666; }
"""

# Records load failures of any resource (capture phase) and script errors, and
# reports on the page how many figures decoded: a reader sees at a glance
# whether the page is whole, and a headless browser can check it.
_SELF_CHECK = """
window.__reportErrors = [];
window.addEventListener('error', function (e) {
  window.__reportErrors.push(e.message || ('failed to load ' + (e.target.src || e.target)));
}, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var status = document.getElementById('page-status');
  status.dataset.figures = ok + '/' + imgs.length;
  status.dataset.errors = String(window.__reportErrors.length);
  status.textContent = ok + ' of ' + imgs.length + ' figures loaded; ' +
    window.__reportErrors.length + ' errors.';
});
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape("" if value is None else str(value))


def _table(table: Table) -> str:
    if not table.rows:
        return ""
    columns = list(table.rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>"
        for row in table.rows
    )
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(figure: Figure) -> str:
    data = base64.b64encode(Path(figure.path).read_bytes()).decode()
    caption = html.escape(figure.caption)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def render_page(title: str, sections: list[Section], footer: str = "") -> str:
    parts = []
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts.append(f'<p class="cell">Notebook: {html.escape(section.cell)}</p>')
        if section.intro:
            parts.append(f"<p>{html.escape(section.intro)}</p>")
        for block in section.blocks:
            if isinstance(block, Figure):
                parts.append(_figure(block))
            elif isinstance(block, Table):
                parts.append(_table(block))
            elif isinstance(block, Note):
                parts.append(
                    f'<div class="note"><b>The notebook:</b> {html.escape(block.text)}</div>'
                )
            else:
                parts.append(f"<p>{html.escape(str(block))}</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{_SELF_CHECK}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>{''.join(parts)}"
        f'<footer><p id="page-status">figures not checked yet</p>'
        f"<p>{html.escape(footer)}</p></footer></body></html>\n"
    )
