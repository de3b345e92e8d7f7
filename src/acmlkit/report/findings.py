"""Claims: what a finding's sentence says about the numbers on the page.

A claim names a table by id, rows by their displayed cells and a column by its
header, so it can be checked against the page alone. Every helper here reads the
numbers as the table prints them and returns the word or value the sentence
should use together with the claim that backs it: the sentence is worded from
the same numbers the reader sees, and a tie on the page is a tie in the text.

Claim forms (JSON)::

    {"op": "value", "cell": REF, "text": "0.0160"}         the cell shows this number
    {"op": "lt" | "gt" | "eq", "a": REF, "b": REF}         a < b, a > b, a == b as shown
    {"op": "argmin" | "argmax", "table": ID, "where": {HEADER: TEXT}, "over": HEADER,
     "column": HEADER, "at": TEXT}                         the extreme row has over == at
    {"op": "diff", "a": REF, "b": REF, "text": "12.5"}     |a - b|, rounded as the text shows
    {"op": "first", "table": ID, "over": HEADER, "column": HEADER, "above": X,
     "at": TEXT | null}                                    first row (in order) with column > X

with ``REF = {"table": ID, "row": {HEADER: TEXT, ...}, "column": HEADER}``.
"""

from __future__ import annotations

from acmlkit.report.html import Table, parse_number


def ref(table: Table, column: str, **match) -> dict:
    """A reference to one cell: the row whose cells show ``match``, column ``column``."""
    table.find(**match)  # fails here, while writing, if the row is not unique
    return {"table": table.id, "row": table.match_text(match),
            "column": table.column(column).header}


def quote(table: Table, column: str, **match) -> tuple[str, dict]:
    """The number as the table shows it, and the claim that it is shown there."""
    text = table.text(table.find(**match), column)
    return text, {"op": "value", "cell": ref(table, column, **match), "text": text}


def order(table: Table, column: str, a: dict, b: dict) -> tuple[str, dict]:
    """``"lt"``, ``"gt"`` or ``"eq"`` between two cells as shown, and its claim."""
    va, vb = table.value(column, **a), table.value(column, **b)
    op = "lt" if va < vb else "gt" if va > vb else "eq"
    return op, {"op": op, "a": ref(table, column, **a), "b": ref(table, column, **b)}


def order_columns(table: Table, a: str, b: str, **match) -> tuple[str, dict]:
    """``"lt"``, ``"gt"`` or ``"eq"`` between two columns of one row as shown, and its claim."""
    va, vb = table.value(a, **match), table.value(b, **match)
    op = "lt" if va < vb else "gt" if va > vb else "eq"
    return op, {"op": op, "a": ref(table, a, **match), "b": ref(table, b, **match)}


def extreme(table: Table, column: str, over: str, kind: str = "min", **where):
    """The ``over`` value of the row with the smallest (``kind="min"``) or largest ``column``.

    Returns the row and the claim. A tie on the page picks the first row (in the
    table's order), and the checker accepts any tied row.
    """
    rows = table.select(**where)
    if not rows:
        raise KeyError(f"table {table.id}: no rows match {where}")
    shown = [parse_number(table.text(r, column)) for r in rows]
    pick = shown.index(min(shown) if kind == "min" else max(shown))
    row = rows[pick]
    claim = {
        "op": "argmin" if kind == "min" else "argmax",
        "table": table.id,
        "where": table.match_text(where),
        "over": table.column(over).header,
        "column": table.column(column).header,
        "at": table.text(row, over),
    }
    return row, claim


def difference(table: Table, column: str, a: dict, b: dict, decimals: int = 1):
    """``|a - b|`` of two shown cells at ``decimals`` places, which one is larger, and claims.

    Returns ``(text, op, claims)``: ``op`` is ``"gt"``, ``"lt"`` or ``"eq"`` for a
    against b (by the rounded difference, so "0.0 points" is a tie), and
    ``claims`` backs both the size and the direction.
    """
    value = table.value(column, **a) - table.value(column, **b)
    text = f"{abs(value):.{decimals}f}"
    op = "eq" if float(text) == 0 else "gt" if value > 0 else "lt"
    claims = [{"op": "diff", "a": ref(table, column, **a), "b": ref(table, column, **b),
               "text": text}]
    if op != "eq":
        claims.append({"op": op, "a": ref(table, column, **a), "b": ref(table, column, **b)})
    return text, op, claims


def first_above(table: Table, column: str, over: str, above: float = 0.0):
    """The first row (in table order) whose ``column`` shows more than ``above`` (or None)."""
    row = next((r for r in table.rows if parse_number(table.text(r, column)) > above), None)
    claim = {
        "op": "first",
        "table": table.id,
        "over": table.column(over).header,
        "column": table.column(column).header,
        "above": above,
        "at": None if row is None else table.text(row, over),
    }
    return row, claim
