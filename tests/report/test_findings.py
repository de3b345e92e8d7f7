"""Tables print at one precision per column, and findings are worded from what they print."""

import pytest
from tests.report import pagecheck

from acmlkit.report import findings as fd
from acmlkit.report.html import Column, Finding, Section, Table, decimals_for, render_page


def _study(errors):
    return Table(
        "k-study",
        [Column("K"), Column("mse", "test MSE")],
        [{"K": k, "mse": e} for k, e in errors.items()],
    )


def test_a_column_prints_at_one_precision():
    table = _study({4: 0.85, 8: 0.011, 16: 0.0123456})
    shown = [table.text(r, "mse") for r in table.rows]
    assert shown == ["0.8500", "0.0110", "0.0123"]
    assert decimals_for([120.0, 3.5]) == 2
    assert decimals_for([0.0, None]) == 0


def test_scaled_and_scientific_columns():
    table = Table("t", [Column("acc", "accuracy (%)", scale=100, decimals=1),
                        Column("err", sci=True)], [{"acc": 0.5432, "err": 2.2e-16}])
    row = table.rows[0]
    assert table.text(row, "acc") == "54.3"
    assert table.text(row, "err") == "2.2e-16"


@pytest.mark.parametrize(
    "errors, best",
    [({4: 0.3, 8: 0.1, 16: 0.2, 32: 0.5}, "8"), ({4: 0.5, 8: 0.3, 16: 0.2, 32: 0.1}, "32")],
)
def test_extreme_follows_the_numbers(errors, best):
    table = _study(errors)
    row, claim = fd.extreme(table, "mse", "K", kind="min")
    assert table.text(row, "K") == best and claim["at"] == best
    page = pagecheck.parse(_page(table, Finding(f"best at K = {best}", [claim])))
    assert pagecheck.check_findings(page) == 1


def test_two_errors_that_print_alike_are_a_tie():
    table = _study({4: 0.10001, 8: 0.10004})
    op, claim = fd.order(table, "mse", {"K": 4}, {"K": 8})
    assert op == "eq"
    page = pagecheck.parse(_page(table, Finding("K = 4 and K = 8 are alike", [claim])))
    pagecheck.check_findings(page)


def test_the_checker_catches_a_contradicting_sentence():
    table = _study({4: 0.3, 8: 0.1})
    _, claim = fd.extreme(table, "mse", "K", kind="min")
    wrong = dict(claim, at="4")
    page = pagecheck.parse(_page(table, Finding("best at K = 4", [wrong])))
    with pytest.raises(AssertionError, match="argmin"):
        pagecheck.check_findings(page)
    text, value_claim = fd.quote(table, "mse", K=8)
    page = pagecheck.parse(_page(table, Finding("K = 8 reaches 0.2000", [value_claim])))
    with pytest.raises(AssertionError, match="does not quote"):
        pagecheck.check_findings(page)


def test_difference_and_first_claims():
    table = Table("acc", [Column("model"), Column("acc", decimals=1)],
                  [{"model": "cnn", "acc": 71.26}, {"model": "mlp", "acc": 40.04}])
    text, op, claims = fd.difference(table, "acc", {"model": "cnn"}, {"model": "mlp"})
    assert (text, op) == ("31.3", "gt")
    assert fd.difference(table, "acc", {"model": "mlp"}, {"model": "cnn"})[:2] == ("31.3", "lt")
    nan = Table("d", [Column("D"), Column("nan", decimals=2)],
                [{"D": 1, "nan": 0.0}, {"D": 525, "nan": 0.4}, {"D": 600, "nan": 1.0}])
    row, first = fd.first_above(nan, "nan", "D")
    assert row["D"] == 525
    page = pagecheck.parse(_page(table, Finding(f"{text} points; fails from D = 525",
                                                [*claims, first]), nan))
    assert pagecheck.check_findings(page) == 3


def test_a_row_that_is_not_on_the_table_is_an_error_while_writing():
    with pytest.raises(KeyError, match="0 rows"):
        fd.quote(_study({4: 0.3}), "mse", K=5)


def _page(*blocks):
    return render_page("t", [Section("s", "S", "cell [1]", "", list(blocks))])


def test_settings_print_exactly():
    table = Table("s", [Column("lam", exact=True)], [{"lam": v} for v in (0.01, 0.25, 1.0)])
    assert [table.text(r, "lam") for r in table.rows] == ["0.01", "0.25", "1.00"]


def test_columns_of_one_row_compare_as_shown():
    table = Table("c", [Column("name"), Column("cnn", decimals=2), Column("mlp", decimals=2)],
                  [{"name": "cat", "cnn": 0.71, "mlp": 0.74}, {"name": "dog", "cnn": 0.501,
                                                                  "mlp": 0.504}])
    assert fd.order_columns(table, "cnn", "mlp", name="cat")[0] == "lt"
    assert fd.order_columns(table, "cnn", "mlp", name="dog")[0] == "eq"
    page = pagecheck.parse(_page(table, Finding("cat and dog", [
        fd.order_columns(table, "cnn", "mlp", name=n)[1] for n in ("cat", "dog")])))
    assert pagecheck.check_findings(page) == 2
