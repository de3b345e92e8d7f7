"""Points from CSV files (in memory or by chunks), ``-k`` ranges, and memory checks.

Every error names the file, the row (the line number in the file, header
included), the column and what was expected.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acmlkit.errors import DataError
from acmlkit.validation import check_memory

# Cells read as a missing value when missing values are allowed.
MISSING_CELLS = frozenset({"", "nan", "na", "n/a", "null", "?"})


def _parse_cell(cell: str, allow_missing: bool) -> float | None:
    """The cell's value; ``None`` when it is not a number (NaN when missing is allowed)."""
    text = cell.strip()
    if text.lower() in MISSING_CELLS:
        return math.nan if allow_missing else None
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value) and not allow_missing:
        return None
    return value


def _cell_error(path, line, column, header, cell, allow_missing) -> DataError:
    name = f" ({header[column]!r})" if header else ""
    text = cell.strip()
    if text.lower() in MISSING_CELLS:
        what = "an empty cell" if not text else f"a missing value {cell!r}"
        hint = "; pass --missing em to fit with missing values" if not allow_missing else ""
        return DataError(
            f"{path}: row {line}, column {column + 1}{name}: expected a number, got {what}{hint}"
        )
    return DataError(
        f"{path}: row {line}, column {column + 1}{name}: expected a number, got {cell!r}"
    )


def _numbered_rows(path: Path):
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for cells in reader:
                # Blank lines are skipped; a line of separators only is a row of empty cells.
                if len(cells) > 1 or (cells and cells[0].strip()):
                    yield reader.line_num, cells
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None


@dataclass
class PointsTable:
    """A numeric CSV file: values (n, D) float64 and the header's names (or None)."""

    path: Path
    values: np.ndarray
    header: list[str] | None

    def split_weight(self, column: str | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(points without the weight column, that column) for ``--sample-weight COLUMN``.

        ``column`` is a header name or a 1-based column number.
        """
        if column is None:
            return self.values, None
        index = self.column_index(column)
        weight = self.values[:, index]
        if np.isnan(weight).any() or (weight < 0).any():
            row = int(np.argmax(np.isnan(weight) | (weight < 0)))
            raise DataError(
                f"{self.path}: sample weight column {column!r}, data row {row + 1}: expected a "
                f"non-negative number, got {weight[row]}"
            )
        if weight.sum() <= 0:
            raise DataError(f"{self.path}: sample weight column {column!r} sums to zero")
        return np.delete(self.values, index, axis=1), weight

    def column_index(self, column: str) -> int:
        width = self.values.shape[1]
        if self.header and column in self.header:
            return self.header.index(column)
        if column.isdigit() and 1 <= int(column) <= width:
            return int(column) - 1
        names = f"one of {self.header} or " if self.header else ""
        raise DataError(
            f"{self.path}: no column {column!r}; expected {names}a column number 1..{width}"
        )


def _header_and_width(path: Path, first: list[str], allow_missing: bool) -> list[str] | None:
    """The header if the first row is one: no cell of it reads as a number.

    A row with some numeric cells is data, so one bad cell there is reported,
    not silently taken for a header.
    """
    parsed = [_parse_cell(cell, allow_missing=False) for cell in first]
    if all(value is None for value in parsed) and not all(
        cell.strip().lower() in MISSING_CELLS for cell in first
    ):
        return [cell.strip() for cell in first]
    return None


def read_points_csv(path: str | Path, *, allow_missing: bool = False) -> PointsTable:
    """Read a numeric CSV (one point per row, optional header) into (n, D) float64.

    Missing cells (empty, ``nan``, ``NA``) become NaN when ``allow_missing``,
    else they are errors; infinity is always an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}")
    rows = _numbered_rows(path)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: the file is empty; expected one point per row")
    header = _header_and_width(path, first[1], allow_missing)
    width = len(first[1])
    values: list[list[float]] = []
    data_rows = rows if header is not None else _chain(first, rows)
    for line, cells in data_rows:
        values.append(_parse_row(path, line, cells, width, header, allow_missing))
    if not values:
        raise DataError(f"{path}: a header but no data rows")
    points = np.array(values, dtype=np.float64)
    empty = np.flatnonzero(np.isnan(points).all(axis=0))
    if empty.size:
        j = int(empty[0])
        name = f" ({header[j]!r})" if header else ""
        raise DataError(
            f"{path}: column {j + 1}{name} has no observed value; EM cannot estimate it, so "
            "drop the column"
        )
    return PointsTable(path, points, header)


def _chain(first, rows):
    yield first
    yield from rows


# Covariances sum squares of the values over all points: beyond this they overflow float64
# (about 1.8e308) long before any real measurement gets there.
MAX_ABS_VALUE = 1e100


def _parse_row(path, line, cells, width, header, allow_missing) -> list[float]:
    if len(cells) != width:
        raise DataError(
            f"{path}: row {line}: expected {width} columns (as in the first row), got {len(cells)}"
        )
    row = []
    for j, cell in enumerate(cells):
        value = _parse_cell(cell, allow_missing)
        if value is None or math.isinf(value):
            if value is not None:
                raise DataError(
                    f"{path}: row {line}, column {j + 1}: expected a finite number, got {cell!r}"
                )
            raise _cell_error(path, line, j, header, cell, allow_missing)
        if abs(value) > MAX_ABS_VALUE:
            raise DataError(
                f"{path}: row {line}, column {j + 1}: {cell!r} is too large (|x| > "
                f"{MAX_ABS_VALUE:.0e}): EM's sums of squares would overflow float64; rescale "
                "the data"
            )
        row.append(value)
    if allow_missing and all(math.isnan(value) for value in row):
        raise DataError(
            f"{path}: row {line}: every cell is missing; EM needs at least one observed value "
            "per row, so drop the row"
        )
    return row


def load_points_csv(path: str | Path, *, allow_missing: bool = False) -> np.ndarray:
    """Only the values of :func:`read_points_csv`, shape (n, D)."""
    return read_points_csv(path, allow_missing=allow_missing).values


class CsvChunks:
    """A CSV file read in chunks of rows on every iteration: for files larger than memory.

    Iterating yields arrays (<= chunk_rows, D); ``shape`` is (rows, columns),
    counted by one pass when first asked.
    """

    def __init__(self, path: Path, chunk_rows: int, allow_missing: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no data file at {self.path}")
        self.chunk_rows = int(chunk_rows)
        self.allow_missing = allow_missing
        self._shape = None

    def __iter__(self):
        rows = _numbered_rows(self.path)
        first = next(rows, None)
        if first is None:
            raise DataError(f"{self.path}: the file is empty; expected one point per row")
        header = _header_and_width(self.path, first[1], self.allow_missing)
        width = len(first[1])
        block: list[list[float]] = []
        for line, cells in rows if header is not None else _chain(first, rows):
            block.append(_parse_row(self.path, line, cells, width, header, self.allow_missing))
            if len(block) == self.chunk_rows:
                yield np.array(block, dtype=np.float64)
                block = []
        if block:
            yield np.array(block, dtype=np.float64)

    @property
    def shape(self) -> tuple[int, int]:
        if self._shape is None:
            n, width = 0, None
            for chunk in self:
                n += chunk.shape[0]
                width = chunk.shape[1]
            if width is None:
                raise DataError(f"{self.path}: a header but no data rows")
            self._shape = (n, width)
        return self._shape


def csv_chunks(path, chunk_rows: int, *, allow_missing: bool = False) -> CsvChunks:
    return CsvChunks(Path(path), chunk_rows, allow_missing)


# ---------------------------------------------------------------- -k ranges
def parse_k_values(
    text: str, *, data_shape: tuple[int, int] | None = None, covariance_type: str = "full"
) -> tuple[int, ...]:
    """``"3"`` -> (3,); ``"1..8"`` -> (1, ..., 8); ``"2,4,6"`` -> (2, 4, 6).

    ``data_shape`` (n, D) checks the largest K against memory and against n
    before any list is built, so ``1..1000000000`` is refused at once.
    """
    try:
        if ".." in text:
            low, high = (int(part) for part in text.split(".."))
            if high < low:
                raise ValueError
            bounds = (low, high)
        else:
            parts = tuple(int(part) for part in text.split(","))
            bounds = (min(parts), max(parts))
    except ValueError:
        raise ValueError(
            f"-k must be a number, a range LOW..HIGH like 1..8 or a list like 2,4,6; got {text!r}"
        ) from None
    if bounds[0] < 1:
        raise ValueError(f"-k must name numbers of components >= 1, got {text!r}")
    if data_shape is not None:
        n, D = data_shape
        check_fit_size(n, D, bounds[1], covariance_type)
        if bounds[1] > n:
            raise DataError(
                f"Expected n_samples >= n_components, but got n_samples={n} < {bounds[1]} "
                f"(-k {text})"
            )
    if ".." in text:
        return tuple(range(bounds[0], bounds[1] + 1))
    return parts


# ------------------------------------------------------------ memory checks
def fit_bytes(n: int, D: int, K: int, covariance_type: str, chunk_rows: int | None = None) -> int:
    """Peak bytes of one EM fit: features, responsibilities and parameters (float64).

    ``chunk_rows`` bounds the rows held at once (streaming); ``None`` holds all.
    """
    rows = n if chunk_rows is None else min(n, chunk_rows)
    width = {"full": D * (D + 3) // 2 if D <= 4 * K else K * D, "tied": D, "diag": 2 * D}.get(
        covariance_type, D + 1
    )
    params = K * D * D if covariance_type == "full" else K * D
    # data + its centred copy, features, the initial (n, K) responsibilities, the
    # K x n log densities, and the parameters with their statistics (x4).
    return 8 * (rows * (2 * D + width + 2 * K) + 4 * params)


def check_fit_size(n: int, D: int, K: int, covariance_type: str, chunk_rows=None) -> None:
    """Refuse a fit that cannot fit in memory, before any work, with the estimate."""
    check_memory(
        fit_bytes(n, D, K, covariance_type, chunk_rows),
        f"a fit with K={K} components on {n} x {D} points",
        "lower -k, or use --stream for large files",
    )
