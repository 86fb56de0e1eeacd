"""Vertical partitioning on real SQLite (scalekit.partitioning.vertical).

Sources: SQLite's EXPLAIN QUERY PLAN (https://sqlite.org/eqp.html) names every table a
query reads (SCAN/SEARCH lines); a row's size on disk grows with its text columns, so moving
city and country strings out of ``flights`` must shrink the file. Timings are real and only
checked to be positive medians.
"""

import sqlite3

import numpy as np
import pytest

from scalekit.partitioning import data, vertical

N = 20_000


@pytest.fixture(scope="module")
def ports():
    return data.airports(80, seed=2)


@pytest.fixture(scope="module")
def fl(ports):
    return data.flights(N, ports, seed=2)


@pytest.fixture(scope="module")
def result(fl, ports):
    return vertical.compare_layouts(fl, ports, repeats=3)


def test_normalized_file_is_smaller(result):
    assert result.normalized_bytes < result.wide_bytes
    assert result.size_ratio < 0.8


def test_join_plan_mentions_both_tables(result):
    plan = result.normalized_plan
    assert any(line.split()[0] in ("SCAN", "SEARCH") and line.split()[1] == "f"
               for line in plan.splitlines())
    assert {"o", "d"} <= {line.split()[1] for line in plan.splitlines()}
    assert "flights" in result.wide_plan and "locations" not in result.wide_plan


def test_timings_are_positive_medians(result):
    for name in ("scan_wide_ms", "scan_normalized_ms", "lookup_wide_ms",
                 "lookup_normalized_ms"):
        value = getattr(result, name)
        assert value > 0
        assert value == pytest.approx(np.median(result.times_ms[name[:-3]]))
    assert all(len(t) == 3 for t in result.times_ms.values())


def test_default_lookup_is_the_hub_to_a_foreign_country(result, fl, ports):
    hub = np.bincount(fl.origin).argmax()
    assert result.city == ports.city[hub]
    assert result.country != ports.country[hub]
    expected = np.sum((fl.origin == hub) & (ports.country[fl.destination] == result.country))
    assert result.lookup_rows == expected > 0


@pytest.mark.parametrize("k", [0, 5, 17, 40])
def test_lookup_same_rows_in_both_layouts(tmp_path, fl, ports, k):
    city, country = str(ports.city[k]), str(ports.country[(k * 7) % ports.count])
    res = vertical.compare_layouts(fl, ports, folder=tmp_path, repeats=1, city=city,
                                   country=country)
    expected = np.sum((ports.city[fl.origin] == city)
                      & (ports.country[fl.destination] == country))
    assert res.lookup_rows == expected
    with sqlite3.connect(tmp_path / "wide.sqlite3") as w, \
            sqlite3.connect(tmp_path / "normalized.sqlite3") as n:
        a = w.execute(vertical.LOOKUP_SQL["wide"], (city, country)).fetchall()
        b = n.execute(vertical.LOOKUP_SQL["normalized"], (city, country)).fetchall()
        assert a == b and len(a) == expected
        assert w.execute(vertical.SCAN_SQL).fetchall() == n.execute(vertical.SCAN_SQL).fetchall()


def test_html_and_repr(result):
    page = result._repr_html_()
    assert "normalized" in page and "SEARCH" in page and result.city in page
    assert "VerticalResult(flights=20000" in repr(result)


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"repeats": 0}, ValueError, "repeats"),
    ({"city": 3}, TypeError, "city"),
    ({"folder": "/no/such/dir"}, ValueError, "folder"),
    ({"timer": 1}, TypeError, "timer"),
])
def test_bad_input_names_the_parameter(fl, ports, kwargs, exc, name):
    with pytest.raises(exc, match=rf"\b{name}\b"):
        vertical.compare_layouts(fl, ports, **kwargs)
