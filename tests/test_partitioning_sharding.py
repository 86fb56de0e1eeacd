"""Sharding on real SQLite files: strategies, the router, resharding, failures, hot spots."""

from __future__ import annotations

import math
import os
import sqlite3
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalekit.hashing import jump_hash, key_hash
from scalekit.partitioning.sharding import (
    COLUMNS,
    ConsistentHash,
    DirectoryShards,
    InjectedFailure,
    JumpHash,
    ModuloHash,
    RangeShards,
    ShardRouter,
    measure_query_costs,
    shard_load,
    strategy,
)

Z = 4.0  # standard errors allowed: a correct model fails about 1 run in 16,000
# the property test's many small directories on tmpfs when there is one: it checks routing,
# not durability, and a durable commit costs ~20 ms of fsync on a disk
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
AIRLINES = ("AA", "BA", "LH", "AF")


def make_rows(keys, *, start_id: int = 1, seed: int = 0) -> list[dict]:
    """One flight per key (the key is its origin), destinations drawn among the keys."""
    rng = np.random.default_rng(seed)
    keys = list(keys)
    pool = sorted(set(keys))
    return [{"id": start_id + i, "origin": k, "destination": pool[rng.integers(len(pool))],
             "airline": AIRLINES[rng.integers(4)], "departs_at": float(rng.integers(10**6)),
             "duration_min": int(rng.integers(30, 600)), "domestic": int(rng.integers(2))}
            for i, k in enumerate(keys)]


def oracle(rows) -> sqlite3.Connection:
    """The same rows in one un-sharded SQLite table."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE flights(" + ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
               + ")")
    db.executemany(f"INSERT INTO flights VALUES ({', '.join('?' * len(COLUMNS))})",
                   [tuple(r[c] for c in COLUMNS) for r in rows])
    return db


def unique_keys(m: int) -> list[str]:
    return [f"K{i:05d}" for i in range(m)]


# --------------------------------------------------------------------------- strategies

FACTORIES = {
    "modulo": lambda n: ModuloHash(n),
    "consistent": lambda n: ConsistentHash(n, vnodes=64),
    "jump": lambda n: JumpHash(n),
    "directory": lambda n: DirectoryShards(n),
    "range": lambda n: RangeShards(n, [f"K{i:05d}" for i in range(1, n)]),
}


class TestStrategyContract:
    @pytest.fixture(params=sorted(FACTORIES))
    def make(self, request):
        return FACTORIES[request.param]

    @pytest.mark.parametrize("n", [1, 3, 12])
    def test_shard_in_range_and_stable(self, make, n):
        rule = make(n)
        keys = unique_keys(300)
        first = [rule.shard_for(k) for k in keys]
        assert all(0 <= s < n for s in first)
        assert first == [rule.shard_for(k) for k in keys]

    @settings(max_examples=30, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # a pure factory
    @given(keys=st.lists(st.one_of(st.integers(0, 2**40), st.text(min_size=1, max_size=6)),
                         max_size=60), n=st.integers(1, 40))
    def test_bulk_placement_is_one_by_one_placement(self, make, keys, n):
        rule = make(n)
        if isinstance(rule, RangeShards):
            keys = [str(k) for k in keys]
        one_by_one = make(n)  # a directory places keys as it meets them: one rule each
        assert list(rule.shards_for(keys)) == [one_by_one.shard_for(k) for k in keys]

    def test_factory_builds_each(self):
        assert isinstance(strategy("modulo", 3), ModuloHash)
        assert strategy("consistent", 3, vnodes=10).vnodes == 10
        assert strategy("range", 2, boundaries=[5]).shard_for(7) == 1


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 10_000])
def test_bulk_jump_hash_is_the_reference_on_extreme_hashes(n):
    """Lamping & Veach's loop, vectorised: the same buckets as the scalar reference
    (scalekit.hashing.jump_hash) over the whole 64-bit range."""
    rng = np.random.default_rng(n)
    hashes = np.concatenate([np.array([0, 1, 2**63, 2**64 - 1], dtype=np.uint64),
                             rng.integers(0, 2**64 - 1, 500, dtype=np.uint64, endpoint=True)])
    got = JumpHash(n).shards_for([None] * len(hashes), hashes)
    assert list(got) == [jump_hash(int(h), n) for h in hashes]


def test_modulo_is_key_hash_mod_n():
    assert all(ModuloHash(7).shard_for(k) == key_hash(k) % 7 for k in unique_keys(50))


def test_jump_is_jump_hash_of_key_hash():
    assert all(JumpHash(9).shard_for(k) == jump_hash(key_hash(k), 9) for k in unique_keys(50))


def test_range_numeric_and_string_keys():
    r = RangeShards(3, [10, 20])
    assert [r.shard_for(k) for k in (-5, 9.9, 10, 19, 20, 1e9)] == [0, 0, 1, 1, 2, 2]
    s = RangeShards(2, ["M"])
    assert [s.shard_for(k) for k in ("ATL", "LHR", "MAD", "ZRH")] == [0, 0, 1, 1]
    with pytest.raises(TypeError, match="compared"):
        r.shard_for("ATL")
    with pytest.raises(ValueError, match="increasing"):
        RangeShards(3, [20, 10])
    with pytest.raises(ValueError, match="2 boundaries"):
        RangeShards(3, [10])
    with pytest.raises(ValueError, match="new RangeShards"):
        r.resized(4)


def test_directory_places_new_keys_on_least_loaded():
    d = DirectoryShards(3, {"ATL": 0, "ORD": 0})
    assert [d.shard_for(k) for k in ("A", "B", "C")] == [1, 2, 1]
    assert d.shard_for("ATL") == 0
    assert d.resized(5).table == d.table


def test_shard_load_finds_the_hub():
    keys = ["HUB"] * 500 + unique_keys(100)
    rule = ModuloHash(4)
    load = shard_load(rule, keys)
    assert load.sum() == 600
    assert load[rule.shard_for("HUB")] >= 500
    assert load.max() == load[rule.shard_for("HUB")]


# --------------------------------------------------------------------------- bad input


def test_unknown_strategy_lists_options():
    with pytest.raises(ValueError, match="'modulo'.*'consistent'.*'jump'"):
        strategy("rendezvous", 3)


@pytest.mark.parametrize("n", [0, -1])
def test_n_below_one(n, tmp_path):
    with pytest.raises(ValueError, match=">= 1"):
        strategy("modulo", n)
    with pytest.raises(ValueError, match="n_shards"):
        ShardRouter(tmp_path, n)


def test_n_not_an_integer(tmp_path):
    with pytest.raises(TypeError):
        ShardRouter(tmp_path, 2.5)


def test_missing_shard_key_is_named(tmp_path):
    with ShardRouter(tmp_path, 3) as router:
        with pytest.raises(ValueError, match="'origin'"):
            router.insert_many([{"id": 1, "destination": "LHR"}])
        with pytest.raises(ValueError, match="'id'"):
            router.insert_many([{"origin": "LHR"}])
        with pytest.raises(ValueError, match="unknown column"):
            router.insert_many([{"id": 1, "origin": "A", "gate": 3}])
        assert router.counts() == (0, 0, 0)


def test_directory_that_cannot_be_opened(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="cannot open") as info:
        ShardRouter(blocker / "shards", 2)
    assert isinstance(info.value.__cause__, OSError)


def test_shard_file_that_is_not_a_database(tmp_path):
    (tmp_path / "shard-01.sqlite3").write_bytes(b"garbage " * 200)
    with pytest.raises(ValueError, match="shard-01") as info:
        ShardRouter(tmp_path, 2)
    assert isinstance(info.value.__cause__, sqlite3.Error)


@pytest.mark.parametrize("bad", ['id" FROM flights; DROP TABLE flights; --', "gate", "ID"])
def test_unknown_identifiers_are_refused(tmp_path, bad):
    with ShardRouter(tmp_path, 2) as router:
        router.insert_many(make_rows(unique_keys(10)))
        with pytest.raises(ValueError, match="unknown column"):
            router.scatter_gather([(bad, "=", 1)])
        with pytest.raises(ValueError, match="unknown column"):
            router.scatter_gather(columns=[bad])
        with pytest.raises(ValueError, match="unknown column"):
            router.aggregate("sum", bad)
        with pytest.raises(ValueError, match="unknown column"):
            ShardRouter(tmp_path / "x", 2, shard_key=bad)
        assert sum(router.counts()) == 10


def test_sql_text_and_bad_operators_are_refused(tmp_path):
    with ShardRouter(tmp_path, 2) as router:
        with pytest.raises(TypeError, match="not SQL text"):
            router.scatter_gather("origin = 'A'")
        with pytest.raises(ValueError, match="operator"):
            router.scatter_gather([("origin", "LIKE", "A%")])
        with pytest.raises(ValueError, match="aggregate"):
            router.aggregate("median", "id")


def test_values_are_bound_not_spliced(tmp_path):
    with ShardRouter(tmp_path, 2) as router:
        router.insert_many(make_rows(["x'); DROP TABLE flights; --", "B"]))
        assert len(router.get("x'); DROP TABLE flights; --")) == 1
        assert sum(router.counts()) == 2


# --------------------------------------------------------------------------- the router


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.lists(st.text(alphabet="ABCDE", min_size=1, max_size=3), min_size=1,
                     max_size=40),
       n=st.integers(1, 12), name=st.sampled_from(["modulo", "consistent", "jump",
                                                    "directory"]))
def test_every_row_on_exactly_one_shard_and_found(keys, n, name):
    rows = make_rows(keys)
    kw = {"vnodes": 16} if name == "consistent" else {}
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp, \
            ShardRouter(tmp, n, name, **kw) as router:
        router.insert_many(rows)
        assert sum(router.counts()) == len(rows)
        assert router.misplaced() == 0
        ids = [r[0] for r in router.scatter_gather(columns=["id"])]
        assert ids == sorted(r["id"] for r in rows)  # each id once, on one shard
        for key in set(keys):
            found = [r[0] for r in router.get(key)]
            assert found == [r["id"] for r in rows if r["origin"] == key]
            assert router.query_by_key(key, [("id", ">", 0)], columns=["id"]) == \
                [(i,) for i in found]


def test_more_than_ten_shards_without_attach(tmp_path):
    rows = make_rows(unique_keys(400))
    with ShardRouter(tmp_path, 13, "jump") as router:
        router.insert_many(rows)
        assert len(list(tmp_path.glob("shard-*.sqlite3"))) == 13
        assert sum(router.counts()) == 400 and min(router.counts()) > 0
        report = router.reshard(14)
        assert router.n_shards == 14 and sum(router.counts()) == 400
        assert report.moved_to[:13] == (0,) * 13
        assert router.misplaced() == 0


def test_duplicate_ids_are_refused(tmp_path):
    with ShardRouter(tmp_path, 3) as router:
        router.insert_many(make_rows(unique_keys(20)))
        before = router.snapshot()
        with pytest.raises(ValueError, match="already stored"):
            router.insert_many(make_rows(["NEW1", "NEW2"], start_id=20))
        with pytest.raises(ValueError, match="twice"):
            router.insert_many(make_rows(["NEW1"], start_id=100) * 2)
        assert router.snapshot() == before


@pytest.mark.parametrize("k", [0, 1, 37, 99])
def test_failure_mid_insert_changes_nothing(tmp_path, k):
    with ShardRouter(tmp_path, 5, "consistent") as router:
        router.insert_many(make_rows(unique_keys(60)))
        before = router.snapshot()
        with pytest.raises(InjectedFailure):
            router.insert_many(make_rows(unique_keys(100), start_id=1000), fail_after=k)
        assert router.snapshot() == before
        assert router.insert_many(make_rows(unique_keys(100), start_id=1000)) == 100


@pytest.mark.parametrize("name", ["modulo", "consistent", "jump"])
@pytest.mark.parametrize("k", [0, 1, 25])  # consistent and jump move ~60 of 300
def test_failure_mid_reshard_changes_nothing(tmp_path, name, k):
    with ShardRouter(tmp_path, 4, name) as router:
        router.insert_many(make_rows(unique_keys(300)))
        before, rule = router.snapshot(), router.strategy
        with pytest.raises(InjectedFailure):
            router.reshard(5, fail_after=k)
        assert router.snapshot() == before
        assert router.n_shards == 4 and router.strategy is rule
        assert not router.path(4).exists()
        assert router.misplaced() == 0


def test_reshard_keeps_every_row(tmp_path):
    rows = make_rows(unique_keys(300))
    with ShardRouter(tmp_path, 4, "modulo") as router:
        router.insert_many(rows)
        ids = sorted(r["id"] for r in rows)
        for target in (7, 2, ConsistentHash(3)):
            router.reshard(target)
            assert [r[0] for r in router.scatter_gather(columns=["id"])] == ids
            assert router.misplaced() == 0
        assert router.n_shards == 3
        assert sorted(p.name for p in tmp_path.glob("shard-*.sqlite3")) == \
            ["shard-00.sqlite3", "shard-01.sqlite3", "shard-02.sqlite3"]


def test_directory_reshard_moves_only_reassigned_keys(tmp_path):
    rows = make_rows(["HUB"] * 30 + unique_keys(30))
    with ShardRouter(tmp_path, 3, "directory") as router:
        router.insert_many(rows)
        grown = router.strategy.resized(4)
        assert router.reshard(grown).rows_moved == 0  # the table still says where keys live
        grown.assign("HUB", 3)
        report = router.reshard(grown)
        assert report.rows_moved == 30 and report.keys_moved == 1
        assert router.counts()[3] == 30


# --------------------------------------------------------------------------- fractions moved


def _moved_fraction(tmp_path, name, n, m=2000, **kw):
    with ShardRouter(tmp_path, n, name, **kw) as router:
        router.insert_many(make_rows(unique_keys(m)))
        report = router.reshard(n + 1)
        assert report.rows == m == report.keys  # each row counted once
        return report


@pytest.mark.parametrize("n", [4, 10])
def test_modulo_moves_n_over_n_plus_one(tmp_path, n):
    report = _moved_fraction(tmp_path, "modulo", n)
    p, m = n / (n + 1), report.rows
    assert abs(report.fraction_moved - p) <= Z * math.sqrt(p * (1 - p) / m)


@pytest.mark.parametrize("n", [4, 10])
def test_consistent_moves_about_one_over_n_plus_one(tmp_path, n):
    vnodes = 160
    report = _moved_fraction(tmp_path, "consistent", n, vnodes=vnodes)
    p, m = 1 / (n + 1), report.rows
    # the new shard's arc share varies with relative spread ≈ 1/√vnodes; sampling adds its SE
    tolerance = Z * math.sqrt((p / math.sqrt(vnodes)) ** 2 + p * (1 - p) / m)
    assert abs(report.fraction_moved - p) <= tolerance
    assert report.moved_to[:n] == (0,) * n  # every moved row went to the new shard
    assert report.fraction_moved < 0.5  # and far fewer than mod-N moves


@pytest.mark.parametrize("n", [4, 10])
def test_jump_moves_exactly_the_new_buckets_keys(tmp_path, n):
    keys = unique_keys(2000)
    report = _moved_fraction(tmp_path, "jump", n)
    expected = sum(jump_hash(key_hash(k), n + 1) == n for k in keys)
    assert report.rows_moved == expected == report.moved_to[n]
    assert report.moved_to[:n] == (0,) * n
    p = 1 / (n + 1)
    assert abs(report.fraction_moved - p) <= Z * math.sqrt(p * (1 - p) / len(keys))


# --------------------------------------------------------------------------- against an oracle


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    rng = np.random.default_rng(7)
    keys = [str(k) for k in rng.choice(["ATL", "ORD", "LHR", "CDG", "FRA", "AMS", "MAD",
                                        "DXB"], size=600, p=[.4] + [.6 / 7] * 7)]
    rows = make_rows(keys, seed=3)
    rows[5]["airline"] = None  # a NULL to merge and sort
    router = ShardRouter(tmp_path_factory.mktemp("shards"), 5, "consistent", vnodes=40)
    router.insert_many(rows)
    yield router, oracle(rows)
    router.close()


@pytest.mark.parametrize("where, sql", [
    ([], ""),
    ([("airline", "=", "BA")], "WHERE airline = 'BA'"),
    ({"destination": "LHR", "domestic": 1}, "WHERE destination = 'LHR' AND domestic = 1"),
    ([("duration_min", ">=", 300), ("departs_at", "<", 5e5)],
     "WHERE duration_min >= 300 AND departs_at < 500000"),
])
@pytest.mark.parametrize("order_by", ["id", "airline", "departs_at"])
def test_scatter_gather_matches_one_table(both, where, sql, order_by):
    router, db = both
    expected = db.execute(f"SELECT * FROM flights {sql} ORDER BY {order_by}, id").fetchall()
    assert router.scatter_gather(where, order_by=order_by) == expected


@pytest.mark.parametrize("func, col", [("count", None), ("count", "airline"), ("sum", "id"),
                                       ("min", "departs_at"), ("max", "airline"),
                                       ("avg", "duration_min")])
@pytest.mark.parametrize("group_by", [None, "origin", "airline"])
def test_aggregates_match_one_table(both, func, col, group_by):
    router, db = both
    arg = "*" if col is None else col
    if group_by:
        expected = db.execute(f"SELECT {group_by}, {func}({arg}) FROM flights WHERE id > 10 "
                              f"GROUP BY {group_by} ORDER BY {group_by}").fetchall()
        got = router.aggregate(func, col, [("id", ">", 10)], group_by=group_by)
        assert [g for g, _ in got] == [g for g, _ in expected]
        assert [v for _, v in got] == pytest.approx([v for _, v in expected])
    else:
        expected = db.execute(f"SELECT {func}({arg}) FROM flights WHERE id > 10").fetchone()
        assert router.aggregate(func, col, [("id", ">", 10)]) == pytest.approx(expected[0])


def test_aggregate_of_no_rows(both):
    router, _ = both
    assert router.aggregate("count", where=[("id", "<", 0)]) == 0
    assert router.aggregate("avg", "id", [("id", "<", 0)]) is None


@pytest.mark.parametrize("origin", ["ATL", "MAD", "nowhere"])
def test_join_in_router_matches_sql_join(both, origin):
    router, db = both
    expected = db.execute(
        "SELECT a.id, b.id FROM flights a JOIN flights b ON b.origin = a.destination "
        "WHERE a.origin = ? AND a.airline = 'LH' AND b.airline = 'LH' ORDER BY 1, 2",
        (origin,)).fetchall()
    assert router.join_onward(origin, [("airline", "=", "LH")]) == expected


def test_join_without_origin_shard_key(tmp_path):
    rows = make_rows(["A", "B", "C", "A", "B"] * 8)
    with ShardRouter(tmp_path, 3, "modulo", shard_key="id") as router:
        router.insert_many(rows)
        expected = oracle(rows).execute(
            "SELECT a.id, b.id FROM flights a JOIN flights b ON b.origin = a.destination "
            "WHERE a.origin = 'A' ORDER BY 1, 2").fetchall()
        assert router.join_onward("A") == expected


def test_hot_spot_counts(both):
    router, db = both
    keys = [k for (k,) in db.execute("SELECT origin FROM flights")]
    assert router.counts() == tuple(shard_load(router.strategy, keys))
    hub = router.strategy.shard_for("ATL")
    assert router.counts()[hub] == max(router.counts())


def test_measured_costs(both):
    router, _ = both
    costs = {c.kind: c for c in measure_query_costs(router, "MAD", repeats=3)}
    single, scatter = costs["single-shard"], costs["scatter-gather"]
    assert single.shards_touched == 1
    assert scatter.shards_touched == router.n_shards
    assert single.rows_returned == len(router.get("MAD"))
    assert scatter.rows_scanned == sum(router.counts())  # no index on destination: full scans
    assert single.rows_scanned == single.rows_returned  # answered from the origin index
    assert costs["cross-shard join"].shards_touched >= 1
    assert all(c.median_ms > 0 for c in costs.values())


def test_reopening_a_directory_with_other_settings_is_refused(tmp_path):
    """A router opened on shard files written with another shard count or strategy would
    miss rows (they sit where the new rule does not look) — and a failed reshard from it
    could delete a file full of rows. Refused, naming what the directory holds, and nothing
    is touched; ShardRouter(directory) opens it with its own layout."""
    rows = [{"id": i, "origin": f"K{i % 97}"} for i in range(1, 3001)]
    with ShardRouter(tmp_path, 3, "jump") as r:
        r.insert_many(rows)
        before = r.snapshot()
    for args, kw in [((2, "modulo"), {}), ((3, "modulo"), {}), ((3, "jump"), {"shard_key": "id"}),
                     ((3, ConsistentHash(3)), {})]:
        with pytest.raises(ValueError, match="written with jump over 3 shards"):
            ShardRouter(tmp_path, *args, **kw)
    with ShardRouter(tmp_path) as again:
        assert again.snapshot() == before and again.misplaced() == 0
        assert again.strategy.name == "jump" and again.n_shards == 3
    with ShardRouter(tmp_path, 3, "jump") as same:
        assert same.snapshot() == before


def test_directory_without_a_layout_is_checked_before_one_is_written(tmp_path):
    """Shard files from before layout files existed: opened with the settings they were
    written with they get a layout; with others, refused and left without one."""
    rows = [{"id": i, "origin": f"K{i % 97}"} for i in range(1, 601)]
    with ShardRouter(tmp_path, 3, "modulo") as r:
        r.insert_many(rows)
    (tmp_path / "layout.json").unlink()
    with pytest.raises(ValueError, match="beyond it"):
        ShardRouter(tmp_path, 2, "modulo")
    with pytest.raises(ValueError, match="do not belong"):
        ShardRouter(tmp_path, 3, "jump")
    assert not (tmp_path / "layout.json").exists()
    with pytest.raises(ValueError, match="n_shards is needed"):
        ShardRouter(tmp_path)
    with ShardRouter(tmp_path, 3, "modulo") as r:
        assert sum(r.counts()) == 600
    assert (tmp_path / "layout.json").exists()


def test_a_directory_strategy_reopens_with_its_table(tmp_path):
    """A directory strategy's table is state (keys placed as they arrive): it is stored in
    the layout with each write and comes back when the directory is reopened."""
    rows = make_rows(["HUB"] * 20 + unique_keys(40))
    with ShardRouter(tmp_path, 3, "directory") as r:
        r.insert_many(rows)
        table = dict(r.strategy.table)
    with ShardRouter(tmp_path) as again:
        assert again.strategy.table == table and again.misplaced() == 0
        for key in ("HUB", "K00007"):
            assert [x[0] for x in again.get(key)] == [x["id"] for x in rows if x["origin"] == key]


def test_busy_timeout_connect_and_on_step_are_checked(tmp_path):
    for bad, error in ((-1, ValueError), (float("nan"), ValueError), ("5", TypeError)):
        with pytest.raises(error, match="busy_timeout_s"):
            ShardRouter(tmp_path / "a", 2, busy_timeout_s=bad)
    with pytest.raises(TypeError, match="connect"):
        ShardRouter(tmp_path / "b", 2, connect="sqlite3")
    with pytest.raises(TypeError, match="on_step"):
        ShardRouter(tmp_path / "c", 2, on_step=5)
    with ShardRouter(tmp_path / "d", 2, busy_timeout_s=0.25) as r:
        assert r.busy_timeout_s == 0.25


def test_fail_after_and_real_shard_keys_are_checked(tmp_path):
    with ShardRouter(tmp_path / "a", 2, "modulo") as r:
        for bad in (-1, 1.5, "x"):
            with pytest.raises((ValueError, TypeError), match="fail_after"):
                r.insert_many([{"id": 1, "origin": "A"}], fail_after=bad)
            with pytest.raises((ValueError, TypeError), match="fail_after"):
                r.reshard(3, fail_after=bad)
    with pytest.raises(ValueError, match="range"):
        ShardRouter(tmp_path / "b", 3, "jump", shard_key="departs_at")


def test_where_and_ids_are_checked(tmp_path):
    with ShardRouter(tmp_path, 2, "modulo") as r:
        with pytest.raises(TypeError, match="where"):
            r.scatter_gather(5)
        with pytest.raises(ValueError, match="id"):
            r.insert_many([{"id": 2**70, "origin": "A"}])
        assert r.counts() == (0, 0)
