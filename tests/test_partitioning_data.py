"""The airline data set and its loading into real SQLite (scalekit.partitioning.data).

Sources: the Zipf law for hub traffic (an airport of rank r departs with probability
r**-s / H_{n,s}); the binomial standard error sqrt(p(1-p)/n) of an observed share; SQLite's
transactions (https://sqlite.org/lang_transaction.html): a ROLLBACK restores the file as it
was before BEGIN, DDL included. Z = 4 standard errors (tests/_stats.py).
"""

import math
import sqlite3

import numpy as np
import pytest

from scalekit import partitioning
from scalekit.partitioning import data

from _stats import Z

N = 20_000


@pytest.fixture(scope="module")
def ports():
    return data.airports(100, seed=3)


@pytest.fixture(scope="module")
def fl(ports):
    return data.flights(N, ports, seed=3)


COLUMNS = ("id", "origin", "destination", "airline", "departs_at", "duration_min", "domestic")


def test_same_seed_gives_identical_data(ports, fl):
    again_ports = data.airports(100, seed=3)
    again = data.flights(N, again_ports, seed=3)
    for name in ("code", "city", "country", "lat", "lon"):
        assert np.array_equal(getattr(ports, name), getattr(again_ports, name))
    for name in COLUMNS:
        assert np.array_equal(getattr(fl, name), getattr(again, name))


def test_different_seeds_differ(ports, fl):
    assert not np.array_equal(data.airports(100, seed=4).code, ports.code)
    other = data.flights(N, ports, seed=4)
    assert not np.array_equal(other.origin, fl.origin)
    assert not np.array_equal(other.departs_at, fl.departs_at)


def test_codes_and_cities_unique_and_several_countries(ports):
    assert len(set(ports.code.tolist())) == ports.count
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in ports.code.tolist())
    assert len(set(ports.city.tolist())) == ports.count
    assert ports.countries >= 5


def test_ids_unique_and_no_self_flights(fl):
    assert np.array_equal(fl.id, np.arange(1, N + 1))
    assert not np.any(fl.origin == fl.destination)


def test_domestic_flag_is_same_country_for_every_row(ports, fl):
    assert np.array_equal(fl.domestic, ports.country[fl.origin] == ports.country[fl.destination])
    assert 0.2 < fl.domestic.mean() < 0.95  # both kinds occur


def test_columns_in_range(fl):
    assert set(fl.airline.tolist()) <= set(data.AIRLINES)
    assert fl.departs_at.min() >= data.YEAR_START_AT
    assert fl.departs_at.max() < data.YEAR_START_AT + 366 * 86_400
    assert fl.duration_min.min() >= 20
    hours = (fl.departs_at - data.YEAR_START_AT) % 86_400 // 3_600
    assert np.mean(hours == 8) > 3 * np.mean(hours == 3)  # morning peak, quiet night


@pytest.mark.parametrize("skew", [0.0, 0.6, 1.0, 1.4])
def test_top_hub_share_matches_zipf_weight(ports, skew):
    """Origin 0's share of departures is binomial with p = 1/H_{n,s}."""
    fl = data.flights(N, ports, seed=11, skew=skew)
    p = 1.0 / sum(r ** -skew for r in range(1, ports.count + 1))
    assert data.hub_weights(ports.count, skew)[0] == pytest.approx(p)
    share = np.mean(fl.origin == 0)
    se = math.sqrt(p * (1 - p) / N)
    assert abs(share - p) <= Z * se, (share, p, se)


def test_top_hub_share_grows_with_skew(ports):
    shares = [np.mean(data.flights(N, ports, seed=5, skew=s).origin == 0)
              for s in (0.0, 0.5, 1.0, 1.5)]
    assert all(a < b for a, b in zip(shares, shares[1:], strict=False)), shares


def test_default_size_generates(ports):
    fl = data.flights(ports=ports)
    assert fl.count == len(fl.id) == 300_000


# --------------------------------------------------------------------------- loading


def _count(path, table):
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


@pytest.mark.parametrize("layout", data.LAYOUTS)
def test_load_counts_and_progress(tmp_path, ports, fl, layout):
    calls = []
    path = tmp_path / f"{layout}.sqlite3"
    res = data.load_flights(path, fl, ports, layout=layout,
                            progress=lambda done, total: calls.append((done, total)))
    assert _count(path, "flights") == N == res.rows
    if layout == "normalized":
        assert _count(path, "locations") == ports.count == res.locations
    assert calls == [(N, N)]  # one batch of 50,000 rows or fewer
    assert res.seconds > 0 and res.rows_per_s > 0
    assert res.file_bytes == path.stat().st_size > 0
    # the notebook shows a short summary (issue 19 §5); the temporary path only on request
    page = res._repr_html_()
    assert f"{N:,} flights" in page and str(path) not in page and "MB" in page
    assert str(path) in repr(res.table())


def test_progress_every_50k_rows(tmp_path, ports):
    fl = data.flights(120_000, ports, seed=1)
    calls = []
    data.load_flights(tmp_path / "f.sqlite3", fl, ports,
                      progress=lambda done, total: calls.append((done, total)))
    assert calls == [(50_000, 120_000), (100_000, 120_000), (120_000, 120_000)]


def test_normalized_join_returns_the_wide_rows(tmp_path, ports, fl):
    wide, norm = tmp_path / "w.sqlite3", tmp_path / "n.sqlite3"
    data.load_flights(wide, fl, ports, layout="wide")
    data.load_flights(norm, fl, ports, layout="normalized")
    with sqlite3.connect(wide) as w, sqlite3.connect(norm) as n:
        a = w.execute("SELECT * FROM flights ORDER BY id").fetchall()
        b = n.execute("SELECT f.id, o.code, o.city, o.country, d.code, d.city, d.country, "
                      "f.airline, f.departs_at, f.duration_min, f.domestic FROM flights f "
                      "JOIN locations o ON o.id = f.origin_id "
                      "JOIN locations d ON d.id = f.destination_id ORDER BY f.id").fetchall()
        assert n.execute("PRAGMA foreign_key_check").fetchall() == []
    assert a == b and len(a) == N
    row = a[123]
    i = 123
    assert row == (i + 1, ports.code[fl.origin[i]], ports.city[fl.origin[i]],
                   ports.country[fl.origin[i]], ports.code[fl.destination[i]],
                   ports.city[fl.destination[i]], ports.country[fl.destination[i]],
                   fl.airline[i], int(fl.departs_at[i]), int(fl.duration_min[i]),
                   int(fl.domestic[i]))


class Boom(Exception):
    pass


def _explode(done, total):
    raise Boom


@pytest.mark.parametrize("layout", data.LAYOUTS)
def test_failure_mid_load_leaves_existing_file_as_it_was(tmp_path, ports, fl, layout):
    path = tmp_path / "f.sqlite3"
    small = data.flights(500, ports, seed=9)
    data.load_flights(path, small, ports, layout="wide")
    before = path.read_bytes()
    big = data.flights(120_000, ports, seed=9)
    with pytest.raises(Boom):
        data.load_flights(path, big, ports, layout=layout, progress=_explode)
    assert path.read_bytes() == before
    assert _count(path, "flights") == 500


def test_failure_mid_load_leaves_no_new_file(tmp_path, ports, fl):
    path = tmp_path / "new.sqlite3"
    with pytest.raises(Boom):
        data.load_flights(path, fl, ports, progress=_explode)
    assert not path.exists()


def test_sqlite_error_is_ours_with_cause(tmp_path, ports, fl):
    path = tmp_path / "locked.sqlite3"
    data.load_flights(path, fl, ports)
    before = path.read_bytes()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA busy_timeout=0")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(data.PartitionError) as info:
            data.load_flights(path, fl, ports, layout="normalized")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert path.read_bytes() == before


@pytest.mark.parametrize("call, exc, name", [
    (lambda p, f: data.airports(1), ValueError, "n"),
    (lambda p, f: data.airports(2.5), TypeError, "n"),
    (lambda p, f: data.flights(0, p), ValueError, "n"),
    (lambda p, f: data.flights(10, p, skew=-0.1), ValueError, "skew"),
    (lambda p, f: data.flights(10, p, skew=float("nan")), ValueError, "skew"),
    (lambda p, f: data.flights(10, p, seed=-1), ValueError, "seed"),
    (lambda p, f: data.flights(10, "airports"), TypeError, "ports"),
    (lambda p, f: data.hub_weights(0, 1.0), ValueError, "n"),
    (lambda p, f: data.load_flights("x.db", f, p, layout="tall"), ValueError, "layout"),
    (lambda p, f: data.load_flights("/no/such/dir/x.db", f, p), ValueError, "path"),
    (lambda p, f: data.load_flights(3, f, p), TypeError, "path"),
    (lambda p, f: data.load_flights("x.db", f, p, progress=5), TypeError, "progress"),
    (lambda p, f: data.load_flights("x.db", p, p), TypeError, "flights"),
    (lambda p, f: data.load_flights("x.db", f, data.airports(10)), ValueError, "airports"),
])
def test_bad_input_names_the_parameter(ports, fl, call, exc, name):
    with pytest.raises(exc, match=rf"\b{name}\b"):
        call(ports, fl)


def test_reexported():
    assert partitioning.load_flights is data.load_flights
    assert set(partitioning.__all__) <= set(dir(partitioning))


def test_flight_rows_are_the_flights_in_the_router_s_columns():
    ports = data.airports(50, seed=2)
    fl = data.flights(500, ports, seed=2)
    rows = data.flight_rows(fl, ports)
    assert len(rows) == 500 and rows[0]["id"] == 1
    for j in (0, 123, 499):
        r = rows[j]
        assert r["origin"] == ports.code[fl.origin[j]] != r["destination"]
        assert r["domestic"] == int(fl.domestic[j]) and r["airline"] == fl.airline[j]
    with pytest.raises((TypeError, ValueError)):
        data.flight_rows("flights", ports)
