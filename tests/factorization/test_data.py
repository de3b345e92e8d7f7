import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest

from acmlkit.download import file_digest
from acmlkit.errors import DataError, DownloadError
from acmlkit.factorization import data
from acmlkit.factorization.data import (
    load_movielens,
    parse_ratings,
    read_dense_csv,
    read_ratings,
    synthetic,
)


def write(tmp_path, text, name="m.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_dense_csv_empty_and_nan_cells_are_missing(tmp_path):
    r = read_dense_csv(write(tmp_path, "1,,3\nnan,0,2\n4,5,NaN\n"))
    assert r.shape == (3, 3)
    np.testing.assert_array_equal(
        r.to_dense(-1.0), [[1, -1, 3], [-1, 0, 2], [4, 5, -1]])


def test_zero_is_missing_reproduces_the_notebooks_reading(tmp_path):
    path = write(tmp_path, "1,0,3\n0,2,2\n")
    assert read_dense_csv(path).nnz == 6
    r = read_dense_csv(path, zero_is_missing=True)
    assert r.nnz == 4 and 0.0 not in r.values


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1,2\n3,abc\n", r"non-numeric cell 'abc' at line 2, column 2"),
        ("1,2,3\n4,5\n", r"ragged rows: line 2 has 2 cells, expected 3"),
        ("", r"is empty"),
        ("1,,3\n,,\n", r"1 row\(s\) have no observed entries \(first: row 1\)"),
        ("1,,3\n2,,4\n", r"column\(s\) have no observed entries \(first: column 1\)"),
    ],
)
def test_dense_csv_bad_input(tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        read_dense_csv(write(tmp_path, text))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no matrix file at"):
        read_dense_csv(tmp_path / "nope.csv")


def test_udata_ids_are_remapped_and_kept(tmp_path):
    text = "196\t242\t3\t881250949\n22\t377\t1\t878887116\n196\t377\t5\t1\n"
    r = read_ratings(write(tmp_path, text, "u.data"))
    assert r.shape == (2, 2)
    assert r.row_ids.tolist() == [22, 196] and r.col_ids.tolist() == [242, 377]
    triples = sorted(zip(r.row_ids[r.rows].tolist(), r.col_ids[r.cols].tolist(),
                         r.values.tolist()))
    assert triples == [(22, 377, 1.0), (196, 242, 3.0), (196, 377, 5.0)]


def test_csv_with_header_allows_half_stars():
    r = parse_ratings("userId,movieId,rating,timestamp\n1,31,2.5,1\n1,1029,3.0,2\n7,31,4.5,3\n")
    assert sorted(r.values.tolist()) == [2.5, 3.0, 4.5]
    assert r.shape == (2, 2)


def test_ratings_dat_double_colon():
    r = parse_ratings("1::1193::5::978300760\n2::661::3::978302109\n")
    assert r.nnz == 2 and r.col_ids.tolist() == [661, 1193]


def test_duplicates_are_rejected_by_default_and_averaged_on_request():
    text = "1\t10\t4\n1\t10\t2\n2\t10\t5\n"
    with pytest.raises(DataError, match="rejected, not averaged"):
        parse_ratings(text)
    r = parse_ratings(text, duplicates="average")
    assert r.nnz == 2
    assert sorted(r.values.tolist()) == [3.0, 5.0]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "is empty"),
        ("userId,movieId,rating\n", "has a header but no ratings"),
        ("name,title,stars\n1,2,3\n", "header .* not understood"),
        ("1\t2\tx\n", "could not convert"),
        ("1\t2\n", "expected 3 or 4 columns"),
        ("1.5\t2\t3\n", "user id 1.5 on line 1 is not an integer"),
    ],
)
def test_bad_ratings(text, match):
    with pytest.raises(DataError, match=match):
        parse_ratings(text)


def test_synthetic_has_the_requested_rank_and_is_reproducible():
    r = synthetic(40, 30, rank=4, noise=0.0, seed=5)
    assert r.nnz == 1200
    assert np.linalg.matrix_rank(r.to_dense()) == 4
    again = synthetic(40, 30, rank=4, noise=0.0, seed=5)
    np.testing.assert_array_equal(r.values, again.values)
    sparse = synthetic(40, 30, missing=0.9, seed=0)
    assert np.bincount(sparse.rows, minlength=40).min() >= 1
    assert np.bincount(sparse.cols, minlength=30).min() >= 1


def test_synthetic_rejects_rank_beyond_the_shape():
    with pytest.raises(ValueError, match=r"rank must be in \[1, 5\], got 6"):
        synthetic(5, 9, rank=6)


def test_movielens_offline_error_says_how_to_use_a_local_copy(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError, match=r"offline.*u\.data directly: `acml mf fit PATH`"):
        load_movielens("100k", folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_movielens_reads_the_archive_in_the_cache(tmp_path, monkeypatch):
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-100k/u.data", "1\t1\t5\t0\n2\t1\t3\t0\n")
    monkeypatch.setitem(data.MOVIELENS["100k"], "md5", file_digest(archive, "md5"))
    r = load_movielens("100k", folder=tmp_path)
    assert r.shape == (2, 1) and r.values.tolist() == [5.0, 3.0]


@pytest.mark.realdata
def test_real_movielens_100k(ml100k_path):
    r = read_ratings(ml100k_path)
    assert (r.shape, r.nnz) == ((943, 1682), 100_000)
    assert set(np.unique(r.values)) == {1.0, 2.0, 3.0, 4.0, 5.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5e+00,2.0e-01\n", "dense"),
        (",nan,3\n", "dense"),
        ("196\t242\t3\t881250949\n", "ratings"),
        ("1::1193::5::978300760\n", "ratings"),
        ("userId,movieId,rating\n", "ratings"),
    ],
)
def test_sniff_format(tmp_path, text, expected):
    assert data.sniff_format(write(tmp_path, text)) == expected


@pytest.mark.parametrize(
    ("text", "nnz"),
    [
        ("\ufeffuserId,movieId,rating\n1,2,3\n4,2,5\n", 2),
        ("\ufeff1\t2\t3\n4\t5\t1\n", 2),
        ("\ufeff1,2,3.5\n4,5,1\n", 2),
        ("user_id,item_id,rating,timestamp\n1,2,3,9\n", 1),
    ],
)
def test_a_byte_order_mark_or_header_never_costs_a_data_row(text, nnz):
    assert parse_ratings(text).nnz == nnz


def test_bom_in_files_is_ignored(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffuserId,movieId,rating\n1,2,3\n".encode())
    assert read_ratings(path).nnz == 1
    dense = write(tmp_path, "\ufeff1,2\n3,4\n", "d.csv")
    assert data.sniff_format(dense) == "dense" and read_dense_csv(dense).nnz == 4


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1,2,x\n3,4,5\n", "could not convert rating 'x' on line 1"),
        ("1,x,5\n2,3,4\n", "item id x on line 1 is not a number like the other ids"),
        ("1\t2\t3\n4\t5\n", "line 2 has 2 cells, expected 3"),
    ],
)
def test_one_bad_cell_in_row_one_is_reported_not_dropped(text, match):
    with pytest.raises(DataError, match=match):
        parse_ratings(text)


def test_ids_beyond_2_53_and_string_ids_stay_exact():
    big = 2**53
    r = parse_ratings(f"{big + 1}\t1\t5\n{big}\t1\t4\n{2**64}\t2\t3\n")
    assert r.row_ids.tolist() == [big, big + 1, 2**64] and r.shape == (3, 2)
    named = parse_ratings("ann,film a,5\nbob,film a,3\n")
    assert named.row_ids.tolist() == ["ann", "bob"] and named.col_ids.tolist() == ["film a"]


@pytest.mark.parametrize(("cell", "match"), [("nan", "'nan' on line 2 is not a finite"),
                                             ("inf", "'inf' on line 2"),
                                             ("3e300", "size at most 1e\\+100")])
def test_non_finite_or_overflowing_ratings_name_the_line(cell, match):
    with pytest.raises(DataError, match=match):
        parse_ratings(f"userId,movieId,rating\n1,2,{cell}\n3,4,5\n", source="r.csv")
