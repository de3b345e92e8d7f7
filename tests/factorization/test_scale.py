"""The MovieLens-25M-shaped generator at small sizes, and the Spark export."""

import csv

import numpy as np
import pytest

from acmlkit.factorization.als import ALS
from acmlkit.factorization.bayes import BayesianMF
from acmlkit.factorization.data import make_ratings, read_ratings
from acmlkit.factorization.scale import (
    ML25M,
    ScaleSpec,
    capped,
    draw_items,
    export_split,
    iter_movielens_like,
    movielens_like,
    small_spec,
    user_counts,
    write_movielens_like,
)
from acmlkit.factorization.splits import bernoulli_split

SIZES = [(600, 300, 30_000), (2000, 900, 120_000), (150, 1000, 9_000)]


@pytest.mark.parametrize("m, n, nnz", SIZES)
def test_exact_shape_counts_and_half_star_scale(m, n, nnz):
    spec = small_spec(m, n, nnz)
    r = movielens_like(spec, seed=0)
    assert r.shape == (m, n) and r.nnz == nnz
    user = np.bincount(r.rows, minlength=m)
    item = np.bincount(r.cols, minlength=n)
    assert user.min() >= spec.min_per_user and item.min() >= 1
    assert user.max() <= n // 2
    # Every (user, item) pair at most once.
    assert np.unique(r.rows * n + r.cols).size == nnz
    assert set(np.unique(r.values)) <= {k / 2 for k in range(1, 11)}
    assert 3.0 < r.values.mean() < 4.0 and 0.8 < r.values.std() < 1.3


def test_counts_are_long_tailed_on_both_sides():
    r = movielens_like(small_spec(3000, 1500, 200_000), seed=1)
    user = np.bincount(r.rows)
    item = np.bincount(r.cols)
    # Heavy right tails: mean well above median, the top far above both.
    assert user.mean() > 1.5 * np.median(user) and user.max() > 10 * np.median(user)
    assert item.mean() > 2 * np.median(item) and item.max() > 30 * np.median(item)
    top = np.sort(item)[::-1]
    assert top[: item.size // 10].sum() > 0.5 * r.nnz


def test_full_size_counts_hit_the_published_totals_without_drawing_items():
    spec = ScaleSpec()
    counts = user_counts(spec, np.random.default_rng(0))
    assert counts.size == ML25M["n_users"] == 162_541
    assert counts.sum() == ML25M["n_ratings"] == 25_000_095
    assert spec.n_items == 59_047 and counts.min() == 20
    assert 60 < np.median(counts) < 85 and counts.max() <= spec.n_items // 2


def test_capped_weights_water_fill_against_a_direct_solution():
    rng = np.random.default_rng(2)
    w = rng.pareto(1.0, 500) + 1e-3
    w /= w.sum()
    out = capped(w, 0.01)
    assert out.sum() == pytest.approx(1.0) and out.max() <= 0.01 + 1e-15
    free = out < 0.01 - 1e-15
    # Uncapped entries keep their proportions.
    ratio = out[free] / w[free]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-10)
    np.testing.assert_array_equal(capped(w, 1.0), w)


def test_heavy_users_get_distinct_items_even_near_half_the_catalogue():
    rng = np.random.default_rng(3)
    weights = np.sort(rng.pareto(0.8, 400))[::-1] + 1e-6
    weights /= weights.sum()
    counts = np.array([200, 199, 150, 3, 1, 120])
    items = draw_items(counts, weights, rng)
    starts = np.r_[0, np.cumsum(counts)]
    for u in range(counts.size):
        mine = items[starts[u]:starts[u + 1]]
        assert np.unique(mine).size == counts[u]


def test_seeded_and_streamed_in_chunks_that_concatenate_to_the_whole():
    spec = small_spec()
    a, b = movielens_like(spec, seed=4), movielens_like(spec, seed=4)
    np.testing.assert_array_equal(a.cols, b.cols)
    np.testing.assert_array_equal(a.values, b.values)
    other = movielens_like(spec, seed=5)
    assert not np.array_equal(a.cols, other.cols)
    chunks = list(iter_movielens_like(spec, seed=4, chunk=7000))
    assert len(chunks) > 3
    users = np.concatenate([c[0] for c in chunks])
    assert np.all(np.diff(users) >= 0)
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), a.cols)
    np.testing.assert_array_equal(np.concatenate([c[2] for c in chunks]), a.values)


def test_written_csv_reads_back_as_the_same_ratings(tmp_path):
    spec = small_spec(200, 100, 6000)
    path = write_movielens_like(tmp_path / "ratings.csv", spec, seed=0)
    assert path.read_text().startswith("userId,movieId,rating\n")
    back = read_ratings(path)
    r = movielens_like(spec, seed=0)
    assert back.nnz == r.nnz and back.shape == r.shape
    np.testing.assert_array_equal(back.row_ids, np.arange(1, 201))
    order = np.lexsort((r.cols, r.rows))
    back_order = np.lexsort((back.cols, back.rows))
    np.testing.assert_array_equal(back.values[back_order], r.values[order])


def test_bad_specs_are_named():
    with pytest.raises(ValueError, match="n_ratings must lie"):
        ScaleSpec(n_users=10, n_items=10, n_ratings=60).check()
    with pytest.raises(ValueError, match="n_items"):
        ScaleSpec(n_items=1).check()


def test_als_and_bayes_fit_generated_data_and_learn_its_signal():
    r = movielens_like(small_spec(800, 400, 40_000, noise_std=0.3), seed=0)
    train, test = bernoulli_split(r, 0.8, seed=0).apply(r)
    als = ALS(n_factors=8, u_lambda=2.0, v_lambda=2.0, max_iter=10, random_state=0).fit(train)
    bmf = BayesianMF(n_factors=8, n_samples=30, burn_in=20, progress=False,
                     random_state=0).fit(train)
    baseline = np.sqrt(np.mean((test.values - train.values.mean()) ** 2))
    for pred in (als.predict(test), bmf.predict(test)):
        assert np.sqrt(np.mean((test.values - pred) ** 2)) < 0.8 * baseline


def _split():
    r = make_ratings([0, 0, 1, 2, 2, 2], [1, 2, 0, 0, 1, 2], [4.0, 3.5, 1.0, 5.0, 2.5, 0.5],
                     (3, 3), row_ids=np.array([11, 22, 33]), col_ids=np.array([7, 8, 9]))
    return r.subset(np.array([0, 2, 3, 5])), r.subset(np.array([1, 4]))


def test_csv_export_has_spark_columns_and_raw_ids(tmp_path):
    train, test = _split()
    paths = export_split(train, test, tmp_path / "spark")
    with paths["train"].open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["user", "item", "rating"]
    assert [tuple(r) for r in rows[1:]] == [("11", "8", "4.0"), ("22", "7", "1.0"),
                                            ("33", "7", "5.0"), ("33", "9", "0.5")]
    with paths["test"].open() as fh:
        assert list(csv.reader(fh))[1:] == [["11", "9", "3.5"], ["33", "8", "2.5"]]


def test_parquet_export_matches_the_csv(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    train, test = _split()
    paths = export_split(train, test, tmp_path, format="parquet")
    table = pq.read_table(paths["train"])
    assert table.schema.names == ["user", "item", "rating"]
    assert str(table.schema.field("user").type) == "int32"
    assert table.column("user").to_pylist() == [11, 22, 33, 33]
    assert table.column("rating").to_pylist() == [4.0, 1.0, 5.0, 0.5]


def test_export_refuses_ids_spark_cannot_read(tmp_path):
    r = make_ratings([0, 1], [0, 1], [1.0, 2.0], (2, 2),
                     row_ids=np.array(["ann", "bob"]), col_ids=np.array([1, 2]))
    with pytest.raises(ValueError, match="integer user ids"):
        export_split(r, r, tmp_path)
    big = make_ratings([0, 1], [0, 1], [1.0, 2.0], (2, 2), row_ids=np.array([1, 2**40]))
    with pytest.raises(ValueError, match="within int32"):
        export_split(big, big, tmp_path)
    with pytest.raises(ValueError, match="format"):
        export_split(r, r, tmp_path, format="json")
