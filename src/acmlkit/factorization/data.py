"""Partially observed matrices: dense CSV, rating triples, MovieLens and synthetic data.

Every loader returns :class:`Ratings`, the observed entries as coordinate
arrays (COO). Nothing here builds a dense ``m x n`` array unless the input was
one, so MovieLens-scale data costs memory in proportion to the ratings only.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from acmlkit.download import cache_dir, fetch
from acmlkit.errors import DataError
from acmlkit.rng import check_random_state
from acmlkit.validation import check_choice, check_int, check_real

# Official archives and the MD5 sums GroupLens publishes beside them.
MOVIELENS = {
    "100k": {
        "url": "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        "md5": "0e33842e24a9c977be4e0107933c0723",
        "member": "ml-100k/u.data",
    },
    "1m": {
        "url": "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        "md5": "c4d9eecfca2ab87c1945afe126590906",
        "member": "ml-1m/ratings.dat",
    },
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
        Original identifiers (user and item ids from a file), kept for output.
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]
    row_ids: np.ndarray
    col_ids: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.values.shape[0])

    def subset(self, index: np.ndarray) -> Ratings:
        """The entries at ``index`` (positions into this object's arrays), same shape and ids."""
        return Ratings(
            self.rows[index], self.cols[index], self.values[index], self.shape,
            self.row_ids, self.col_ids,
        )

    def to_csr(self) -> sp.csr_matrix:
        """Observed entries as CSR; an explicit entry stays stored even when its value is 0."""
        return sp.csr_matrix((self.values, (self.rows, self.cols)), shape=self.shape)

    def to_dense(self, fill: float = np.nan) -> np.ndarray:
        """The ``(m, n)`` matrix with ``fill`` where nothing was observed (small data only)."""
        out = np.full(self.shape, fill, dtype=np.float64)
        out[self.rows, self.cols] = self.values
        return out


def make_ratings(rows, cols, values, shape=None, *, row_ids=None, col_ids=None) -> Ratings:
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
    return Ratings(rows, cols, values, (int(m), int(n)), row_ids, col_ids)


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
                        row_ids=row_ids, col_ids=col_ids)


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
    with path.open(newline="") as fh:
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
def read_ratings(path: str | Path, *, duplicates: str = "reject") -> Ratings:
    """Read rating triples from MovieLens ``u.data``, ``ratings.dat`` or a CSV with a header.

    Accepted layouts: tab- or whitespace-separated ``user item rating [timestamp]``
    (``u.data``), ``::``-separated (``ratings.dat``), and comma-separated with a
    header ``userId,movieId,rating[,timestamp]`` (half-star ratings allowed).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ratings file at {path}")
    return parse_ratings(path.read_text(), source=str(path), duplicates=duplicates)


def parse_ratings(text: str, *, source: str = "ratings", duplicates: str = "reject") -> Ratings:
    """Rating triples from the text of a file; see :func:`read_ratings` for the layouts."""
    lines = text.lstrip().splitlines()
    if not lines:
        raise DataError(f"{source} is empty: expected lines of user, item, rating")
    if "::" in lines[0]:
        text, delimiter = text.replace("::", "\t"), None
        lines = text.lstrip().splitlines()
    elif "," in lines[0]:
        delimiter = ","
    else:
        delimiter = None
    header = [h.strip().lower() for h in lines[0].split(delimiter)]
    skip = 0
    if not _is_number(header[0]):
        if delimiter != "," or header[:3] != ["userid", "movieid", "rating"]:
            raise DataError(
                f"{source}: header {lines[0]!r} not understood; expected "
                "userId,movieId,rating[,timestamp]"
            )
        if len(lines) == 1:
            raise DataError(f"{source} has a header but no ratings")
        skip = 1
    try:
        table = np.loadtxt(io.StringIO(text), delimiter=delimiter, skiprows=skip, ndmin=2,
                           dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{source}: {exc}") from None
    if table.shape[1] not in (3, 4):
        raise DataError(
            f"{source}: expected 3 or 4 columns (user, item, rating[, timestamp]), got "
            f"{table.shape[1]}"
        )
    users, items, values = table[:, 0], table[:, 1], table[:, 2]
    for ids, label in ((users, "user"), (items, "item")):
        if not np.array_equal(ids, np.round(ids)):
            bad = int(np.flatnonzero(ids != np.round(ids))[0])
            raise DataError(f"{source}: {label} id {ids[bad]} on data line {bad + 1} is not an "
                            "integer")
    return ratings_from_triples(users.astype(np.int64), items.astype(np.int64), values,
                                duplicates=duplicates, source=source)


def sniff_format(path: str | Path) -> str:
    """``"ratings"`` for tab- or ``::``-separated lines or a CSV whose first cell is
    not a number (a header), else ``"dense"``."""
    with Path(path).open() as fh:
        first = fh.readline()
    if "\t" in first or "::" in first:
        return "ratings"
    cell = first.split(",")[0].strip()
    return "dense" if not cell or _is_number(cell) else "ratings"


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
