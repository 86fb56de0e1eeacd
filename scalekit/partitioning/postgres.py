"""The partitioning models beside real PostgreSQL declarative partitioning, on the course's
flights table.

The real mechanism (PostgreSQL documentation, §5.12 "Table Partitioning"). A partitioned
table is a parent with no rows of its own and partitions that hold them, chosen by a
partition key: ``LIST`` (named values: domestic or international), ``RANGE`` (intervals:
one partition per month of departures) or ``HASH`` (``MODULUS m REMAINDER r`` of the key's
hash: ids spread evenly). The planner *prunes*: a query whose ``WHERE`` pins the key reads
only the partitions that can hold matching rows, and ``EXPLAIN`` lists the ones it reads.

:func:`compare_partitioning` loads the same flights into all three layouts on a real server,
counts the partitions each query's plan reads beside what the kit's SQLite routers read —
:class:`~scalekit.partitioning.FlightRouter` (domestic/international tables),
:class:`~scalekit.partitioning.RangeShards` by month, :class:`~scalekit.partitioning.ModuloHash`
by id — and measures what moving from 4 to 5 hash partitions costs: PostgreSQL cannot change a
modulus in place, so the rows go to a new table, and every row whose partition number changes
moves (as mod-N hashing: about 4/5), against the consistent-hash ring's ≈ 1/(n+1) and jump
hash's exactly 1/(n+1), measured by resharding a real :class:`~scalekit.partitioning.ShardRouter`.
Without PostgreSQL it raises :class:`~scalekit.engines.EngineUnavailable` ("skipped: …").
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import json
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.engines import PostgresCluster
from scalekit.partitioning import (
    ConsistentHash,
    FlightRouter,
    JumpHash,
    ModuloHash,
    RangeShards,
    ShardRouter,
    airports,
    flight_rows,
    flights,
)

__all__ = ["QUERIES", "PartitioningComparison", "PrunedQuery", "compare_partitioning"]

YEAR = 2024
MONTHS = tuple(dt.datetime(YEAR, m, 1, tzinfo=dt.UTC) for m in range(1, 13))
#: The queries compared: name → (layout, SQL condition on the PostgreSQL table, what the
#: SQLite router is told). ``{s}`` is the schema; times are UTC.
QUERIES = {
    "domestic flights": ("list", "domestic", {"domestic": True}),
    "international flights": ("list", "NOT domestic", {"domestic": False}),
    "every flight (list)": ("list", "true", {}),
    "flights in March": ("range", "departs >= '2024-03-01Z' AND departs < '2024-04-01Z'",
                         {"months": (3, 3)}),
    "flights in the first quarter": ("range",
                                     "departs >= '2024-01-01Z' AND departs < '2024-04-01Z'",
                                     {"months": (1, 3)}),
    "flights of one airline": ("range", "airline = 'NRD'", {}),
    "one flight by id": ("hash", "id = 4242", {"id": 4242}),
    "flights of one airline (hash)": ("hash", "airline = 'NRD'", {}),
}
PARTITIONS = {"list": 2, "range": 12, "hash": 4}


@dataclass(frozen=True)
class PrunedQuery:
    """One query: the ``layout`` it runs on, the partitions PostgreSQL's plan reads
    (``read``, of ``partitions``), the ones the SQLite router reads (``router_read``), and
    the rows it counts on both (``rows``, ``router_rows``)."""

    name: str
    layout: str
    sql: str
    partitions: int
    read: int
    router_read: int
    rows: int
    router_rows: int


@dataclass(frozen=True, eq=False, repr=False)
class PartitioningComparison(_html.ScalarTable):
    """:func:`compare_partitioning`: ``queries`` (one :class:`PrunedQuery` each), rows per
    partition on PostgreSQL beside the model (``list_rows``/``model_list_rows`` …), and the
    4 → 5 hash resize: the share of rows moved on PostgreSQL (``pg_moved``), by the model's
    mod-N hashing (``modulo_moved``), ring (``ring_moved``) and jump hash (``jump_moved``),
    against 1/(n+1) = ``ideal_moved``. ``pg_hash_is_mod_share``: how often PostgreSQL's hash
    partition equals ``id % 4`` (it is not ``id % n``: about 1/4). ``plan``: one EXPLAIN."""

    engine: str
    rows: int
    pg_moved: float
    modulo_moved: float
    ring_moved: float
    jump_moved: float
    ideal_moved: float
    pg_hash_is_mod_share: float
    note: str
    queries: tuple[PrunedQuery, ...] = field(repr=False)
    list_rows: tuple[int, ...] = field(repr=False)
    model_list_rows: tuple[int, ...] = field(repr=False)
    range_rows: tuple[int, ...] = field(repr=False)
    model_range_rows: tuple[int, ...] = field(repr=False)
    hash_rows: tuple[int, ...] = field(repr=False)
    model_hash_rows: tuple[int, ...] = field(repr=False)
    plan: str = field(repr=False)
    ddl: str = field(repr=False)

    def rows_table(self) -> list[dict]:
        return [{"query": q.name, "layout": q.layout, "PostgreSQL reads": q.read,
                 "SQLite router reads": q.router_read, "of": q.partitions, "rows": q.rows}
                for q in self.queries]

    def _repr_html_(self) -> str:
        return (_html.rows_table(self.rows_table())
                + _html.key_value_table({k: v for k, v in self.summary().items()
                                         if k != "note"}, note=self.note))


_NOTE = ("PostgreSQL hashes with its own hash function and picks remainder = hash mod m; "
         "the kit's ModuloHash uses key_hash mod n. Both are mod-N schemes, so a new modulus "
         "moves most rows; only a ring or jump hash keeps moves near 1/(n+1).")


def _ddl(schema: str) -> list[str]:
    cols = ("id bigint NOT NULL, origin text, destination text, airline text, "
            "departs timestamptz NOT NULL, duration_min int, domestic boolean NOT NULL")
    out = [f"CREATE SCHEMA {schema}",
           f"CREATE TABLE {schema}.flights_list ({cols}) PARTITION BY LIST (domestic)",
           f"CREATE TABLE {schema}.flights_list_domestic PARTITION OF {schema}.flights_list "
           f"FOR VALUES IN (true)",
           f"CREATE TABLE {schema}.flights_list_international PARTITION OF "
           f"{schema}.flights_list FOR VALUES IN (false)",
           f"CREATE TABLE {schema}.flights_range ({cols}) PARTITION BY RANGE (departs)"]
    for m, start in enumerate(MONTHS, start=1):
        end = MONTHS[m] if m < 12 else dt.datetime(YEAR + 1, 1, 1, tzinfo=dt.UTC)
        out.append(f"CREATE TABLE {schema}.flights_range_{calendar.month_abbr[m].lower()} "
                   f"PARTITION OF {schema}.flights_range FOR VALUES FROM ('{start:%F}Z') "
                   f"TO ('{end:%F}Z')")
    for n in (4, 5):
        out.append(f"CREATE TABLE {schema}.flights_hash{n} ({cols}) PARTITION BY HASH (id)")
        out += [f"CREATE TABLE {schema}.flights_hash{n}_p{r} PARTITION OF "
                f"{schema}.flights_hash{n} FOR VALUES WITH (MODULUS {n}, REMAINDER {r})"
                for r in range(n)]
    return out


def _relations(plan: dict) -> list[str]:
    """Every relation an EXPLAIN (FORMAT JSON) plan scans."""
    found = [plan["Relation Name"]] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found += _relations(child)
    return found


def compare_partitioning(n_flights: int = 20_000, *, seed: int | None = 0,
                         cluster: PostgresCluster | None = None,
                         progress: Callable[[int, int], object] | None = None
                         ) -> PartitioningComparison:
    """Load ``n_flights`` seeded flights into LIST, RANGE and HASH partitioned tables on
    PostgreSQL (the primary of ``cluster``, or a server of its own), count the partitions
    each of :data:`QUERIES` reads there and through the SQLite routers, and measure the 4 →
    5 hash resize on both. ``progress(done, total)`` is called after the load, each query
    and each resize."""
    n = _check.integer("n_flights", n_flights, low=100, high=200_000)
    seed = _check.seed(seed)
    if cluster is not None and not isinstance(cluster, PostgresCluster):
        raise TypeError(f"cluster must be a started PostgresCluster or None, got {cluster!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be None or a callable(done, total), got {progress!r}")
    steps = 1 + len(QUERIES) + 2
    tick = progress or (lambda done, total: None)
    ports = airports(seed=seed)
    rows = flight_rows(flights(n, ports, seed=seed), ports)
    own = cluster is None
    c = PostgresCluster(0, seed=seed).start() if own else cluster
    schema = f"scalekit_part_{secrets.token_hex(4)}"
    try:
        with c.primary.connect() as conn:
            ddl = _ddl(schema)
            for statement in ddl:
                conn.execute(statement)
            _load(conn, schema, rows)
            tick(1, steps)
            queries = []
            for name in QUERIES:
                queries.append(_query(conn, schema, name, rows))
                tick(1 + len(queries), steps)
            queries = tuple(queries)
            counts = {layout: _per_partition(conn, schema, layout)
                      for layout in ("list", "range", "hash4")}
            pg_moved, mod_share = _moved(conn, schema)
            tick(steps - 1, steps)
            plan = "\n".join(r[0] for r in conn.execute(
                f"EXPLAIN SELECT count(*) FROM {schema}.flights_range WHERE "
                f"{QUERIES['flights in March'][1]}"))
        engine = str(c.binaries)
    finally:
        if not own:
            with contextlib.suppress(Exception):
                c.primary.query(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        if own:
            c.close()
    moved = _router_moves(rows, seed)
    tick(steps, steps)
    return PartitioningComparison(
        engine=engine, rows=n, pg_moved=pg_moved, modulo_moved=moved["modulo"],
        ring_moved=moved["consistent"], jump_moved=moved["jump"], ideal_moved=1 / 5,
        pg_hash_is_mod_share=mod_share, note=_NOTE, queries=queries,
        list_rows=counts["list"], model_list_rows=_model_list(rows),
        range_rows=counts["range"], model_range_rows=_model_range(rows),
        hash_rows=counts["hash4"], model_hash_rows=tuple(
            np.bincount([ModuloHash(4).shard_for(r["id"]) for r in rows], minlength=4)
            .tolist()),
        plan=plan, ddl=";\n".join(ddl[1:]).replace(schema + ".", "") + ";")


def _load(conn, schema: str, rows: list[dict]) -> None:
    """COPY every flight into each partitioned table (PostgreSQL routes each row)."""
    records = [(r["id"], r["origin"], r["destination"], r["airline"],
                dt.datetime.fromtimestamp(r["departs_at"], dt.UTC), r["duration_min"],
                bool(r["domestic"])) for r in rows]
    for table in ("flights_list", "flights_range", "flights_hash4", "flights_hash5"):
        with conn.cursor().copy(f"COPY {schema}.{table} (id, origin, destination, airline, "
                                f"departs, duration_min, domestic) FROM STDIN") as copy:
            for rec in records:
                copy.write_row(rec)
        conn.execute(f"ANALYZE {schema}.{table}")


def _query(conn, schema: str, name: str, rows: list[dict]) -> PrunedQuery:
    layout, condition, routed = QUERIES[name]
    table = {"list": "flights_list", "range": "flights_range", "hash": "flights_hash4"}[layout]
    sql = f"SELECT count(*) FROM {schema}.{table} WHERE {condition}"
    (plan,) = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    read = len(set(_relations(plan[0]["Plan"])))
    count = conn.execute(sql).fetchone()[0]
    router_read, router_rows = _route(layout, routed, rows)
    return PrunedQuery(name, layout, sql.replace(schema + ".", ""), PARTITIONS[layout], read,
                       router_read, int(count), router_rows)


def _route(layout: str, routed: dict, rows: list[dict]) -> tuple[int, int]:
    """What the SQLite side reads for one query: partitions touched and rows matched."""
    if layout == "list":
        tables = FlightRouter().tables_for(routed.get("domestic"))
        want = {"flights_domestic": 1, "flights_international": 0}
        return len(tables), sum(r["domestic"] in {want[t] for t in tables} for r in rows)
    if layout == "range":
        rule = _month_rule()
        if "months" not in routed:
            return rule.n, sum(r["airline"] == "NRD" for r in rows)
        first, last = routed["months"]
        lo = MONTHS[first - 1].timestamp()
        hi = (MONTHS[last] if last < 12 else dt.datetime(YEAR + 1, 1, 1, tzinfo=dt.UTC)) \
            .timestamp()
        touched = rule.shard_for(hi - 1) - rule.shard_for(lo) + 1
        return touched, sum(lo <= r["departs_at"] < hi for r in rows)
    if "id" in routed:
        return 1, sum(r["id"] == routed["id"] for r in rows)
    return 4, sum(r["airline"] == "NRD" for r in rows)


def _month_rule() -> RangeShards:
    return RangeShards(12, [m.timestamp() for m in MONTHS[1:]])


def _per_partition(conn, schema: str, layout: str) -> tuple[int, ...]:
    """Rows in each partition, in the order they were created."""
    parent = f"{schema}.flights_{layout}"
    found = conn.execute(
        "SELECT c.relname, c.reltuples FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass ORDER BY c.oid", (parent,)).fetchall()
    return tuple(int(conn.execute(f"SELECT count(*) FROM {schema}.{name}").fetchone()[0])
                 for name, _ in found)


def _moved(conn, schema: str) -> tuple[float, float]:
    """The share of rows whose hash partition number differs between 4 and 5 partitions,
    and the share whose 4-way partition is ``id % 4``."""
    def where(n: int) -> str:
        return (f"SELECT id, substring(tableoid::regclass::text from '_p([0-9]+)$')::int AS p "
                f"FROM {schema}.flights_hash{n}")
    moved, mod = conn.execute(
        f"SELECT avg((a.p <> b.p)::int)::float8, avg((a.p = a.id % 4)::int)::float8 "
        f"FROM ({where(4)}) a JOIN ({where(5)}) b USING (id)").fetchone()
    return float(moved), float(mod)


def _model_list(rows: list[dict]) -> tuple[int, int]:
    domestic = sum(r["domestic"] for r in rows)
    return domestic, len(rows) - domestic


def _model_range(rows: list[dict]) -> tuple[int, ...]:
    rule = _month_rule()
    return tuple(np.bincount([rule.shard_for(r["departs_at"]) for r in rows], minlength=12)
                 .tolist())


def _router_moves(rows: list[dict], seed) -> dict[str, float]:
    """The share of rows moved from 4 to 5 shards by id: the ring measured by resharding a
    real SQLite :class:`ShardRouter` (rows really move between files), mod-N and jump hash
    from their placement rules (what the router's reshard would move: every row whose shard
    changes)."""
    ids = [r["id"] for r in rows]
    out = {}
    for name, rule in (("modulo", ModuloHash(4)), ("jump", JumpHash(4))):
        grown = rule.resized(5)
        out[name] = float(np.mean([rule.shard_for(i) != grown.shard_for(i) for i in ids]))
    with tempfile.TemporaryDirectory(prefix="scalekit-shards-") as folder, \
            ShardRouter(folder, 4, ConsistentHash(4), shard_key="id") as router:
        router.insert_many(rows)
        out["consistent"] = router.reshard(5).fraction_moved
    return out
