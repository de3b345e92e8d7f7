"""Read a report page back as a reader would, independently of acmlkit.report.

Parses the page's tables (by id, header -> displayed text), its findings (sentence
and claims), figures and anchors with the standard library's HTML parser, and
checks every claim against the tables on the same page.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


def number(text: str) -> float:
    match = NUMBER.search(text)
    if match is None:
        raise AssertionError(f"no number in cell {text!r}")
    return float(match.group().replace(",", ""))


@dataclass
class Page:
    tables: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)
    findings: list[tuple[str, list[dict]]] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # img src values
    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    adaptations: list[str] = field(default_factory=list)
    text: str = ""


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.table = None
        self.row = None
        self.cell = None
        self.in_head = False
        self.capture = None  # (kind, claims, buffer)
        self.div_depth = 0
        self.chunks = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.page.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.page.links.append(attrs["href"][1:])
        if tag == "img":
            self.page.figures.append(attrs["src"])
        if tag == "table":
            self.table = attrs.get("id")
            self.page.tables.setdefault(self.table, [])
            self.page.headers[self.table] = []
        if tag == "thead":
            self.in_head = True
        if tag == "tr":
            self.row = []
        if tag in ("td", "th"):
            self.cell = []
        if tag == "p" and attrs.get("class") == "finding":
            self.capture = ("finding", json.loads(attrs["data-claims"]), [])
        if tag == "div" and attrs.get("class") in ("note", "adapt"):
            self.capture = (attrs["class"], None, [])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        if tag == "tr" and self.row is not None and self.table is not None:
            if self.in_head:
                self.page.headers[self.table] = self.row
            elif self.page.headers.get(self.table):
                self.page.tables[self.table].append(dict(zip(self.page.headers[self.table],
                                                             self.row)))
            self.row = None
        if tag == "thead":
            self.in_head = False
        if tag == "table":
            self.table = None
        if self.capture and ((tag == "p" and self.capture[0] == "finding")
                             or (tag == "div" and self.capture[0] != "finding")):
            kind, claims, buffer = self.capture
            text = "".join(buffer).strip()
            if kind == "finding":
                self.page.findings.append((text, claims))
            elif kind == "note":
                self.page.notes.append(text)
            else:
                self.page.adaptations.append(text)
            self.capture = None

    def handle_data(self, data):
        self.chunks.append(data)
        if self.cell is not None:
            self.cell.append(data)
        if self.capture is not None:
            self.capture[2].append(data)


def parse(html: str) -> Page:
    parser = _Parser()
    parser.feed(html)
    parser.page.text = " ".join(parser.chunks)
    return parser.page


# ------------------------------------------------------------------- claims
def _rows(page: Page, table: str, where: dict) -> list[dict]:
    assert table in page.tables, f"claim names table {table!r}, not on the page"
    rows = [r for r in page.tables[table] if all(r.get(k) == v for k, v in where.items())]
    assert rows, f"table {table}: no row shows {where}"
    return rows


def _cell(page: Page, ref: dict) -> str:
    rows = _rows(page, ref["table"], ref["row"])
    assert len(rows) == 1, f"table {ref['table']}: {len(rows)} rows show {ref['row']}"
    assert ref["column"] in rows[0], f"table {ref['table']} has no column {ref['column']!r}"
    return rows[0][ref["column"]]


def check_claim(page: Page, claim: dict) -> None:
    op = claim["op"]
    if op == "value":
        assert _cell(page, claim["cell"]) == claim["text"], claim
    elif op in ("lt", "gt", "eq"):
        a, b = number(_cell(page, claim["a"])), number(_cell(page, claim["b"]))
        assert {"lt": a < b, "gt": a > b, "eq": a == b}[op], f"{a} {op} {b} is false: {claim}"
    elif op in ("argmin", "argmax"):
        rows = _rows(page, claim["table"], claim["where"])
        values = [number(r[claim["column"]]) for r in rows]
        best = min(values) if op == "argmin" else max(values)
        tied = {r[claim["over"]] for r, v in zip(rows, values) if v == best}
        assert claim["at"] in tied, f"{op} of {claim['column']} is at {tied}, not {claim['at']}"
    elif op == "diff":
        a, b = number(_cell(page, claim["a"])), number(_cell(page, claim["b"]))
        decimals = len(claim["text"].partition(".")[2])
        assert abs(abs(a - b) - float(claim["text"])) <= 0.51 * 10**-decimals + 1e-9, claim
    elif op == "first":
        rows = page.tables[claim["table"]]
        hit = next((r[claim["over"]] for r in rows if number(r[claim["column"]]) > claim["above"]),
                   None)
        assert hit == claim["at"], f"first row above {claim['above']} is {hit}: {claim}"
    else:
        raise AssertionError(f"unknown claim {op!r}")


def quoted(claim: dict) -> list[str]:
    """The texts a claim says its sentence quotes."""
    if claim["op"] in ("value", "diff"):
        return [claim["text"]]
    if claim["op"] in ("argmin", "argmax", "first") and claim.get("at") is not None:
        return [claim["at"]]
    return []


def check_findings(page: Page) -> int:
    """Check every finding on the page; returns how many claims were checked."""
    checked = 0
    for sentence, claims in page.findings:
        assert claims, f"a finding with no claims: {sentence!r}"
        for claim in claims:
            check_claim(page, claim)
            for text in quoted(claim):
                assert re.search(rf"(?<![\d.]){re.escape(text)}(?![\d])", sentence), (
                    f"the sentence does not quote {text!r}: {sentence!r}"
                )
            checked += 1
    return checked


# ------------------------------------------------------------------ figures
PAGE_WIDTH_PX = 948  # the page's 980 px column less its padding


def smallest_text_px(src: str) -> float:
    """The smallest font of an SVG figure as shown at page width, in CSS pixels."""
    prefix = "data:image/svg+xml;base64,"
    assert src.startswith(prefix), f"figure is not an embedded SVG: {src[:40]}"
    svg = base64.b64decode(src[len(prefix):]).decode()
    width = float(re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+) [\d.]+"', svg).group(1))
    sizes = [float(s) for s in re.findall(r"font-size:\s*([\d.]+)px", svg)]
    assert sizes, "an SVG figure with no text (no axis labels?)"
    return min(sizes) * PAGE_WIDTH_PX / width


def decimals(text: str) -> int | None:
    match = NUMBER.search(text)
    if match is None:
        return None
    return len(match.group().partition(".")[2].partition("e")[0])
