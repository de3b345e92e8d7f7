"""The page's building blocks and one self-contained HTML page made of them.

Figures are embedded as SVG data URIs (vector: legible at any width, and the page
opens offline); tables carry an ``id`` and print every column at one precision;
findings carry the claims their sentence rests on as JSON, so a reader (or a
test) can check each sentence against the tables on the same page.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

# ----------------------------------------------------------------- numbers


def decimals_for(values, significant: int = 3, most: int = 6) -> int:
    """Decimals that show the smallest non-zero ``|value|`` with ``significant`` digits.

    One count per column keeps its numbers at one precision (0.0110 and 0.8500,
    not 0.011 and 0.85).
    """
    finite = [abs(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v) and v]
    if not finite:
        return 0
    return max(0, min(most, significant - 1 - math.floor(math.log10(min(finite)))))


def exact_decimals(values, most: int = 6) -> int:
    """The fewest decimals (up to ``most``) at which every float of ``values`` prints exactly."""
    floats = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    for decimals in range(most + 1):
        if all(float(f"{v:.{decimals}f}") == v for v in floats):
            return decimals
    return most


def fmt(value: Any, decimals: int) -> str:
    """``value`` at ``decimals`` places, ints with thousands separators, None as a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{decimals}f}"


def parse_number(text: str) -> float | None:
    """The first number in a displayed cell (``"54.0"``, ``"1,682"``, ``"0.21 ± 0.01"``)."""
    match = re.search(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?", text)
    return float(match.group().replace(",", "")) if match else None


# ------------------------------------------------------------------ blocks
@dataclass
class Column:
    """A table column: the row key, its header and how its numbers print.

    ``decimals=None`` picks one precision for the whole column from its values
    (:func:`decimals_for`); ``scale`` multiplies before printing (100 for %);
    ``sci`` prints ``2.2e-16`` (for round-off sizes); ``exact`` gives the column the
    fewest decimals that print every value exactly (for settings: 0.01, 0.25, 1.00).
    """

    key: str
    label: str | None = None
    decimals: int | None = None
    scale: float = 1.0
    sci: bool = False
    exact: bool = False

    @property
    def header(self) -> str:
        return self.label or self.key


@dataclass
class Table:
    """Rows of raw values printed at one precision per column, under an ``id``."""

    id: str
    columns: list[Column]
    rows: list[dict]
    caption: str = ""
    _decimals: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.columns = [c if isinstance(c, Column) else Column(c) for c in self.columns]
        for col in self.columns:
            scaled = [_scaled(row.get(col.key), col.scale) for row in self.rows]
            if col.decimals is not None:
                self._decimals[col.key] = col.decimals
            elif col.exact:
                self._decimals[col.key] = exact_decimals(scaled)
            else:
                self._decimals[col.key] = decimals_for(scaled)

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key or col.header == key:
                return col
        raise KeyError(f"table {self.id} has no column {key!r}")

    def text(self, row: dict, key: str) -> str:
        col = self.column(key)
        value = _scaled(row.get(col.key), col.scale)
        if col.sci and isinstance(value, float) and math.isfinite(value):
            return f"{value:.1e}"
        return fmt(value, self._decimals[col.key])

    def find(self, **match) -> dict:
        """The one row whose displayed cells equal ``match`` (keys: column keys)."""
        rows = self.select(**match)
        if len(rows) != 1:
            raise KeyError(f"table {self.id}: {len(rows)} rows match {match}")
        return rows[0]

    def select(self, **match) -> list[dict]:
        return [
            row
            for row in self.rows
            if all(self.text(row, k) == self.text({k: v}, k) for k, v in match.items())
        ]

    def value(self, key: str, **match) -> float:
        """The number shown in column ``key`` of the row matching ``match``.

        Findings are worded from displayed numbers, so that a sentence never
        contradicts the table a reader sees (two errors that print alike are alike).
        """
        number = parse_number(self.text(self.find(**match), key))
        if number is None:
            raise KeyError(f"table {self.id}: no number in column {key!r} for {match}")
        return number

    def shown(self, key: str, value: Any) -> str:
        """``value`` as column ``key`` prints it (for quoting it in a sentence)."""
        return self.text({self.column(key).key: value}, key)

    def match_text(self, match: dict) -> dict:
        """``match`` with every value as the page prints it (for claims)."""
        return {self.column(k).header: self.text({k: v}, k) for k, v in match.items()}


def _scaled(value, scale):
    if isinstance(value, (int, float)) and not isinstance(value, bool) and scale != 1.0:
        return value * scale
    return value


@dataclass
class Figure:
    """A drawn figure: SVG bytes (see :func:`acmlkit.report.build.draw`) and a caption."""

    name: str
    svg: bytes
    caption: str


@dataclass
class Note:
    """Where the notebook's own conclusion was an artefact of one of its flaws."""

    text: str


@dataclass
class Finding:
    """A sentence that states a finding, with the claims it rests on.

    Each claim names a table on the page and the cells it reads (see
    :mod:`acmlkit.report.findings`), so the sentence can be checked against them.
    """

    text: str
    claims: list[dict]


@dataclass
class Adaptation:
    """Where the run departed from the notebook's settings to suit the data, and why."""

    text: str


@dataclass
class Section:
    """One part of the page; ``anchor`` is its id in the table of contents."""

    anchor: str
    title: str
    cell: str  # the notebook cell(s) this section answers
    intro: str = ""
    blocks: list = field(default_factory=list)


@dataclass
class KeyNumber:
    """One line of the summary at the top: a label, the number, and where it comes from."""

    label: str
    value: str
    anchor: str


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; }
h2 { margin-top: 2.2em; border-bottom: 1px solid #bbb; }
.cell { color: #666; font-size: 0.9em; }
nav ol { columns: 2; font-size: 0.95em; }
figure { margin: 1.2em 0; }
figure img { width: 100%; height: auto; border: 1px solid #ddd; background: #fff; }
figcaption { font-size: 0.9em; color: #444; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
th { background: #f3f3f3; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3em; }
.note { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.6em 1em; margin: 1em 0; }
.adapt { background: #e8f1ff; border-left: 4px solid #3a78d0; padding: 0.6em 1em; margin: 1em 0; }
.finding { border-left: 4px solid #2a9d55; padding: 0.2em 1em; }
.error { background: #ffe8e8; border-left: 4px solid #c03030; padding: 0.6em 1em; }
.meta td, .meta th { text-align: left; font-size: 0.95em; }
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

_e = html.escape


def _table(table: Table) -> str:
    if not table.rows:
        return ""
    head = "".join(f"<th>{_e(c.header)}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(table.text(row, c.key))}</td>" for c in table.columns) + "</tr>"
        for row in table.rows
    )
    caption = f"<caption>{_e(table.caption)}</caption>" if table.caption else ""
    return (
        f'<table id="{_e(table.id)}">{caption}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.svg).decode()
    caption = _e(figure.caption)
    return (
        f'<figure id="fig-{_e(figure.name)}"><img src="data:image/svg+xml;base64,{data}" '
        f'alt="{caption}"><figcaption>{caption}</figcaption></figure>'
    )


def _block(block) -> str:
    if isinstance(block, Figure):
        return _figure(block)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Note):
        return f'<div class="note"><b>The notebook:</b> {_e(block.text)}</div>'
    if isinstance(block, Adaptation):
        return f'<div class="adapt"><b>Adapted to the data:</b> {_e(block.text)}</div>'
    if isinstance(block, Finding):
        claims = _e(json.dumps(block.claims, sort_keys=True), quote=True)
        return f'<p class="finding" data-claims="{claims}">{_e(block.text)}</p>'
    return f"<p>{_e(str(block))}</p>"


def _key_value_table(table_id: str, rows: list[tuple[str, str]], caption: str) -> str:
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return (f'<table id="{table_id}" class="meta"><caption>{_e(caption)}</caption>'
            f"<thead><tr><th>item</th><th>value</th></tr></thead><tbody>{body}</tbody></table>")


def render_page(
    title: str,
    sections: list[Section],
    *,
    key_numbers: list[KeyNumber] = (),
    metadata: list[tuple[str, str]] = (),
    footer: str = "",
) -> str:
    """The whole page: title, summary, contents, sections, metadata."""
    toc = "".join(
        f'<li><a href="#{_e(s.anchor)}">{_e(s.title)}</a></li>' for s in sections
    ) + '<li><a href="#run">The run: versions, data, durations</a></li>'
    summary = "".join(
        f'<tr><td><a href="#{_e(k.anchor)}">{_e(k.label)}</a></td><td>{_e(k.value)}</td></tr>'
        for k in key_numbers
    )
    parts = []
    for section in sections:
        parts.append(f'<section id="{_e(section.anchor)}"><h2>{_e(section.title)}</h2>')
        parts.append(f'<p class="cell">Notebook: {_e(section.cell)}</p>')
        if section.intro:
            parts.append(f"<p>{_e(section.intro)}</p>")
        parts.extend(_block(block) for block in section.blocks)
        parts.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style>"
        f"<script>{_SELF_CHECK}</script></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<table id="summary" class="meta"><caption>Key numbers of this run</caption>'
        f"<thead><tr><th>quantity</th><th>value</th></tr></thead><tbody>{summary}</tbody></table>"
        f'<nav><h2 id="contents">Contents</h2><ol>{toc}</ol></nav>'
        f"{''.join(parts)}"
        f'<section id="run"><h2>The run: versions, data, durations</h2>'
        f"{_key_value_table('metadata', list(metadata), 'Run metadata')}</section>"
        f'<footer><p id="page-status">figures not checked yet</p>'
        f"<p>{_e(footer)}</p></footer></body></html>\n"
    )
