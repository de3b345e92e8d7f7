"""Partially observed matrices: dense CSV, rating triples, MovieLens and synthetic data.

Every loader returns :class:`Ratings`, the observed entries as coordinate
arrays (COO). Nothing here builds a dense ``m x n`` array unless the input was
one, so MovieLens-scale data costs memory in proportion to the ratings only.
"""

from __future__ import annotations

import csv
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from acmlkit.download import DATASETS, cache_dir, fetch
from acmlkit.errors import DataError
from acmlkit.rng import check_random_state
from acmlkit.validation import check_choice, check_int, check_real

# The official archives (URL and GroupLens's MD5, from acmlkit.download.DATASETS, the one
# table of them) and the member holding the ratings.
MOVIELENS = {
    variant: {"url": DATASETS[f"movielens-{variant}"].url,
              "md5": DATASETS[f"movielens-{variant}"].checksum, "member": member}
    for variant, member in (("100k", "ml-100k/u.data"), ("1m", "ml-1m/ratings.dat"))
}


@dataclass(frozen=True, eq=False)
class Ratings:
    """Observed entries of an ``m x n`` matrix, in coordinate form.

    Attributes
    ----------
    rows, cols : ndarray of shape (nnz,), int64
        Dense row and column indices of each observed entry.
    values : ndarray of shape (nnz,), float64
        The observed values.
    shape : tuple (m, n)
        Size of the full matrix; rows or columns may have no entries.
    row_ids, col_ids : ndarray of shape (m,) and (n,)
        Original identifiers (user and item ids from a file), sorted; kept for
        output and for looking entries up by id.
    layout : {"dense", "triples"}
        How the data came: a dense matrix (the notebook's layout, where most cells
        are observed) or rating triples; the defaults of a fit follow it.
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]
    row_ids: np.ndarray
    col_ids: np.ndarray
    layout: str = "dense"

    @property
    def nnz(self) -> int:
        return int(self.values.shape[0])

    def subset(self, index: np.ndarray) -> Ratings:
        """The entries at ``index`` (positions into this object's arrays), same shape and ids."""
        return Ratings(
            self.rows[index], self.cols[index], self.values[index], self.shape,
            self.row_ids, self.col_ids, self.layout,
        )

    def to_csr(self) -> sp.csr_matrix:
        """Observed entries as CSR; an explicit entry stays stored even when its value is 0."""
        return sp.csr_matrix((self.values, (self.rows, self.cols)), shape=self.shape)

    def to_dense(self, fill: float = np.nan) -> np.ndarray:
        """The ``(m, n)`` matrix with ``fill`` where nothing was observed (small data only)."""
        out = np.full(self.shape, fill, dtype=np.float64)
        out[self.rows, self.cols] = self.values
        return out


def make_ratings(rows, cols, values, shape=None, *, row_ids=None, col_ids=None,
                 layout: str = "dense") -> Ratings:
    """Validate coordinate arrays and wrap them as :class:`Ratings`."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if not (rows.shape == cols.shape == values.shape) or rows.ndim != 1:
        raise DataError(
            f"rows, cols and values must be 1-D of one length, got shapes {rows.shape}, "
            f"{cols.shape} and {values.shape}"
        )
    if values.size == 0:
        raise DataError("no observed entries: the matrix is empty")
    if not np.isfinite(values).all():
        raise DataError(f"values contain NaN or infinity (first at entry "
                        f"{int(np.flatnonzero(~np.isfinite(values))[0])})")
    if shape is None:
        shape = (int(rows.max()) + 1, int(cols.max()) + 1)
    m, n = shape
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= m or cols.max() >= n:
        raise DataError(f"indices fall outside the matrix shape {shape}")
    row_ids = np.arange(m) if row_ids is None else np.asarray(row_ids)
    col_ids = np.arange(n) if col_ids is None else np.asarray(col_ids)
    return Ratings(rows, cols, values, (int(m), int(n)), row_ids, col_ids, layout)


def _check_duplicates(rows, cols, values, n_cols, duplicates, source):
    """Reject repeated (row, column) pairs, or average them when asked to."""
    check_choice(duplicates, "duplicates", {"reject", "average"})
    key = rows * n_cols + cols
    unique, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    if unique.size == key.size:
        return rows, cols, values
    if duplicates == "reject":
        first = int(np.flatnonzero(counts > 1)[0])
        raise DataError(
            f"{source}: {int((counts > 1).sum())} (user, item) pairs occur more than once "
            f"(first: user index {int(unique[first] // n_cols)}, item index "
            f"{int(unique[first] % n_cols)}); duplicates are rejected, not averaged. Pass "
            "duplicates='average' (--duplicates average) to average them"
        )
    sums = np.bincount(inverse, weights=values)
    return unique // n_cols, unique % n_cols, sums / counts


def ratings_from_triples(
    users, items, values, *, duplicates: str = "reject", source: str = "ratings"
) -> Ratings:
    """Remap arbitrary user and item ids to dense indices (sorted ids, kept in ``row_ids``)."""
    row_ids, rows = np.unique(np.asarray(users), return_inverse=True)
    col_ids, cols = np.unique(np.asarray(items), return_inverse=True)
    rows, cols, values = _check_duplicates(
        rows.astype(np.int64), cols.astype(np.int64), np.asarray(values, dtype=np.float64),
        col_ids.size, duplicates, source,
    )
    return make_ratings(rows, cols, values, (row_ids.size, col_ids.size),
                        row_ids=row_ids, col_ids=col_ids, layout="triples")


# ----------------------------------------------------------------- dense CSV
def ratings_from_dense(X, *, zero_is_missing: bool = False, name: str = "X") -> Ratings:
    """Observed entries of a dense ``(m, n)`` array whose NaN cells are missing.

    ``zero_is_missing`` also drops exact zeros: the notebook's reading, where
    ``np.nonzero`` decided which entries were observed.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise DataError(f"{name} must be 2-dimensional, got shape {X.shape}")
    if X.size == 0:
        raise DataError(f"{name} is empty, got shape {X.shape}")
    if np.isinf(X).any():
        raise DataError(f"{name} contains infinity at {tuple(np.argwhere(np.isinf(X))[0])}")
    observed = ~np.isnan(X)
    if zero_is_missing:
        observed &= X != 0
    for axis, label in ((1, "row"), (0, "column")):
        empty = np.flatnonzero(~observed.any(axis=axis))
        if empty.size:
            raise DataError(
                f"{name}: {empty.size} {label}(s) have no observed entries (first: {label} "
                f"{int(empty[0])}); remove them, nothing can be learnt about them"
            )
    rows, cols = np.nonzero(observed)
    return make_ratings(rows, cols, X[rows, cols], X.shape)


def read_dense_csv(path: str | Path, *, zero_is_missing: bool = False) -> Ratings:
    """Read a header-less numeric CSV (like the notebook's ``problem2data.csv``).

    Empty cells and ``nan`` are missing; every row must have the same number of
    cells.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no matrix file at {path}")
    table: list[list[float]] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for i, cells in enumerate(csv.reader(fh), start=1):
            if not cells:
                continue
            if table and len(cells) != len(table[0]):
                raise DataError(
                    f"{path}: ragged rows: line {i} has {len(cells)} cells, expected "
                    f"{len(table[0])} like line 1"
                )
            table.append([_cell(c, path, i, j) for j, c in enumerate(cells, start=1)])
    if not table:
        raise DataError(f"{path} is empty: expected rows of comma-separated numbers")
    return ratings_from_dense(np.array(table), zero_is_missing=zero_is_missing, name=str(path))


def _cell(text: str, path: Path, line: int, column: int) -> float:
    text = text.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise DataError(
            f"{path}: non-numeric cell {text!r} at line {line}, column {column}"
        ) from None


# ------------------------------------------------------------ rating triples
# Largest rating size accepted: squares and sums of squares of larger values overflow
# float64 (about 1.8e308) in the normal equations.
MAX_RATING = 1e100
# Header names accepted for the three columns (lower case, before an optional timestamp).
_HEADER_NAMES = (
    {"userid", "user_id", "user", "uid"},
    {"movieid", "movie_id", "itemid", "item_id", "item", "movie", "iid"},
    {"rating", "ratings", "score", "value"},
)


def read_ratings(path: str | Path, *, duplicates: str = "reject") -> Ratings:
    """Read rating triples from MovieLens ``u.data``, ``ratings.dat`` or a CSV with a header.

    Accepted layouts: tab- or whitespace-separated ``user item rating [timestamp]``
    (``u.data``), ``::``-separated (``ratings.dat``), and comma-separated with or
    without a header ``userId,movieId,rating[,timestamp]`` (half-star ratings
    allowed). A UTF-8 byte-order mark is ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ratings file at {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # MovieLens 1M's ratings.dat neighbours are Latin-1; ids and ratings are ASCII.
        text = raw.decode("latin-1")
    return parse_ratings(text, source=str(path), duplicates=duplicates)


def _splitter(first_line: str):
    if "::" in first_line:
        return lambda line: [c.strip() for c in line.split("::")]
    if "," in first_line:
        return lambda line: [c.strip() for c in line.split(",")]
    return str.split


def parse_ratings(text: str, *, source: str = "ratings", duplicates: str = "reject") -> Ratings:
    """Rating triples from the text of a file; see :func:`read_ratings` for the layouts.

    Row 1 is a header only when none of its first three cells is a number; a
    row 1 with numbers and one bad cell is reported, never dropped. User and
    item ids stay exact: integers (int64, or Python ints beyond it) when every
    id of the column is one, strings when none is, never floats.
    """
    text = text.removeprefix("\ufeff")
    numbered = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not numbered:
        raise DataError(f"{source} is empty: expected lines of user, item, rating")
    split = _splitter(numbered[0][1])
    cells = [split(line) for _, line in numbered]
    line_numbers = [i for i, _ in numbered]
    if not any(_is_number(c) for c in cells[0][:3]):
        names = [c.lower() for c in cells[0]]
        if len(names) < 3 or any(n not in ok for n, ok in zip(names, _HEADER_NAMES)):
            raise DataError(
                f"{source}: header {numbered[0][1].strip()!r} not understood; expected "
                "userId,movieId,rating[,timestamp]"
            )
        cells, line_numbers = cells[1:], line_numbers[1:]
        if not cells:
            raise DataError(f"{source} has a header but no ratings")
    width = len(cells[0])
    if width not in (3, 4):
        raise DataError(
            f"{source}: expected 3 or 4 columns (user, item, rating[, timestamp]), got "
            f"{width} on line {line_numbers[0]}"
        )
    for row, line in zip(cells, line_numbers):
        if len(row) != width:
            raise DataError(f"{source}: line {line} has {len(row)} cells, expected {width} "
                            f"like line {line_numbers[0]}")
    table = np.array(cells, dtype=str)
    try:
        values = table[:, 2].astype(np.float64)
    except ValueError:
        bad = next(k for k, c in enumerate(table[:, 2]) if not _is_number(c))
        raise DataError(f"{source}: could not convert rating {str(table[bad, 2])!r} on line "
                        f"{line_numbers[bad]} to a number") from None
    bad = np.flatnonzero(~np.isfinite(values) | (np.abs(values) > MAX_RATING))
    if bad.size:
        k = int(bad[0])
        raise DataError(
            f"{source}: rating {str(table[k, 2])!r} on line {line_numbers[k]} is not a finite "
            f"number of size at most {MAX_RATING:g} ({bad.size} such ratings)"
        )
    users = _ids(table[:, 0], "user", source, line_numbers)
    items = _ids(table[:, 1], "item", source, line_numbers)
    return ratings_from_triples(users, items, values, duplicates=duplicates, source=source)


def _ids(tokens: np.ndarray, label: str, source: str, line_numbers: list[int]) -> np.ndarray:
    """Exact ids: int64 where they fit, Python ints beyond, strings when none is a number."""
    try:
        return tokens.astype(np.int64)
    except OverflowError:
        return np.array([int(t) for t in tokens], dtype=object)
    except ValueError:
        pass
    numeric = np.array([_is_number(t) for t in tokens])
    if not numeric.any():
        return tokens
    # Some ids are numbers and the first that is not an integer is the culprit.
    bad = next(k for k, token in enumerate(tokens) if not _is_int(token))
    what = "not an integer" if numeric[bad] else "not a number like the other ids"
    raise DataError(f"{source}: {label} id {str(tokens[bad])} on line {line_numbers[bad]} is "
                    f"{what}")


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def sniff_format(path: str | Path) -> str:
    """``"ratings"`` for tab- or ``::``-separated lines or a CSV whose first row holds no
    number (a header), else ``"dense"``."""
    with Path(path).open(encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    if "\t" in first or "::" in first:
        return "ratings"
    cells = [c.strip() for c in first.split(",")]
    if any(cells) and not any(_is_number(c) for c in cells if c):
        return "ratings"
    return "dense"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_movielens(variant: str = "100k", *, folder: str | Path | None = None) -> Ratings:
    """MovieLens 100K or 1M, downloaded once into the cache folder and checksummed.

    The archive is read in place; nothing is extracted. Offline, the error says
    where to put a copy of the archive, or to pass the ratings file itself.
    """
    check_choice(variant, "variant", set(MOVIELENS))
    spec = MOVIELENS[variant]
    folder = Path(folder) if folder is not None else cache_dir()
    member = spec["member"]
    archive = fetch(
        spec["url"], spec["md5"], algorithm="md5", folder=folder,
        local_hint=f"Or read a local copy of {Path(member).name} directly: `acml mf fit PATH`.",
    )
    with zipfile.ZipFile(archive) as zf:
        text = zf.read(member).decode("latin-1")
    return parse_ratings(text, source=f"{archive.name}:{member}")


# ----------------------------------------------------------------- synthetic
def synthetic(
    m: int = 375,
    n: int = 500,
    *,
    rank: int = 8,
    noise: float = 0.1,
    missing: float = 0.0,
    seed=0,
) -> Ratings:
    """A random rank-``rank`` matrix plus Gaussian noise, like the notebook's data.

    Entries of the noiseless part have unit variance, so ``noise`` is the
    noise-to-signal ratio of standard deviations and a perfect model reaches a
    test MSE of ``noise**2``. ``missing`` is the share of entries left unobserved;
    every row and column keeps at least one entry.
    """
    m = check_int(m, "m", low=1)
    n = check_int(n, "n", low=1)
    rank = check_int(rank, "rank", low=1, high=min(m, n))
    noise = check_real(noise, "noise", low=0)
    missing = check_real(missing, "missing", low=0, high=1, high_open=True)
    rng = check_random_state(seed)
    U = rng.standard_normal((m, rank)) / rank**0.25
    V = rng.standard_normal((n, rank)) / rank**0.25
    X = U @ V.T + noise * rng.standard_normal((m, n))
    observed = rng.random((m, n)) >= missing
    # One guaranteed entry per row and per column keeps the matrix learnable.
    observed[np.arange(m), rng.integers(0, n, m)] = True
    observed[rng.integers(0, m, n), np.arange(n)] = True
    rows, cols = np.nonzero(observed)
    return make_ratings(rows, cols, X[rows, cols], (m, n))
