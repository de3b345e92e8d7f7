import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from acmlkit.errors import DataError
from acmlkit.results import (
    Result,
    atomic_write,
    fingerprint_arrays,
    fingerprint_file,
    load_result,
    provenance,
    result_kind,
    save_csv,
)


@dataclass(frozen=True)
class _Config:
    values: tuple[float, ...] = (0.1, 0.3)
    name: str = "x"


@result_kind("test.demo")
@dataclass
class _Demo(Result):
    config: _Config
    scores: list[float]
    rows: list[dict] = field(default_factory=list)

    def tables(self):
        return {"rows.csv": self.rows}


def _demo():
    return _Demo(_Config(), [1.0, 2.5], [{"a": 1, "b": 2.0}], provenance=provenance())


def test_a_result_round_trips_with_its_kind_version_and_nested_config(tmp_path):
    path = _demo().save(tmp_path / "demo")
    saved = json.loads(path.read_text())
    assert saved["kind"] == "test.demo" and saved["format_version"] == 1
    loaded = load_result(tmp_path / "demo")
    assert isinstance(loaded, _Demo)
    assert loaded.config == _Config() and loaded.scores == [1.0, 2.5]
    assert loaded.provenance["versions"]["numpy"] == np.__version__
    assert (tmp_path / "demo" / "rows.csv").read_text().splitlines() == ["a,b", "1,2.0"]


def test_the_wrong_kind_is_named_in_one_line(tmp_path):
    _demo().save(tmp_path)
    with pytest.raises(DataError, match=r"holds a 'test.demo' result; this command reads mf\."):
        load_result(tmp_path, expect="mf.")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("scores"), r"missing field _Demo.scores"),
        (lambda d: d.update(config=[1]), r"_Demo.config: expected an object"),
        (lambda d: d.update(format_version=99), r"format version 99"),
        (lambda d: d.update(kind="nope.x"), r"unknown result kind 'nope.x'"),
        (lambda d: d.pop("kind"), r"not an acmlkit result"),
    ],
)
def test_damaged_results_give_one_clear_line(tmp_path, edit, message):
    path = _demo().save(tmp_path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=message):
        load_result(path)


def test_atomic_write_leaves_no_partial_file_on_failure(tmp_path):
    target = tmp_path / "out.json"
    atomic_write(target, "old")
    with pytest.raises(TypeError):
        atomic_write(target, object())  # fails mid-write, after the temporary file exists
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_save_csv_takes_the_union_of_columns(tmp_path):
    path = save_csv([{"a": 1}, {"a": 2, "b": 3}], tmp_path / "t.csv")
    assert path.read_text().splitlines() == ["a,b", "1,", "2,3"]


def test_fingerprints_change_with_content(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("1 2 3")
    first = fingerprint_file(a)
    a.write_text("1 2 4")
    assert fingerprint_file(a) != first
    x = np.arange(6.0)
    assert fingerprint_arrays(x) != fingerprint_arrays(x.reshape(2, 3))
    assert fingerprint_arrays(x) == fingerprint_arrays(x.copy())
