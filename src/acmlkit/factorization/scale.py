"""Ratings shaped like MovieLens-25M, generated in seconds, and exports for Spark.

:func:`movielens_like` draws a ratings matrix with the published shape of
MovieLens-25M (162,541 users, 59,047 items, 25,000,095 ratings), long-tailed
counts on both sides, and half-star values from a low-rank model plus noise,
so that ALS and :class:`~acmlkit.factorization.bayes.BayesianMF` can be
measured at that size without the (licence-restricted) file. Nothing is
proportional to users x items: the entries are drawn user by user.

How the entries are drawn, exactly and without duplicates: every user gets a
count (20 plus a log-normal, like the real file's minimum of 20 and its median
of about 70), every item a Zipf-like popularity. A user with ``c`` ratings takes
``c`` evenly spaced points, with a random offset, on the cumulative popularity
of a random order of the items (systematic sampling). When no item's
popularity exceeds ``1 / c``, two points can never fall on one item, so the
user's items are distinct by construction; users are grouped by count and each
group's popularities are capped at ``1 / (largest count)`` and renormalised
(water-filling). Items the draw left unrated take over one rating of a very
popular item, so every item has at least one rating and every count stays exact.

:func:`export_split` writes a train/test split in the layout Spark MLlib's
``ALS`` reads (CSV always; Parquet when pyarrow is installed).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acmlkit.factorization.data import Ratings, make_ratings
from acmlkit.rng import check_random_state
from acmlkit.validation import check_choice, check_int, check_real

# Published size of MovieLens-25M (GroupLens, ml-25m/README.txt).
ML25M = {"n_users": 162_541, "n_items": 59_047, "n_ratings": 25_000_095}

# Entries valued per chunk: bounds the (chunk, rank) gathers to a few tens of MB.
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ScaleSpec:
    """Shape and distributions of a generated ratings matrix.

    Attributes
    ----------
    n_users, n_items, n_ratings : int
        Exact size of the result; every user and every item gets at least one rating.
    min_per_user : int
        Smallest number of ratings of a user (20 in MovieLens).
    user_sigma : float
        Standard deviation of the log-normal part of the user counts (1.39 puts
        the median near 70 and the mean near 154 for MovieLens-25M's size).
    item_exponent, item_offset : float
        Item ``r`` in popularity order has weight ``(r + item_offset * n_items) **
        -item_exponent``; the offset scales with the catalogue, so that smaller
        specs keep the shape of the tail (2 and 0.005: about 14 ratings for the
        median item and 55,000 for the top one at MovieLens-25M's size).
    rank : int
        Rank of the signal.
    mean, user_bias_std, item_bias_std, factor_std, noise_std : float
        ``x = mean + b_u + c_i + p_u . q_i + noise`` before rounding to half stars
        and clipping to ``[0.5, 5]``; ``factor_std`` is the standard deviation of
        ``p_u . q_i``.
    """

    n_users: int = ML25M["n_users"]
    n_items: int = ML25M["n_items"]
    n_ratings: int = ML25M["n_ratings"]
    min_per_user: int = 20
    user_sigma: float = 1.39
    item_exponent: float = 2.0
    item_offset: float = 0.005
    rank: int = 8
    mean: float = 3.5
    user_bias_std: float = 0.4
    item_bias_std: float = 0.5
    factor_std: float = 0.5
    noise_std: float = 0.75

    def check(self) -> ScaleSpec:
        m = check_int(self.n_users, "n_users", low=1)
        n = check_int(self.n_items, "n_items", low=2)
        nnz = check_int(self.n_ratings, "n_ratings", low=1)
        low = check_int(self.min_per_user, "min_per_user", low=1)
        cap = _user_cap(n)
        if not max(m, n, low * m) <= nnz <= m * cap:
            raise ValueError(
                f"n_ratings must lie in [max(n_users, n_items, min_per_user * n_users), "
                f"n_users * {cap}] = [{max(m, n, low * m)}, {m * cap}] for {m} users and "
                f"{n} items, got {nnz}"
            )
        for name in ("user_sigma", "item_exponent", "item_offset", "user_bias_std",
                     "item_bias_std", "factor_std", "noise_std"):
            check_real(getattr(self, name), name, low=0)
        check_int(self.rank, "rank", low=1)
        check_real(self.mean, "mean")
        return self


def small_spec(n_users: int = 600, n_items: int = 300, n_ratings: int = 30_000,
               **kwargs) -> ScaleSpec:
    """A :class:`ScaleSpec` of a test-sized matrix with the same distributions."""
    kwargs.setdefault("min_per_user", max(1, min(20, n_ratings // (2 * n_users))))
    return ScaleSpec(n_users=n_users, n_items=n_items, n_ratings=n_ratings, **kwargs)


def _user_cap(n_items: int) -> int:
    """Largest count of one user: half the items, as in MovieLens (32,202 of 59,047)."""
    return max(1, n_items // 2)


def user_counts(spec: ScaleSpec, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user, shape (n_users,): ``min_per_user`` plus a scaled log-normal,
    capped, summing to ``n_ratings`` exactly."""
    m, total, low = spec.n_users, spec.n_ratings, spec.min_per_user
    cap = _user_cap(spec.n_items)
    extra = rng.lognormal(0.0, spec.user_sigma, m)
    budget = total - low * m
    counts = np.full(m, low, dtype=np.int64)
    free = np.ones(m, bool)
    # Scale the log-normal to the budget; users pushed past the cap are pinned
    # there and the rest rescaled (a few rounds at most).
    for _ in range(50):
        share = extra * (budget / extra[free].sum())
        over = free & (low + share >= cap)
        if not over.any():
            break
        counts[over] = cap
        budget -= int((cap - low) * over.sum())
        free &= ~over
    counts[free] += np.floor(share[free]).astype(np.int64)
    deficit = total - int(counts.sum())
    room = np.flatnonzero(counts < cap)
    counts[rng.choice(room, deficit, replace=False)] += 1
    return counts


def item_weights(spec: ScaleSpec, rng: np.random.Generator) -> np.ndarray:
    """Popularity of each item, shape (n_items,), summing to 1, in a random item order."""
    ranks = np.arange(1, spec.n_items + 1, dtype=np.float64)
    weights = (ranks + spec.item_offset * spec.n_items) ** -spec.item_exponent
    return rng.permutation(weights / weights.sum())


def capped(weights: np.ndarray, cap: float) -> np.ndarray:
    """``weights`` (summing to 1) with no entry above ``cap``: the excess is spread over
    the uncapped entries in proportion to their weights (water-filling)."""
    out = weights.copy()
    fixed = np.zeros(out.size, bool)
    while True:
        over = ~fixed & (out > cap)
        if not over.any():
            return out
        fixed |= over
        out[fixed] = cap
        rest = ~fixed
        out[rest] = weights[rest] * ((1.0 - cap * fixed.sum()) / weights[rest].sum())


def draw_items(counts: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each user's distinct items, concatenated in user order; shape (counts.sum(),), int32.

    Users are grouped by count (ratio 1.5 between group bounds); see the module
    docstring for why the systematic draw never repeats an item within a user.
    """
    n = weights.size
    starts = np.concatenate([[0], np.cumsum(counts)])
    items = np.empty(int(starts[-1]), dtype=np.int32)
    bounds = [int(counts.min())]
    while bounds[-1] < counts.max():
        bounds.append(max(bounds[-1] + 1, int(np.ceil(bounds[-1] * 1.5))))
    group = np.searchsorted(bounds, counts, side="left")
    for g in np.unique(group):
        users = np.flatnonzero(group == g)
        c = counts[users]
        # A hair under 1 / c_max: rounding in the cumulative sum must not put two
        # consecutive points into one item.
        w = capped(weights, (1.0 - 1e-6) / c.max())
        order = rng.permutation(n)
        cdf = np.cumsum(w[order])
        cdf /= cdf[-1]
        offset = rng.random(users.size)
        first = np.concatenate([[0], np.cumsum(c)])
        within = np.arange(first[-1]) - np.repeat(first[:-1], c)
        points = (np.repeat(offset, c) + within) / np.repeat(c, c)
        picked = order[np.minimum(np.searchsorted(cdf, points, side="right"), n - 1)]
        destination = np.repeat(starts[users], c) + within
        items[destination] = picked
    return items


def _cover_every_item(items: np.ndarray, n_items: int, rng: np.random.Generator) -> None:
    """Give every unrated item one rating, in place, taken from the most rated items.

    A user never holds an unrated item, so the swap cannot create a duplicate;
    each donor item keeps far more than one rating.
    """
    item_counts = np.bincount(items, minlength=n_items)
    empty = np.flatnonzero(item_counts == 0)
    if empty.size == 0:
        return
    popular = item_counts >= max(2, np.sort(item_counts)[-max(1, n_items // 100)])
    donors = np.flatnonzero(popular[items])
    if donors.size < 2 * empty.size:
        raise ValueError(f"{empty.size} of {n_items} items would have no rating; raise "
                         "n_ratings or lower item_exponent")
    items[rng.choice(donors, empty.size, replace=False)] = empty


def movielens_structure(spec: ScaleSpec, rng: np.random.Generator
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Who rated what: ``(indptr (n_users + 1,), items (n_ratings,) int32)``, in user order."""
    spec = spec.check()
    counts = user_counts(spec, rng)
    items = draw_items(counts, item_weights(spec, rng), rng)
    _cover_every_item(items, spec.n_items, rng)
    return np.concatenate([[0], np.cumsum(counts)]), items


def iter_movielens_like(spec: ScaleSpec | None = None, seed=0, *, chunk: int = _CHUNK
                        ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(users int32, items int32, ratings float32)`` chunks of about ``chunk``
    entries, users in increasing order, ratings on the half-star scale 0.5-5.

    ``seed`` is an int or a numpy Generator (e.g. a RunContext stream).
    """
    spec = ScaleSpec() if spec is None else spec
    rng = check_random_state(seed)
    structure_rng, model_rng = rng.spawn(2)
    indptr, items = movielens_structure(spec, structure_rng)
    m, n, r = spec.n_users, spec.n_items, spec.rank
    # p . q has variance r * s^2 * s^2 for entries of standard deviation s.
    s = (spec.factor_std**2 / r) ** 0.25
    P = (s * model_rng.standard_normal((m, r))).astype(np.float32)
    Q = (s * model_rng.standard_normal((n, r))).astype(np.float32)
    user_bias = spec.user_bias_std * model_rng.standard_normal(m)
    item_bias = spec.item_bias_std * model_rng.standard_normal(n)
    counts = np.diff(indptr)
    bounds = np.searchsorted(indptr, np.arange(0, spec.n_ratings, chunk), side="right") - 1
    bounds = np.unique(np.r_[bounds, m])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        users = np.repeat(np.arange(lo, hi, dtype=np.int32), counts[lo:hi])
        its = items[indptr[lo]:indptr[hi]]
        x = np.einsum("ij,ij->i", P[users], Q[its], dtype=np.float64)
        x += spec.mean + user_bias[users] + item_bias[its]
        x += spec.noise_std * model_rng.standard_normal(x.size)
        yield users, its, (np.clip(np.round(2 * x), 1, 10) / 2).astype(np.float32)


def movielens_like(spec: ScaleSpec | None = None, seed=0) -> Ratings:
    """The whole generated matrix as :class:`Ratings` (users and items as indices)."""
    spec = ScaleSpec() if spec is None else spec
    chunks = list(iter_movielens_like(spec, seed))
    rows = np.concatenate([c[0] for c in chunks])
    cols = np.concatenate([c[1] for c in chunks])
    values = np.concatenate([c[2] for c in chunks])
    del chunks
    return make_ratings(rows, cols, values, (spec.n_users, spec.n_items))


def write_movielens_like(path: str | Path, spec: ScaleSpec | None = None, seed=0) -> Path:
    """Write the generated triples as ``userId,movieId,rating`` CSV (MovieLens's
    ``ratings.csv`` header, 1-based ids), chunk by chunk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        fh.write("userId,movieId,rating\n")
        for users, items, ratings in iter_movielens_like(spec, seed):
            block = np.column_stack([users + 1, items + 1, ratings])
            np.savetxt(fh, block, fmt=["%d", "%d", "%.1f"], delimiter=",")
    return path


# ---------------------------------------------------------------- Spark export
def export_split(train: Ratings, test: Ratings, folder: str | Path, *,
                 format: str = "csv") -> dict[str, Path]:
    """Write ``train`` and ``test`` where Spark MLlib's ``ALS`` can read them.

    Each side becomes ``folder/<side>.csv`` (header ``user,item,rating``) or
    ``folder/<side>.parquet`` (columns ``user`` int32, ``item`` int32, ``rating``
    float32; needs pyarrow, the ``parquet`` extra). Ids are the ratings' own ids
    (``row_ids``/``col_ids``), which Spark's ALS requires to be integers within
    the int32 range. Read them with
    ``spark.read.csv(path, header=True, inferSchema=True)`` or
    ``spark.read.parquet(path)``, then
    ``ALS(userCol="user", itemCol="item", ratingCol="rating")``.

    Returns
    -------
    dict
        ``{"train": path, "test": path}``.
    """
    check_choice(format, "format", {"csv", "parquet"})
    if train.shape != test.shape:
        raise ValueError(f"train and test must share one shape, got {train.shape} and "
                         f"{test.shape}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for side, ratings in (("train", train), ("test", test)):
        users, items = _spark_ids(ratings.row_ids, "user")[ratings.rows], _spark_ids(
            ratings.col_ids, "item")[ratings.cols]
        path = folder / f"{side}.{format}"
        tmp = path.with_name(path.name + ".tmp")
        if format == "csv":
            with tmp.open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["user", "item", "rating"])
                writer.writerows(zip(users.tolist(), items.tolist(),
                                     ratings.values.tolist()))
        else:
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise ImportError("Parquet export needs pyarrow: pip install 'acmlkit[parquet]'"
                                  " (or export format='csv')") from None
            table = pa.table({"user": pa.array(users, pa.int32()),
                              "item": pa.array(items, pa.int32()),
                              "rating": pa.array(ratings.values.astype(np.float32))})
            pq.write_table(table, tmp)
        tmp.replace(path)
        out[side] = path
    return out


def _spark_ids(ids: np.ndarray, label: str) -> np.ndarray:
    """The ids as int64 that fit Spark ALS's integer id columns, or a clear error."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        if ids.dtype.kind == "f" and np.array_equal(ids, np.round(ids)):
            ids = ids.astype(np.int64)
        else:
            raise ValueError(f"Spark's ALS needs integer {label} ids, got dtype {ids.dtype}; "
                             "remap them to 0..n-1 first")
    if ids.size and (ids.min() < -(2**31) or ids.max() >= 2**31):
        raise ValueError(f"Spark's ALS needs {label} ids within int32, got range "
                         f"[{ids.min()}, {ids.max()}]")
    return ids.astype(np.int64)
