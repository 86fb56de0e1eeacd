"""Horizontal partitioning on real SQLite (scalekit.partitioning.horizontal).

Sources: the unpartitioned wide ``flights`` table written by ``load_flights`` is the oracle
every routed query must agree with; SQLite's EXPLAIN QUERY PLAN (https://sqlite.org/eqp.html)
names each table a query reads; SQLite runs ALTER TABLE inside a transaction, so a ROLLBACK
undoes it (https://sqlite.org/lang_altertable.html, https://sqlite.org/lang_transaction.html).
Timings are real and only checked to be positive medians.
"""

import sqlite3

import numpy as np
import pytest

from scalekit.partitioning import data, horizontal
from scalekit.partitioning.horizontal import FlightRouter
from scalekit.partitioning.sharding import InjectedFailure

N = 20_000


@pytest.fixture(scope="module")
def ports():
    return data.airports(80, seed=3)


@pytest.fixture(scope="module")
def fl(ports):
    return data.flights(N, ports, seed=3)


@pytest.fixture(scope="module")
def files(tmp_path_factory, fl, ports):
    folder = tmp_path_factory.mktemp("horizontal")
    load = horizontal.load_partitioned(folder / "parts.sqlite3", fl, ports)
    data.load_flights(folder / "single.sqlite3", fl, ports, layout="wide")
    return load, folder / "parts.sqlite3", folder / "single.sqlite3"


@pytest.fixture(scope="module")
def result(fl, ports):
    return horizontal.compare_partitioning(fl, ports, repeats=3)


def _schema(path):
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"PRAGMA table_info({t})").fetchall()
                for t in horizontal.PARTITIONS}


def test_partitions_hold_exactly_their_rows(files, fl):
    load, parts, single = files
    with sqlite3.connect(parts) as db:
        dom = db.execute("SELECT * FROM flights_domestic ORDER BY id").fetchall()
        intl = db.execute("SELECT * FROM flights_international ORDER BY id").fetchall()
    with sqlite3.connect(single) as db:
        everything = db.execute("SELECT * FROM flights ORDER BY id").fetchall()
    assert [r[0] for r in dom] == (np.flatnonzero(fl.domestic) + 1).tolist()
    assert [r[0] for r in intl] == (np.flatnonzero(~fl.domestic) + 1).tolist()
    assert all(r[-1] == 1 for r in dom) and all(r[-1] == 0 for r in intl)
    assert sorted(dom + intl) == everything  # together all rows, none twice, same values
    assert len(dom) == load.domestic_rows > 0 and len(intl) == load.international_rows > 0
    assert load.rows == N


def test_same_columns_as_the_wide_table(files):
    _, parts, single = files
    with sqlite3.connect(single) as db:
        wide = db.execute("PRAGMA table_info(flights)").fetchall()
    assert all(info == wide for info in _schema(parts).values())


@pytest.mark.parametrize("domestic, tables", [
    (True, ("flights_domestic",)),
    (False, ("flights_international",)),
    (None, ("flights_domestic", "flights_international")),
    (np.True_, ("flights_domestic",)),
])
def test_router_picks_the_tables(domestic, tables):
    assert FlightRouter().tables_for(domestic) == tables


@pytest.mark.parametrize("where, columns", [
    ({"domestic": True}, None),
    ({"domestic": False, "airline": "BLU"}, ["id", "origin", "duration_min"]),
    ({"domestic": None, "airline": "SKY"}, None),
    ({"airline": "ORA"}, ["id", "destination_country"]),
    ({}, ["id"]),
    ({"domestic": True, "airline": "NRD", "duration_min": 90}, None),
])
def test_routed_query_matches_the_single_table(files, ports, where, columns):
    _, parts, single = files
    router = FlightRouter()
    where = dict(where, origin=str(ports.code[0])) if where else where
    with sqlite3.connect(parts) as p, sqlite3.connect(single) as s:
        got = p.execute(*router.query(where, columns)).fetchall()
        want = s.execute(*router.single_table_query(where, columns)).fetchall()
    assert got == want
    if where.get("domestic") is not None or "duration_min" not in where:
        assert len(want) > 0


def test_union_all_plan_reads_both_partitions(result):
    plan = result.plans["both_partitioned"]
    assert "UNION ALL" in plan
    assert "flights_domestic" in plan and "flights_international" in plan
    assert "flights_international" not in result.plans["domestic_partitioned"]
    assert "flights_domestic" not in result.plans["international_partitioned"]


def test_compare_counts_and_positive_medians(result, fl):
    assert result.domestic_rows == int(fl.domestic.sum())
    assert result.domestic_rows + result.international_rows == N
    assert result.hits["both"] == result.hits["domestic"] + result.hits["international"] > 0
    for q in horizontal.QUERIES:
        for kind in ("partitioned", "single"):
            value = getattr(result, f"{q}_{kind}_ms")
            assert value > 0
            assert value == pytest.approx(np.median(result.times_ms[f"{q}_{kind}"]))
    page = result._repr_html_()
    assert "UNION ALL" in page and result.origin in page
    assert "HorizontalResult(flights=20000" in repr(result)


def test_add_column_reaches_every_partition(tmp_path, fl, ports):
    path = tmp_path / "p.sqlite3"
    horizontal.load_partitioned(path, fl, ports)
    tricky = "O'Hare'); DROP TABLE flights_domestic; --"
    assert horizontal.add_column(path, "gate", "TEXT", tricky) == horizontal.PARTITIONS
    with sqlite3.connect(path) as db:
        for table in horizontal.PARTITIONS:
            names = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            assert names[-1] == "gate"
            assert db.execute(f"SELECT DISTINCT gate FROM {table}").fetchall() == [(tricky,)]
    horizontal.add_column(path, "seats", "INTEGER", 180)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT MIN(seats), MAX(seats) FROM flights_international"
                          ).fetchone() == (180, 180)


def test_injected_failure_leaves_schema_as_before(tmp_path, fl, ports):
    path = tmp_path / "p.sqlite3"
    horizontal.load_partitioned(path, fl, ports)
    before = _schema(path)
    with pytest.raises(InjectedFailure):
        horizontal.add_column(path, "gate", "TEXT", "A1", fail_after=1)
    assert _schema(path) == before
    horizontal.add_column(path, "gate", "TEXT", "A1")  # and it works without the failure
    assert all(info[-1][1] == "gate" for info in _schema(path).values())


def test_real_failure_on_second_table_rolls_back_the_first(tmp_path, fl, ports):
    path = tmp_path / "p.sqlite3"
    horizontal.load_partitioned(path, fl, ports)
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE flights_international ADD COLUMN gate TEXT")
    before = _schema(path)
    with pytest.raises(data.PartitionError, match="gate") as info:
        horizontal.add_column(path, "gate", "TEXT", "A1")
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert _schema(path) == before
    assert "gate" not in [r[1] for r in before["flights_domestic"]]


def test_failed_load_leaves_the_file_as_it_was(tmp_path, fl, ports):
    path = tmp_path / "p.sqlite3"
    horizontal.load_partitioned(path, fl, ports)
    before = _schema(path)

    def boom(done, total):
        raise RuntimeError("stop")

    small = data.flights(60_000, ports, seed=4)
    with pytest.raises(RuntimeError, match="stop"):
        horizontal.load_partitioned(path, small, ports, progress=boom)
    assert _schema(path) == before
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM flights_domestic").fetchone()[0] == \
            int(fl.domestic.sum())
    fresh = tmp_path / "new.sqlite3"
    with pytest.raises(RuntimeError):
        horizontal.load_partitioned(fresh, small, ports, progress=boom)
    assert not fresh.exists()


@pytest.mark.parametrize("kwargs", [
    {"where": {"x; DROP TABLE flights_domestic": 1}},
    {"where": {'origin" = origin OR 1=1 --': "A"}},
    {"columns": ["id", "x; DROP TABLE flights_domestic"]},
    {"columns": ["*"]},
    {"order_by": "id; DROP TABLE flights"},
    {"columns": ["origin"], "order_by": "id"},
    {"columns": []},
])
def test_router_refuses_unknown_identifiers(kwargs):
    with pytest.raises(ValueError):
        FlightRouter().query(**kwargs)
    with pytest.raises(ValueError):
        FlightRouter().single_table_query(**kwargs)


def test_values_are_bound_never_interpolated(files):
    _, parts, _ = files
    evil = "x'; DROP TABLE flights_domestic; --"
    sql, params = FlightRouter().query({"origin": evil})
    assert evil not in sql and params == (evil, evil)
    with sqlite3.connect(parts) as db:
        assert db.execute(sql, params).fetchall() == []
        assert db.execute("SELECT COUNT(*) FROM flights_domestic").fetchone()[0] > 0


@pytest.mark.parametrize("name", ["x; DROP TABLE flights_domestic", "Gate", "1gate", "",
                                  'a"b', "origin", "gate--"])
def test_add_column_refuses_bad_names(files, name):
    _, parts, _ = files
    before = _schema(parts)
    with pytest.raises(ValueError, match=r"\bname\b"):
        horizontal.add_column(parts, name, "TEXT", None)
    assert _schema(parts) == before


@pytest.mark.parametrize("args, exc, name", [
    (("gate", "TEXT; DROP TABLE flights_domestic", None), ValueError, "sql_type"),
    (("gate", "VARCHAR", None), ValueError, "sql_type"),
    (("gate", 3, None), TypeError, "sql_type"),
    ((3, "TEXT", None), TypeError, "name"),
    (("gate", "TEXT", 3), TypeError, "default"),
    (("gate", "INTEGER", "1); DROP TABLE x; --"), TypeError, "default"),
    (("gate", "REAL", float("nan")), ValueError, "default"),
])
def test_add_column_bad_input(files, args, exc, name):
    _, parts, _ = files
    before = _schema(parts)
    with pytest.raises(exc, match=rf"\b{name}\b"):
        horizontal.add_column(parts, *args)
    assert _schema(parts) == before


def test_add_column_needs_an_existing_file(tmp_path):
    with pytest.raises(ValueError, match=r"\bpath\b"):
        horizontal.add_column(tmp_path / "missing.sqlite3", "gate", "TEXT", None)
    assert not (tmp_path / "missing.sqlite3").exists()


@pytest.mark.parametrize("call, exc, name", [
    (lambda r: r.tables_for(1), TypeError, "domestic"),
    (lambda r: r.tables_for("yes"), TypeError, "domestic"),
    (lambda r: r.query({"domestic": 1}), TypeError, "domestic"),
    (lambda r: r.query(["origin"]), TypeError, "where"),
    (lambda r: r.query({"origin": ["A"]}), TypeError, "where"),
    (lambda r: r.query({"duration_min": float("inf")}), TypeError, "where"),
    (lambda r: r.query(columns="origin"), TypeError, "columns"),
])
def test_router_bad_input_names_the_parameter(call, exc, name):
    with pytest.raises(exc, match=rf"\b{name}\b"):
        call(FlightRouter())


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"repeats": 0}, ValueError, "repeats"),
    ({"origin": 3}, TypeError, "origin"),
    ({"folder": "/no/such/dir"}, ValueError, "folder"),
    ({"timer": 1}, TypeError, "timer"),
])
def test_compare_bad_input_names_the_parameter(fl, ports, kwargs, exc, name):
    with pytest.raises(exc, match=rf"\b{name}\b"):
        horizontal.compare_partitioning(fl, ports, **kwargs)


def test_load_bad_input(tmp_path, fl, ports):
    with pytest.raises(TypeError, match="flights"):
        horizontal.load_partitioned(tmp_path / "a.sqlite3", "not flights", ports)
    with pytest.raises(TypeError, match="progress"):
        horizontal.load_partitioned(tmp_path / "a.sqlite3", fl, ports, progress=3)
    with pytest.raises(ValueError, match="path"):
        horizontal.load_partitioned(tmp_path / "no" / "a.sqlite3", fl, ports)


def test_add_column_refuses_rowid_and_integers_sqlite_cannot_hold(tmp_path):
    ports = data.airports(30, seed=1)
    fl = data.flights(300, ports, seed=1)
    path = tmp_path / "p.sqlite3"
    horizontal.load_partitioned(path, fl, ports)
    with pytest.raises(ValueError, match="rowid"):
        horizontal.add_column(path, "rowid", "INTEGER")
    with pytest.raises(ValueError, match="default"):
        horizontal.add_column(path, "big", "INTEGER", 10**30)
