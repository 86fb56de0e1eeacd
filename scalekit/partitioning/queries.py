"""The read half of a sharded store: queries routed to one shard, scattered to all and
gathered, merged aggregates, a join done in the router — and what each kind costs.

The real mechanism. A router that knows the shard key of a query sends it to the one shard
that holds the key's rows; any other query goes to every shard and the router merges the
answers in SQLite's own order (NULLs first, then numbers, then text). An aggregate merges
per-shard partials — counts and sums add up, an average is the summed SUM over the summed
COUNT, never an average of averages. :class:`ShardReader` is the part of
:class:`~scalekit.partitioning.sharding.ShardRouter` that reads; :func:`measure_query_costs`
times the three kinds and reads SQLite's query plans to count the rows scanned.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from scalekit import _check
from scalekit.partitioning.data import PartitionError

__all__ = ["TABLE", "COLUMNS", "ShardReader", "QueryCost", "measure_query_costs",
           "quoted_column"]

TABLE = "flights"
#: The flights schema: column → SQLite type. The only identifiers a query may name.
COLUMNS = {"id": "INTEGER PRIMARY KEY", "origin": "TEXT", "destination": "TEXT",
           "airline": "TEXT", "departs_at": "REAL", "duration_min": "INTEGER",
           "domestic": "INTEGER"}
_OPS = ("=", "!=", "<", "<=", ">", ">=")
_AGGREGATES = ("count", "sum", "min", "max", "avg")


@dataclass(frozen=True)
class QueryCost:
    """One kind of query, measured: median wall time (ms) over repeats, shards touched,
    rows returned and rows scanned (a shard whose plan has a full ``SCAN`` counts all its
    rows; one answered from an index counts the rows it returned)."""

    kind: str
    median_ms: float
    shards_touched: int
    rows_returned: int
    rows_scanned: int



def quoted_column(name) -> str:
    """A column name checked against the schema and quoted."""
    return column_named("name", name)


def column_named(param: str, name) -> str:
    """``name`` (the value of parameter ``param``) checked against the schema and quoted;
    the error names ``param``."""
    if not isinstance(name, str):
        raise TypeError(f"{param} must be a column name (a str), got {name!r}")
    if name not in COLUMNS:
        raise ValueError(f"unknown column {name!r} in {param}; choose one of "
                         f"{', '.join(COLUMNS)}")
    return f'"{name}"'


def _column_list(columns) -> list[str]:
    if isinstance(columns, str | bytes) or not isinstance(columns, Sequence):
        raise TypeError(f"columns must be a list of column names, got {columns!r}")
    if not columns:
        raise ValueError("columns must name at least one column, got an empty list")
    for c in columns:
        column_named("columns", c)
    return list(columns)


def _where_sql(where) -> tuple[str, list]:
    if isinstance(where, Mapping):
        where = [(c, "=", v) for c, v in where.items()]
    elif isinstance(where, str | bytes) or not isinstance(where, Iterable):
        raise TypeError(f"where must be a dict column → value or a list of (column, op, "
                        f"value) conditions, got {where!r}")
    parts, params = [], []
    for cond in where:
        if not isinstance(cond, tuple | list) or len(cond) != 3:
            raise TypeError(f"each condition must be (column, op, value), got {cond!r}")
        col, op, value = cond
        _check.choice("operator", op, _OPS)
        parts.append(f"{column_named('where', col)} {op} ?")
        params.append(value)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _sort_key(value):
    """SQLite's order of values: NULL, numbers, text, blobs."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    return (2, value) if isinstance(value, str) else (3, value)



class ShardReader:
    """Reads over shard connections. The router that inherits it provides ``strategy``
    (the rule in force), ``shard_key``, ``n_shards`` and two hooks: ``_connection(shard)``
    and ``_settle()`` (resolve a half-done write before reading)."""

    _trace: list | None = None

    def _connection(self, shard: int) -> sqlite3.Connection:
        """Shard ``shard``'s connection (the router supplies it)."""
        raise NotImplementedError

    def _settle(self) -> None:
        """Nothing to resolve (a router with writes overrides this)."""

    def _run(self, shard: int, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            rows = self._connection(shard).execute(sql, list(params)).fetchall()
        except sqlite3.Error as exc:
            raise PartitionError(f"shard {shard} failed on {sql!r}: {exc}") from exc
        if self._trace is not None:
            self._trace.append((shard, sql, list(params), len(rows)))
        return rows

    def get(self, key) -> list[tuple]:
        """Every row whose shard key is ``key`` (from its one shard), ordered by id."""
        return self.query_by_key(key)

    def query_by_key(self, key, where=(), *, columns: Sequence[str] | None = None
                     ) -> list[tuple]:
        """Rows with shard key ``key`` also matching ``where`` — (column, op, value)
        conditions or a mapping column → value — read from the key's one shard."""
        if columns is not None:
            _column_list(columns)
        self._settle()
        cond = [(self.shard_key, "=", key), *self._conditions(where)]
        return self._select(self.strategy.shard_for(key), cond, columns)

    def scatter_gather(self, where=(), *, columns: Sequence[str] | None = None,
                       order_by: str = "id") -> list[tuple]:
        """Rows matching ``where`` from every shard, merged and sorted by ``order_by``
        then id (SQLite's order: NULL first, then numbers, then text)."""
        cols = _column_list(columns) if columns is not None else list(COLUMNS)
        column_named("order_by", order_by)
        self._settle()
        extra = [c for c in (order_by, "id") if c not in cols]
        rows = [r for s in range(self.n_shards)
                for r in self._select(s, self._conditions(where), cols + extra)]
        i, j = (cols + extra).index(order_by), (cols + extra).index("id")
        rows.sort(key=lambda r: (_sort_key(r[i]), r[j]))
        return [r[:len(cols)] for r in rows]

    def aggregate(self, func: str, column: str | None = None, where=(), *,
                  group_by: str | None = None):
        """``func`` (count, sum, min, max, avg) of ``column`` over every shard. The merge:
        counts and sums add up, min/max take the min/max of the shards', avg is the summed
        SUM over the summed COUNT (never an average of averages). With ``group_by``, a
        sorted list of (group, value); otherwise one value (None for no rows)."""
        if not isinstance(func, str) or func not in _AGGREGATES:
            kind = ValueError if isinstance(func, str) else TypeError
            raise kind(f"func must be an aggregate, one of {', '.join(_AGGREGATES)}; "
                       f"got {func!r}")
        self._settle()
        col = "*" if func == "count" and column is None else column_named("column", column)
        parts = [f"SUM({col})", f"COUNT({col})"] if func == "avg" else [f"{func}({col})"]
        sql_where, params = _where_sql(self._conditions(where))
        if group_by is not None:
            column_named("group_by", group_by)
        group = f"{quoted_column(group_by)}, " if group_by else ""
        sql = (f"SELECT {group}{', '.join(parts)} FROM {TABLE}{sql_where}"
               + (f" GROUP BY {quoted_column(group_by)}" if group_by else ""))
        partial: dict = defaultdict(list)
        for s in range(self.n_shards):
            for r in self._run(s, sql, params):
                partial[r[0] if group_by else None].append(r[1:] if group_by else r)
        merged = {g: _merge(func, p) for g, p in partial.items()}
        if group_by:
            return sorted(merged.items(), key=lambda kv: _sort_key(kv[0]))
        return merged[None]

    def join_onward(self, origin, where=()) -> list[tuple[int, int]]:
        """A join the router does itself: every pair (first leg id, onward leg id) where the
        first leg leaves ``origin`` (and matches ``where``) and the onward leg leaves the
        first leg's destination (and matches ``where``), sorted. Run as one query for the
        first legs, then one query per shard holding any of their destinations."""
        _check.text("origin", origin)
        self._settle()
        cond = [("origin", "=", origin), *self._conditions(where)]
        if self.shard_key == "origin":
            first = self._select(self.strategy.shard_for(origin), cond, ["id", "destination"])
        else:
            first = self.scatter_gather(cond, columns=["id", "destination"])
        dests = sorted({d for _, d in first if d is not None})
        if self.shard_key == "origin":
            targets = defaultdict(list)
            for d in dests:
                targets[self.strategy.shard_for(d)].append(d)
        else:
            targets = {s: dests for s in range(self.n_shards)} if dests else {}
        onward = defaultdict(list)
        for shard, ds in targets.items():
            for start in range(0, len(ds), 500):
                chunk = ds[start:start + 500]
                sql_where, params = _where_sql(self._conditions(where))
                sql = (f"SELECT id, origin FROM {TABLE}"
                       + (sql_where + " AND " if sql_where else " WHERE ")
                       + f"origin IN ({', '.join('?' * len(chunk))})")
                for i, o in self._run(shard, sql, params + chunk):
                    onward[o].append(i)
        return sorted((a, b) for a, d in first for b in onward.get(d, ()))

    def _conditions(self, where) -> list:
        if isinstance(where, Mapping):
            return [(c, "=", v) for c, v in where.items()]
        if isinstance(where, str | bytes):
            raise TypeError("where must be (column, op, value) conditions or a mapping, "
                            f"not SQL text: {where!r}")
        if not isinstance(where, Iterable):
            raise TypeError(f"where must be (column, op, value) conditions or a mapping, "
                            f"got {where!r}")
        return list(where)

    def _select(self, shard: int, cond, columns) -> list[tuple]:
        cols = list(columns) if columns is not None else list(COLUMNS)
        sql_where, params = _where_sql(cond)
        sql = f"SELECT {', '.join(map(quoted_column, cols))} FROM {TABLE}{sql_where} ORDER BY id"
        return self._run(shard, sql, params)

    # ----------------------------------------------------------------- inspection

    def counts(self) -> tuple[int, ...]:
        """Rows on each shard — the per-shard load."""
        self._settle()
        return tuple(self._run(s, f"SELECT COUNT(*) FROM {TABLE}")[0][0]
                     for s in range(self.n_shards))

    def snapshot(self) -> tuple[tuple[int, str], ...]:
        """(row count, MD5 of the sorted ids) per shard: equal snapshots hold equal rows."""
        self._settle()
        out = []
        for s in range(self.n_shards):
            ids = [i for (i,) in self._run(s, f"SELECT id FROM {TABLE} ORDER BY id")]
            out.append((len(ids), hashlib.md5(repr(ids).encode()).hexdigest()))
        return tuple(out)

    def misplaced(self) -> int:
        """Rows sitting on a shard other than the one their key maps to (should be 0)."""
        key = quoted_column(self.shard_key)
        return sum(self.strategy.shard_for(k) != s for s in range(self.n_shards)
                   for (k,) in self._run(s, f"SELECT {key} FROM {TABLE}"))

    @contextlib.contextmanager
    def traced(self):
        """Record every shard query run inside the block: a list of (shard, sql, params,
        rows returned), filled in as the block runs."""
        self._trace = trace = []
        try:
            yield trace
        finally:
            self._trace = None

    def query_plan(self, shard: int, sql: str, params: Sequence = ()) -> list[str]:
        """SQLite's ``EXPLAIN QUERY PLAN`` for ``sql`` on ``shard``, one line per step."""
        _check.integer("shard", shard, low=0, high=self.n_shards - 1)
        _check.text("sql", sql)
        if isinstance(params, str | bytes) or not isinstance(params, Sequence):
            raise TypeError(f"params must be a tuple or list of bound values, got {params!r}")
        try:
            plan = self._run(shard, "EXPLAIN QUERY PLAN " + sql, params)
        except PartitionError as exc:
            raise ValueError(f"sql {sql!r} cannot be planned on shard {shard}: "
                             f"{exc.__cause__}") from exc
        return [str(row[-1]) for row in plan]


def _merge(func: str, partials: list[tuple]):
    if func == "avg":
        total = sum(p[0] for p in partials if p[0] is not None)
        count = sum(p[1] for p in partials)
        return total / count if count else None
    values = [p[0] for p in partials if p[0] is not None]
    if not values:
        return 0 if func == "count" else None
    return {"count": sum, "sum": sum, "min": min, "max": max}[func](values)


# --------------------------------------------------------------------------- measuring


def measure_query_costs(router: ShardReader, key, *, repeats: int = 7,
                        clock: Callable[[], float] = time.perf_counter
                        ) -> tuple[QueryCost, ...]:
    """Time three kinds of query on ``router`` (median of ``repeats`` real runs, ms): the
    rows with shard key ``key`` (one shard), the rows whose destination is ``key`` (no
    shard key when sharding by origin: every shard), and :meth:`~ShardReader.join_onward`
    from ``key`` restricted to that key's first airline (a join done in the router)."""
    _check.instance("router", router, ShardReader)
    repeats = _check.integer("repeats", repeats, low=1, high=1000)
    _check.function("clock", clock)
    if not isinstance(key, str):
        raise TypeError(f"key must be an airport code (a str: the three queries read its "
                        f"flights and its onward legs), got {key!r}")
    first = router.get(key)
    airline = first[0][list(COLUMNS).index("airline")] if first else None
    kinds = {
        "single-shard": lambda: router.query_by_key(key),
        "scatter-gather": lambda: router.scatter_gather([("destination", "=", key)]),
        "cross-shard join": lambda: router.join_onward(key, [("airline", "=", airline)]),
    }
    return tuple(_measure(router, kind, run, repeats, clock) for kind, run in kinds.items())


def _measure(router, kind, run, repeats, clock) -> QueryCost:
    times = []
    for _ in range(repeats):
        start = clock()
        result = run()
        times.append((clock() - start) * 1000.0)
    with router.traced() as trace:
        run()
    scanned, sizes = 0, router.counts()
    for shard, sql, params, n_rows in trace:
        plan = router.query_plan(shard, sql, params)
        full = any(p.startswith("SCAN") and "INDEX" not in p for p in plan)
        scanned += sizes[shard] if full else n_rows
    return QueryCost(kind, statistics.median(times), len({t[0] for t in trace}),
                     len(result), scanned)
