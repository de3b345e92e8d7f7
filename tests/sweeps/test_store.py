"""A damaged, foreign or unwritable results store is one line, never a sqlite3 traceback."""

import csv
import os
import sqlite3

import pytest
from typer.testing import CliRunner

from acmlkit.cli import app
from acmlkit.errors import DataError
from acmlkit.sweeps import ResultsStore, SweepSpec, run_sweep
from acmlkit.sweeps.store import StoreError

runner = CliRunner()


def outcome(key="k1", status="ok", result=None):
    return {"key": key, "experiment": "e", "params": {"seed": 0, "x": 1}, "status": status,
            "result": {"y": 1.5} if result is None else result,
            "error": None if status == "ok" else "boom", "seconds": 0.1}


@pytest.fixture
def store_folder(tmp_path):
    store = ResultsStore(tmp_path / "s")
    for i in range(6):
        store.record(outcome(f"k{i}", result={"y": float(i), "pad": "x" * 3000}))
    return tmp_path / "s"


def test_records_round_trip_and_a_success_is_never_overwritten(tmp_path):
    store = ResultsStore(tmp_path)
    store.record(outcome("a", "error"))
    store.record(outcome("a", "ok"))
    store.record(outcome("a", "error"))
    (row,) = store.rows()
    assert row["status"] == "ok" and row["result"] == {"y": 1.5}
    assert store.table() == [{"key": "a", "experiment": "e", "status": "ok", "param_seed": 0,
                              "param_x": 1, "y": 1.5, "error": None, "seconds": 0.1}]


def damage(folder, how):
    path = folder / ResultsStore.FILENAME
    for side in ("-wal", "-shm"):
        (folder / (ResultsStore.FILENAME + side)).unlink(missing_ok=True)
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "text":
        path.write_text("key,value\n1,2\n")
    elif how == "header-only":
        path.write_bytes(data[:100])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flipped-page":
        buf = bytearray(data)
        for i in range(4096, min(len(buf), 8192)):
            buf[i] ^= 0xFF
        path.write_bytes(bytes(buf))
    elif how == "foreign":
        path.unlink()
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE movies (id INTEGER, title TEXT)")
            db.execute("INSERT INTO movies VALUES (1, 'x')")
    elif how == "foreign-trials":
        path.unlink()
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE trials (id INTEGER, name TEXT)")


DAMAGES = ["truncated", "garbage", "text", "header-only", "empty", "flipped-page", "foreign",
           "foreign-trials"]


@pytest.mark.parametrize("how", DAMAGES)
def test_results_of_a_damaged_store_is_one_line(store_folder, how):
    damage(store_folder, how)
    result = runner.invoke(app, ["results", str(store_folder)])
    lines = result.output.strip().splitlines()
    if how in ("flipped-page",) and result.exit_code == 0:
        # SQLite may read around a damaged page; then every row it returns must be intact.
        assert "Traceback" not in result.output
        return
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert str(store_folder / ResultsStore.FILENAME) in lines[0]
    assert "Traceback" not in result.output and "sqlite3." not in result.output


@pytest.mark.parametrize("how", [d for d in DAMAGES if d != "empty"])
def test_a_sweep_into_a_damaged_store_is_one_line(store_folder, how, trials_module):
    damage(store_folder, how)
    spec = SweepSpec(f"{trials_module}:square", seeds=(0,))
    with pytest.raises((DataError, StoreError)) as info:
        run_sweep(spec, store_folder, allow_code=True, exclusive=False)
    assert "\n" not in str(info.value)
    assert str(store_folder / ResultsStore.FILENAME) in str(info.value)


def test_an_empty_store_file_is_an_empty_store(store_folder, trials_module):
    damage(store_folder, "empty")
    spec = SweepSpec(f"{trials_module}:square", seeds=(0, 1))
    assert run_sweep(spec, store_folder, allow_code=True)["ran"] == 2


def test_full_disk_is_one_line_and_keeps_finished_trials(tmp_path, monkeypatch, trials_module):
    folder = tmp_path / "out"
    small = SweepSpec(f"{trials_module}:square", grid={"x": [1, 2, 3]}, seeds=(0,))
    run_sweep(small, folder, allow_code=True)
    connect = ResultsStore._connect

    # SQLite's page limit makes it fail with SQLITE_FULL exactly as on a full disk.
    def limited(self):
        cm = connect(self)

        class Limited:
            def __enter__(self_inner):
                db = cm.__enter__()
                pages = db.execute("PRAGMA page_count").fetchone()[0]
                db.execute(f"PRAGMA max_page_count = {pages + 2}")
                return db

            def __exit__(self_inner, *exc):
                return cm.__exit__(*exc)

        return Limited()

    big = SweepSpec(f"{trials_module}:square", grid={"x": list(range(4, 200))}, seeds=(0,),
                    fixed={"label": "y" * 3000})
    monkeypatch.setattr(ResultsStore, "_connect", limited)
    with pytest.raises(StoreError, match="the disk is full.*finished trials are kept") as info:
        run_sweep(big, folder, allow_code=True, exclusive=False)
    assert "\n" not in str(info.value)
    monkeypatch.undo()
    rows = ResultsStore(folder).rows()
    assert 3 < len(rows) < 3 + 196 and all(r["status"] == "ok" for r in rows)
    assert {t.key for t in small.trials()} <= ResultsStore(folder).finished_keys()


def test_read_only_store_is_one_line(store_folder, monkeypatch, trials_module):
    real_connect = sqlite3.connect

    # As root a chmod does not stop writes, so open the file the way a read-only
    # mount would: SQLite itself then refuses every write (SQLITE_READONLY).
    def read_only(path, *args, **kwargs):
        if kwargs.pop("uri", False):
            return real_connect(path, *args, uri=True, **kwargs)
        return real_connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    with pytest.raises(StoreError, match="read-only"):
        ResultsStore(store_folder).record(outcome("new"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_read_only_folder_is_one_line(store_folder, trials_module):
    store_folder.chmod(0o500)
    try:
        spec = SweepSpec(f"{trials_module}:square", seeds=(0,))
        with pytest.raises(OSError, match="results.sqlite|cannot write"):
            run_sweep(spec, store_folder, allow_code=True, exclusive=False)
    finally:
        store_folder.chmod(0o700)


def test_an_output_folder_that_cannot_be_created_is_one_line(tmp_path, trials_module):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["sweep", "--experiment", f"{trials_module}:square",
                                 "--allow-code", "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: cannot create the output folder {blocker / 'sub'}: Not a directory"
    ]


def test_csv_export_is_atomic_and_complete(store_folder, tmp_path, monkeypatch):
    target = tmp_path / "table.csv"
    target.write_text("old,content\n")
    import acmlkit.results as results

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results.os, "fsync", fail)
    result = runner.invoke(app, ["results", str(store_folder), "--csv", str(target)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: cannot write {target}: No space left on device"
    ]
    assert target.read_text() == "old,content\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".table")] == []
    monkeypatch.undo()
    result = runner.invoke(app, ["results", str(store_folder), "--csv", str(target)])
    assert result.exit_code == 0
    with open(target, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["y"]) for r in rows] == [float(i) for i in range(6)]


def test_parquet_export_matches_the_csv(store_folder, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    result = runner.invoke(app, ["results", str(store_folder), "--csv", str(tmp_path / "t.csv"),
                                 "--parquet", str(tmp_path / "t.parquet")])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(tmp_path / "t.parquet")
    expected = pd.read_csv(tmp_path / "t.csv")
    assert list(frame.columns) == list(expected.columns)
    assert frame["y"].tolist() == expected["y"].tolist() == [float(i) for i in range(6)]
    assert frame["param_x"].tolist() == [1] * 6


def test_results_of_a_missing_folder_or_store(tmp_path):
    result = runner.invoke(app, ["results", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: no sweep folder at {tmp_path / 'nope'}"
    result = runner.invoke(app, ["results", str(tmp_path)])
    assert result.exit_code == 1
    assert "no results.sqlite in" in result.output and "run acml sweep" in result.output
