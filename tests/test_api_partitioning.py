"""Issue 18: every public callable of scalekit.partitioning, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery and its rules: tests/_walk.py.

The data is small (20 airports, 60 flights) and every router lives in a fresh temporary
folder of its own, so a call that writes never meets another call's files.
"""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import tempfile

import _walk

PACKAGE = "scalekit.partitioning"

P = "scalekit.partitioning"


@functools.cache
def _ports():
    from scalekit import partitioning
    return partitioning.airports(20, seed=1)


@functools.cache
def _flights():
    from scalekit import partitioning
    return partitioning.flights(60, _ports(), seed=1)


def _pair() -> dict:
    return {"fl": _flights(), "ports": _ports()}


def _folder() -> str:
    return tempfile.mkdtemp(prefix="walk-", dir=".")


@functools.cache
def _rows() -> tuple:
    from scalekit import partitioning
    return tuple(partitioning.flight_rows(_flights(), _ports()))


@functools.cache
def _filled_folder() -> str:
    """A 3-shard directory holding the 60 flights, made once."""
    from scalekit import partitioning
    with partitioning.ShardRouter(_folder(), 3) as router:
        router.insert_many(list(_rows()))
    return str(router.directory)


def _sharded_folder() -> str:
    """A fresh copy of that directory (copied: much faster than filling a new one)."""
    copy = f"{_folder()}/shards"
    shutil.copytree(_filled_folder(), copy)
    return copy


def _router():
    """A fresh 3-shard router holding the 60 flights, on a copy of its own."""
    from scalekit import partitioning
    return partitioning.ShardRouter(_sharded_folder())


def _wide_db() -> str:
    from scalekit import partitioning
    path = f"{_folder()}/wide.sqlite3"
    partitioning.load_flights(path, _flights(), _ports())
    return path


def _partitioned_db() -> str:
    from scalekit import partitioning
    path = f"{_folder()}/parts.sqlite3"
    partitioning.load_partitioned(path, _flights(), _ports())
    return path


class _FreshPartitions(os.PathLike):
    """A path that names a freshly loaded partitioned file each time it is read, so that
    every call of add_column (which changes the schema) starts from the same file."""

    def __fspath__(self) -> str:
        return _partitioned_db()


def _conn() -> sqlite3.Connection:
    return sqlite3.connect(_wide_db())


def _origin() -> str:
    return _rows()[0]["origin"]


def _rule():
    from scalekit import partitioning
    return partitioning.ModuloHash(3)


def _keys() -> list:
    return [r["origin"] for r in _rows()]


RESHARD = {"op": "reshard", "target": 4}

EXAMPLES = {
    f"{P}.data.hub_weights": lambda: {"n": 20, "skew": 1.0},
    f"{P}.data.flights": lambda: {"n": 60, "ports": _ports()},
    f"{P}.data.flight_rows": _pair,
    f"{P}.data.check_pair": _pair,
    f"{P}.data.flight_tuples": lambda: {**_pair(), "layout": "wide", "lo": 0, "hi": 10},
    f"{P}.data.database_path": lambda: {"path": "x.sqlite3"},
    f"{P}.data.load_flights": lambda: {"path": f"{_folder()}/f.sqlite3", **_pair()},
    f"{P}.vertical.compare_layouts": lambda: {**_pair(), "repeats": 1},
    f"{P}.vertical.query_plan": lambda: {"db": _conn(), "sql": "SELECT * FROM flights"},
    f"{P}.vertical.time_query": lambda: {"db": _conn(), "sql": "SELECT * FROM flights",
                                         "params": (), "repeats": 1},
    f"{P}.horizontal.load_partitioned": lambda: {"path": f"{_folder()}/p.sqlite3",
                                                 **_pair()},
    f"{P}.horizontal.compare_partitioning": lambda: {**_pair(), "repeats": 1},
    f"{P}.horizontal.add_column": lambda: {"path": _FreshPartitions(), "name": "gate",
                                           "sql_type": "TEXT"},
    f"{P}.horizontal.FlightRouter.tables_for": lambda: {"domestic": True},
    f"{P}.shards.strategy": lambda: {"name": "modulo", "n": 3},
    f"{P}.shards.from_spec": lambda: {"spec": {"name": "modulo", "n": 3}},
    f"{P}.shards.key_hashes": lambda: {"keys": ["AAA", "BBB"]},
    f"{P}.shards.shard_load": lambda: {"rule": _rule(), "keys": _keys()},
    f"{P}.shards.RangeShards": lambda: {"n": 3, "boundaries": ["H", "P"]},
    f"{P}.shards.Strategy.resized": lambda: {"n": 4},
    f"{P}.shards.Strategy.shards_for": lambda: {"keys": ["AAA", "BBB"]},
    f"{P}.shards.ModuloHash.shard_for": lambda: {"key": "AAA"},
    f"{P}.shards.ModuloHash.shards_for": lambda: {"keys": ["AAA", "BBB"]},
    f"{P}.shards.JumpHash.shard_for": lambda: {"key": "AAA"},
    f"{P}.shards.JumpHash.shards_for": lambda: {"keys": ["AAA", "BBB"]},
    f"{P}.shards.ConsistentHash.shard_for": lambda: {"key": "AAA"},
    f"{P}.shards.ConsistentHash.shards_for": lambda: {"keys": ["AAA", "BBB"]},
    f"{P}.shards.ConsistentHash.resized": lambda: {"n": 4},
    f"{P}.shards.RangeShards.shard_for": lambda: {"key": "AAA"},
    f"{P}.shards.DirectoryShards.assign": lambda: {"key": "AAA", "shard": 1},
    f"{P}.shards.DirectoryShards.shard_for": lambda: {"key": "AAA"},
    f"{P}.shards.DirectoryShards.resized": lambda: {"n": 4},
    f"{P}.growth.strategy_for_keys": lambda: {"name": "modulo", "n": 3},
    f"{P}.growth.add_shard": lambda: {"rule": _rule()},
    f"{P}.growth.expected_moved": lambda: {"name": "modulo", "n": 3},
    f"{P}.growth.effective_keys": lambda: {"keys": _keys()},
    f"{P}.growth.shard_growth": lambda: {"name": "modulo", "n": 3, "keys": _keys()},
    f"{P}.growth.resharding_curve": lambda: {"name": "modulo", "keys": _keys(),
                                             "max_shards": 4},
    f"{P}.growth.origin_keys": lambda: {"rows": 200},
    f"{P}.layout.read_layout": lambda: {"directory": _sharded_folder()},
    f"{P}.layout.Layout": lambda: {"strategy": {"name": "modulo", "n": 3},
                                   "shard_key": "origin"},
    f"{P}.layout.write_layout": lambda: {"directory": _folder(), "layout": _layout()},
    f"{P}.queries.quoted_column": lambda: {"name": "origin"},
    f"{P}.queries.measure_query_costs": lambda: {"router": _router(), "key": _origin(),
                                                 "repeats": 1},
    f"{P}.sharding.ShardRouter": lambda: {"directory": _folder(), "n_shards": 3},
    f"{P}.sharding.ShardRouter.path": lambda: {"shard": 0},
    f"{P}.sharding.ShardRouter.insert_many": lambda: {"rows": [_new_row()]},
    f"{P}.sharding.ShardRouter.reshard": lambda: {"target": 4},
    f"{P}.queries.ShardReader.get": lambda: {"key": _origin()},
    f"{P}.queries.ShardReader.query_by_key": lambda: {"key": _origin()},
    f"{P}.queries.ShardReader.aggregate": lambda: {"func": "count"},
    f"{P}.queries.ShardReader.join_onward": lambda: {"origin": _origin()},
    f"{P}.queries.ShardReader.query_plan": lambda: {"shard": 0,
                                                    "sql": "SELECT * FROM flights"},
    f"{P}.twophase.holder_lock": lambda: {"path": _wide_db()},
    f"{P}.faults.census": lambda: {"directory": _sharded_folder()},
    f"{P}.faults.operation_steps": lambda: {"directory": _sharded_folder(),
                                            "operation": RESHARD},
}


def _layout():
    from scalekit.partitioning import Layout
    return Layout({"name": "modulo", "n": 3}, "origin")


def _new_row() -> dict:
    return {**_rows()[0], "id": 10_000}


def _directory():
    from scalekit import partitioning
    return partitioning.DirectoryShards(3)


def _router_reader():
    """The read-only methods open one shared, filled directory (opening reads its layout;
    nothing they do writes), which is much faster than filling a new one per call."""
    from scalekit import partitioning
    return partitioning.ShardRouter(_filled_folder())


INSTANCES = {
    f"{P}.horizontal.FlightRouter": lambda: _flight_router(),
    f"{P}.sharding.ShardRouter": _router,
    f"{P}.queries.ShardReader": _router_reader,
    f"{P}.shards.Strategy": _rule,
    f"{P}.shards.ModuloHash": _rule,
    f"{P}.shards.JumpHash": lambda: _by("JumpHash", 3),
    f"{P}.shards.ConsistentHash": lambda: _by("ConsistentHash", 3),
    f"{P}.shards.RangeShards": lambda: _by("RangeShards", 3, ["H", "P"]),
    f"{P}.shards.DirectoryShards": _directory,
}


def _by(name, *args):
    from scalekit.partitioning import shards
    return getattr(shards, name)(*args)


def _flight_router():
    from scalekit import partitioning
    return partitioning.FlightRouter()


NONE_SEED = {"None": "seed=None asks for fresh entropy from the operating system (numpy's "
                     "default_rng(None)), documented"}
A_FILE = {"string": "a file path: SQLite writes the database there (the walk runs in a "
                    "scratch folder)"}
ANY_KEY = {"string": "any str is a shard key (one no row has: no rows, or a shard for it)",
           "negative": "any int is a shard key (ids are ints)"}
NO_CONDITIONS = {"empty list": "no conditions: every row (documented)",
                 "empty dict": "no conditions: every row (documented)"}

ACCEPTED = {
    (f"{P}.data.airports", "seed"): NONE_SEED,
    (f"{P}.data.flights", "seed"): NONE_SEED,
    (f"{P}.data.database_path", "path"): A_FILE,
    (f"{P}.data.load_flights", "path"): A_FILE,
    (f"{P}.horizontal.load_partitioned", "path"): A_FILE,
    (f"{P}.horizontal.FlightRouter.tables_for", "domestic"): {
        "None": "None: the query does not say, so both partitions (documented)"},
    (f"{P}.horizontal.FlightRouter.query", "where"): {
        "empty dict": "no conditions: every flight"},
    (f"{P}.horizontal.FlightRouter.single_table_query", "where"): {
        "empty dict": "no conditions: every flight"},
    (f"{P}.horizontal.FlightRouter.query", "order_by"): {
        "None": "None: unsorted (documented)"},
    (f"{P}.horizontal.FlightRouter.single_table_query", "order_by"): {
        "None": "None: unsorted (documented)"},
    (f"{P}.horizontal.add_column", "default"): {
        "None": "None: the new column is NULL on every row (documented)",
        "string": "any text is a TEXT column's default"},
    (f"{P}.horizontal.add_column", "name"): {
        "string": "'bogus' is a valid new column name"},
    (f"{P}.queries.ShardReader.get", "key"): ANY_KEY,
    (f"{P}.queries.ShardReader.query_by_key", "key"): ANY_KEY,
    (f"{P}.queries.ShardReader.query_by_key", "where"): NO_CONDITIONS,
    (f"{P}.queries.ShardReader.scatter_gather", "where"): NO_CONDITIONS,
    (f"{P}.queries.ShardReader.aggregate", "where"): NO_CONDITIONS,
    (f"{P}.queries.ShardReader.join_onward", "where"): NO_CONDITIONS,
    (f"{P}.queries.ShardReader.join_onward", "origin"): {
        "string": "any airport code (one no flight leaves: no pairs)"},
    (f"{P}.queries.measure_query_costs", "key"): ANY_KEY,
    **{(f"{P}.shards.{cls}.shard_for", "key"): ANY_KEY
       for cls in ("Strategy", "ModuloHash", "JumpHash", "ConsistentHash", "DirectoryShards")},
    (f"{P}.shards.DirectoryShards.assign", "key"): ANY_KEY,
    (f"{P}.shards.RangeShards.shard_for", "key"): {
        "string": "any str is a key of a string-bounded range"},
    (f"{P}.twophase.holder_lock", "path"): {
        "string": "an existing file (the walk's load_flights(path='bogus') wrote it): what "
                  "it takes"},
    (f"{P}.shards.key_hashes", "keys"): {"empty list": "no keys: an empty array"},
    **{(f"{P}.shards.{cls}.shards_for", "keys"): {"empty list": "no keys: an empty array"}
       for cls in ("Strategy", "ModuloHash", "JumpHash", "ConsistentHash")},
    (f"{P}.shards.DirectoryShards", "table"): {
        "empty dict": "an empty directory: every key placed by the rule as it comes"},
    (f"{P}.queries.ShardReader.query_plan", "params"): {
        "empty list": "no bound parameters (the SQL has none)"},
    **{(f"{P}.vertical.{fn}", "params"): {
        "empty list": "no bound parameters (the SQL has none)",
        "empty dict": "no named parameters (the SQL has none)"}
       for fn in ("query_plan", "time_query")},
    (f"{P}.shards.shard_load", "keys"): {"empty list": "no keys: every shard's load is 0"},
    (f"{P}.sharding.ShardRouter.insert_many", "rows"): {
        "empty list": "no rows: nothing to insert, returns 0 (documented)"},
}

SKIP = {
    f"{P}.data.Airports": "a result dataclass built only by airports()",
    f"{P}.data.Flights": "a result dataclass built only by flights()",
    f"{P}.data.LoadResult": "a result dataclass built only by load_flights",
    f"{P}.data.PartitionError": "an exception the models raise, not a call",
    f"{P}.faults.DiskCensus": "a result dataclass built only by census",
    f"{P}.faults.Crash": "a result dataclass built only by crash",
    f"{P}.faults.CrashMatrix": "a result dataclass built only by crash_matrix",
    f"{P}.growth.ShardGrowth": "a result dataclass built only by shard_growth",
    f"{P}.growth.ReshardingCurve": "a result dataclass built only by resharding_curve",
    f"{P}.horizontal.HorizontalResult": "a result dataclass built only by "
                                        "compare_partitioning",
    f"{P}.horizontal.PartitionLoad": "a result dataclass built only by load_partitioned",
    f"{P}.queries.QueryCost": "a result dataclass built only by measure_query_costs",
    f"{P}.sharding.ReshardReport": "a result dataclass built only by ShardRouter.reshard",
    f"{P}.sharding.InjectedFailure": "an exception the fault seam raises, not a call",
    f"{P}.twophase.ShardLockedError": "an exception the models raise, not a call",
    f"{P}.twophase.Recovery": "a result dataclass built only by recovery on open",
    f"{P}.vertical.VerticalResult": "a result dataclass built only by compare_layouts",
    f"{P}.postgres.PrunedQuery": "a result dataclass built only by a real-PostgreSQL run",
    f"{P}.postgres.PartitioningComparison": "a result dataclass built only by a "
                                            "real-PostgreSQL run",
}


def test_walk_api():
    _walk.assert_clean(__file__)

SKIP |= {
    f"{P}.shards.RangeShards.resized": "always refuses, naming n (a range cannot guess new "
                                       "boundaries: documented); tested in "
                                       "test_partitioning_shards",
    f"{P}.data.write_transaction": "a context manager: a call runs nothing until its `with` "
                                   "block; its callers (load_flights, load_partitioned, "
                                   "add_column) check their arguments first and are walked",
    f"{P}.twophase.ShardFiles": "the router's two-phase commit over its files, built only by "
                                "ShardRouter from checked settings; walked through "
                                "ShardRouter's methods",
}
SKIP |= {f"{P}.twophase.ShardFiles.{m}": "a method of ShardFiles (above)" for m in (
    "path", "open", "drop", "step", "locked", "commit", "stage_rows", "stage_deletes")}

# Calls whose valid run starts real processes: walked in this process with the start
# patched to raise _walk.Started (each bad value must be refused before it).
SKIP |= {
    **{f"{P}.faults.{fn}": "runs child processes (seconds): walked before the start, "
                           "test_crashes_refuse_before_any_child"
       for fn in ("crash", "crash_every_step", "crash_matrix")},
    f"{P}.postgres.compare_partitioning": "starts a PostgreSQL server: walked before the "
                                          "start, test_postgres_refuses_before_any_server",
}


def test_crashes_refuse_before_any_child(monkeypatch, tmp_path):
    from scalekit.partitioning import ShardRouter, faults, flight_rows

    def child(*args, **kwargs):
        raise _walk.Started("a child process would start here")
    monkeypatch.setattr(faults, "_child", child)
    with ShardRouter(tmp_path / "shards", 3) as router:
        router.insert_many(flight_rows(_flights(), _ports()))
    (tmp_path / "out").mkdir()
    base = {"directory": str(tmp_path / "shards"), "operation": RESHARD}
    walks = {"crash_matrix": base, "crash": {**base, "step": 0},
             "crash_every_step": {**base, "out": str(tmp_path / "out")}}
    for name, kwargs in walks.items():
        calls, findings = _walk.walk_before_start(f"{P}.faults.{name}",
                                                  getattr(faults, name), kwargs)
        assert calls == 8 * len(kwargs) and not findings, "\n".join(findings)


def test_postgres_refuses_before_any_server(monkeypatch):
    from scalekit.engines import PostgresCluster
    from scalekit.partitioning import postgres

    def start(self, *args, **kwargs):
        raise _walk.Started("a PostgreSQL server would start here")
    monkeypatch.setattr(PostgresCluster, "start", start)
    calls, findings = _walk.walk_before_start(
        f"{P}.postgres.compare_partitioning", postgres.compare_partitioning,
        {"n_flights": 100}, {(f"{P}.postgres.compare_partitioning", "seed"): NONE_SEED})
    assert calls == 32 and not findings, "\n".join(findings)  # 4 parameters × 8 bad values


def test_a_refused_write_leaves_every_file_as_it_was(monkeypatch, tmp_path):
    """Every writer of the package, given each bad value: refused, and every database file,
    layout and shard byte for byte as before (issue 18)."""
    from scalekit import partitioning
    from scalekit.partitioning import horizontal, layout
    monkeypatch.chdir(tmp_path)
    fl, ports = _flights(), _ports()
    (tmp_path / "db").mkdir()
    wide, parts = tmp_path / "db" / "wide.sqlite3", tmp_path / "db" / "parts.sqlite3"
    partitioning.load_flights(wide, fl, ports)
    partitioning.load_partitioned(parts, fl, ports)
    router = partitioning.ShardRouter(tmp_path / "shards", 3)
    router.insert_many(list(_rows()))
    writers = [
        ("data.load_flights", partitioning.load_flights,
         {"path": wide, "fl": fl, "ports": ports}, tmp_path / "db"),
        ("horizontal.load_partitioned", partitioning.load_partitioned,
         {"path": parts, "fl": fl, "ports": ports}, tmp_path / "db"),
        ("horizontal.add_column", horizontal.add_column,
         {"path": parts, "name": "gate", "sql_type": "TEXT", "default": "A1"},
         tmp_path / "db"),
        ("sharding.ShardRouter.insert_many", router.insert_many,
         {"rows": [_new_row()]}, tmp_path / "shards"),
        ("sharding.ShardRouter.reshard", router.reshard, {"target": 4}, tmp_path / "shards"),
        ("layout.write_layout", layout.write_layout,
         {"directory": tmp_path / "shards", "layout": router.layout}, tmp_path / "shards"),
    ]
    problems, checked = [], 0
    try:
        for name, call, kwargs, folder in writers:
            n, findings = _walk.walk_writer(f"{P}.{name}", call, kwargs, folder)
            checked += n
            problems += findings
    finally:
        router.close()
    assert not problems, "\n".join(problems)
    assert checked >= 150, checked  # most bad values are refused; each refusal checked


def test_numbers_answer_or_name_the_parameter_for_any_number():
    """Hypothesis on top of the table: any int of any size or any float (NaN, infinities)
    for the numeric parameters of the weights, the theory and the strategies."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scalekit.partitioning import data, growth, shards

    numbers = st.one_of(st.integers(min_value=-(10**20), max_value=10**20),
                        st.floats(allow_nan=True, allow_infinity=True))

    def answers_or_names(call, **kwargs):
        try:
            result = call(**kwargs)
        except (TypeError, ValueError) as exc:
            assert any(_walk.names(str(exc), p) for p in kwargs), (kwargs, str(exc))
            return
        if isinstance(result, float):
            assert result == result, f"{kwargs} gave NaN"

    @settings(max_examples=60, deadline=None, database=None)
    @given(a=numbers, b=numbers, which=st.integers(0, 2))
    def check(a, b, which):
        if which == 0:  # valid sizes up to the stated maximum allocate: keep those small
            n = a % 1000 if isinstance(a, int) and 1000 < a <= data.MAX_WEIGHTS else a
            answers_or_names(data.hub_weights, n=n, skew=b)
        elif which == 1:
            answers_or_names(growth.expected_moved, name="consistent", n=a)
        else:
            small = isinstance(a, int) and 1 <= a <= 10_000  # a valid ring: keep it small
            few = isinstance(b, int) and 1 <= b <= 10_000
            answers_or_names(shards.ConsistentHash, n=1 + a % 8 if small else a,
                             vnodes=1 + b % 50 if few else b)
    check()
