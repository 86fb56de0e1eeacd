"""Sharding a flights table across N real SQLite files, each standing for a database server.

The real mechanism. A sharded store (Vitess, Citus, MongoDB) splits one table's rows across
servers by a *shard key*: a strategy maps the key to a shard, a router sends each query that
names the key to that one shard, and a query without it goes to every shard and the router
merges the answers (scatter-gather). A join whose two sides live on different shards is done
in the router, one round of queries per side.

Here every shard is its own SQLite file (``shard-00.sqlite3`` …) behind its own connection —
never ``ATTACH``, which SQLite limits to 10 databases by default. Which shard a row lives
on is decided by a strategy from :mod:`scalekit.partitioning.shards` (modulo, range,
directory, consistent hashing, jump hash), re-exported here.

Writes are all-or-nothing per call: every shard a call touches is inside one transaction
(``BEGIN IMMEDIATE``) and, if anything fails, every one is rolled back. The commits of
several files are not one atomic step (a crash between two commits would need two-phase
commit, which SQLite files do not offer); an exception before the commits leaves every shard
as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scalekit import _check, _html
from scalekit.partitioning.data import PartitionError
from scalekit.partitioning.shards import (
    STRATEGIES,
    ConsistentHash,
    DirectoryShards,
    JumpHash,
    ModuloHash,
    RangeShards,
    _Strategy,
    shard_load,
    strategy,
)

_by_name = strategy  # ShardRouter's parameter ``strategy`` hides the function

__all__ = ["ModuloHash", "RangeShards", "DirectoryShards", "ConsistentHash", "JumpHash",
           "strategy", "STRATEGIES", "ShardRouter", "ShardError", "InjectedFailure",
           "ReshardReport", "QueryCost", "measure_query_costs", "shard_load", "COLUMNS"]

TABLE = "flights"
#: The flights schema: column → SQLite type. The only identifiers a query may name.
COLUMNS = {"id": "INTEGER PRIMARY KEY", "origin": "TEXT", "destination": "TEXT",
           "airline": "TEXT", "departs_at": "REAL", "duration_min": "INTEGER",
           "domestic": "INTEGER"}
_OPS = ("=", "!=", "<", "<=", ">", ">=")
_AGGREGATES = ("count", "sum", "min", "max", "avg")


#: A shard's database failed (the :mod:`sqlite3` error is chained as the cause): the same
#: error type as every partitioning database's.
ShardError = PartitionError


class InjectedFailure(RuntimeError):
    """The failure a test or a notebook asks for with ``fail_after`` (nothing is broken)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ReshardReport:
    """What one reshard did: rows and distinct keys before, and how many moved."""

    old_n: int
    new_n: int
    strategy: str
    rows: int
    rows_moved: int
    keys: int
    keys_moved: int
    moved_to: tuple[int, ...]  #: rows arriving on each new shard

    @property
    def fraction_moved(self) -> float:
        return self.rows_moved / self.rows if self.rows else 0.0

    def _repr_html_(self) -> str:
        return _html.key_value_table({
            "shards": f"{self.old_n} → {self.new_n} ({self.strategy})", "rows": self.rows,
            "rows moved": self.rows_moved, "fraction moved": self.fraction_moved,
            "keys moved": f"{self.keys_moved} of {self.keys}"})


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


# --------------------------------------------------------------------------- the router


def _ident(name) -> str:
    """A column name checked against the schema and quoted."""
    if not isinstance(name, str):
        raise TypeError(f"a column name must be a str, got {name!r}")
    if name not in COLUMNS:
        raise ValueError(f"unknown column {name!r}; choose one of {', '.join(COLUMNS)}")
    return f'"{name}"'


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
        parts.append(f"{_ident(col)} {op} ?")
        params.append(value)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _sort_key(value):
    """SQLite's order of values: NULL, numbers, text, blobs."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    return (2, value) if isinstance(value, str) else (3, value)


class ShardRouter:
    """``n_shards`` SQLite files ``shard-00.sqlite3`` … in ``directory``, each a ``flights``
    table (:data:`COLUMNS`) with an index on ``shard_key``, and the router in front of them.

    ``strategy``: a name (see :func:`strategy`) or a strategy object over ``n_shards``.
    Rows are mappings column → value; ``id`` is the global row id (the application assigns
    it, as no shard can hand out ids for the others) and must be unique across shards.
    """

    def __init__(self, directory: str | os.PathLike, n_shards: int,
                 strategy: str | _Strategy = "modulo", *, shard_key: str = "origin", **kw):
        if not isinstance(directory, str | os.PathLike):
            raise TypeError(f"directory must be a path, got {type(directory).__name__}")
        n = _check.integer("n_shards", n_shards, low=1, high=10_000)
        self.strategy = (_by_name(strategy, n, **kw)
                         if isinstance(strategy, str) else strategy)
        if not isinstance(self.strategy, _Strategy) or self.strategy.n != n:
            raise ValueError(f"strategy must be a strategy name or a strategy over {n} "
                             f"shards, got {strategy!r}")
        _ident(shard_key)
        if COLUMNS[shard_key] == "REAL" and not isinstance(self.strategy, RangeShards):
            raise ValueError(f"shard_key {shard_key!r} holds real numbers, which only a range "
                             f"strategy can place; shard by id, origin, destination, "
                             f"airline, duration_min or domestic, or use 'range'")
        self.directory, self.shard_key = Path(directory), shard_key
        self._key_index = list(COLUMNS).index(shard_key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot open the shard directory {str(directory)!r}: "
                             f"{exc}") from exc
        extra = self._files_from(n)
        if extra:
            raise ValueError(f"n_shards={n}, but {str(directory)!r} already holds shard files "
                             f"beyond it ({', '.join(p.name for p in extra[:3])} …): open it "
                             f"with the number of shards it was written with")
        self._dbs: list[sqlite3.Connection] = []
        self._trace: list | None = None
        try:
            for i in range(n):
                self._dbs.append(self._open(i))
            wrong = self.misplaced()
            if wrong:
                raise ValueError(f"{wrong:,} rows already in {str(directory)!r} do not belong "
                                 f"where this strategy ({self.strategy.name}, {n} shards, "
                                 f"shard key {shard_key!r}) puts them: open it with the "
                                 f"settings it was written with")
        except BaseException:
            self.close()
            raise

    def _files_from(self, first: int) -> list[Path]:
        """Shard files in the directory numbered ``first`` or higher."""
        found = []
        for p in self.directory.glob("shard-*.sqlite3"):
            number = p.name[len("shard-"):-len(".sqlite3")]
            if number.isdigit() and int(number) >= first:
                found.append(p)
        return sorted(found)

    # ----------------------------------------------------------------- files

    def path(self, shard: int) -> Path:
        return self.directory / f"shard-{shard:02d}.sqlite3"

    def _open(self, shard: int) -> sqlite3.Connection:
        path = self.path(shard)
        try:
            db = sqlite3.connect(path, isolation_level=None)  # we run the transactions
            db.execute("PRAGMA synchronous=NORMAL")
            cols = ", ".join(f'"{c}" {t}' for c, t in COLUMNS.items())
            db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE}({cols})")
            db.execute(f'CREATE INDEX IF NOT EXISTS "ix_{self.shard_key}" '
                       f"ON {TABLE}({_ident(self.shard_key)})")
        except sqlite3.Error as exc:
            raise ValueError(f"cannot open shard database {str(path)!r}: {exc}") from exc
        return db

    @property
    def n_shards(self) -> int:
        return len(self._dbs)

    def close(self) -> None:
        for db in self._dbs:
            db.close()

    def __enter__(self) -> ShardRouter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"ShardRouter({str(self.directory)!r}, {self.n_shards} shards, "
                f"{self.strategy!r}, shard_key={self.shard_key!r})")

    # ----------------------------------------------------------------- plumbing

    def _run(self, shard: int, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            rows = self._dbs[shard].execute(sql, list(params)).fetchall()
        except sqlite3.Error as exc:
            raise ShardError(f"shard {shard} failed on {sql!r}: {exc}") from exc
        if self._trace is not None:
            self._trace.append((shard, sql, list(params), len(rows)))
        return rows

    @contextlib.contextmanager
    def _transaction(self, shards: Iterable[int]):
        """One transaction on each of ``shards``: all rolled back if anything fails."""
        begun = []
        try:
            for s in sorted(set(shards)):
                self._dbs[s].execute("BEGIN IMMEDIATE")
                begun.append(s)
            yield
        except BaseException as exc:
            for s in begun:
                with contextlib.suppress(sqlite3.Error):
                    self._dbs[s].execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ShardError(f"a sharded write failed and was rolled back on every "
                                 f"shard: {exc}") from exc
            raise
        try:
            for s in begun:
                self._dbs[s].execute("COMMIT")
        except sqlite3.Error as exc:
            raise ShardError(f"committing a sharded write failed: {exc}") from exc

    def _row(self, row) -> tuple:
        if not isinstance(row, Mapping):
            raise TypeError(f"each row must be a mapping column → value, got {row!r}")
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown column(s) {sorted(map(str, unknown))}; the flights "
                             f"columns are {', '.join(COLUMNS)}")
        for needed in ("id", self.shard_key):
            if row.get(needed) is None:
                raise ValueError(f"row is missing its {needed!r} (the "
                                 f"{'shard key' if needed == self.shard_key else 'row id'})"
                                 f": {dict(row)!r}")
        _check.integer("id", row["id"], low=-(2**63), high=2**63 - 1)  # SQLite's INTEGER
        return tuple(row.get(c) for c in COLUMNS)

    # ----------------------------------------------------------------- writes

    def insert_many(self, rows: Iterable[Mapping], *, fail_after: int | None = None) -> int:
        """Insert ``rows``, each on its key's shard, all or nothing; returns the count.
        ``fail_after``: raise :class:`InjectedFailure` once that many rows are written."""
        fail_after = _fail_after(fail_after)
        records = [self._row(r) for r in rows]
        ids = [r[0] for r in records]
        if len(set(ids)) != len(ids):
            dup = next(i for i, c in Counter(ids).items() if c > 1)
            raise ValueError(f"row id {dup} appears twice in one insert")
        by_shard: dict[int, list[tuple]] = defaultdict(list)
        for r in records:
            by_shard[self.strategy.shard_for(r[self._key_index])].append(r)
        marks = ", ".join("?" * len(COLUMNS))
        written = 0
        with self._transaction(range(self.n_shards)):
            taken = self._existing_ids(ids)
            if taken:
                raise ValueError(f"row id(s) {sorted(taken)[:5]} already stored")
            for shard, group in sorted(by_shard.items()):
                if fail_after is not None and written + len(group) >= fail_after:
                    group = group[:max(fail_after - written, 0)]
                    self._dbs[shard].executemany(f"INSERT INTO {TABLE} VALUES ({marks})",
                                                 group)
                    raise InjectedFailure(f"injected failure after {fail_after} rows")
                self._dbs[shard].executemany(f"INSERT INTO {TABLE} VALUES ({marks})", group)
                written += len(group)
        return written

    def _existing_ids(self, ids: Sequence[int]) -> set[int]:
        found: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            sql = f"SELECT id FROM {TABLE} WHERE id IN ({', '.join('?' * len(chunk))})"
            for shard in range(self.n_shards):
                found.update(i for (i,) in self._run(shard, sql, chunk))
        return found

    # ----------------------------------------------------------------- reads

    def get(self, key) -> list[tuple]:
        """Every row whose shard key is ``key`` (from its one shard), ordered by id."""
        return self.query_by_key(key)

    def query_by_key(self, key, where=(), *, columns: Sequence[str] | None = None
                     ) -> list[tuple]:
        """Rows with shard key ``key`` also matching ``where`` — (column, op, value)
        conditions or a mapping column → value — read from the key's one shard."""
        cond = [(self.shard_key, "=", key), *self._conditions(where)]
        return self._select(self.strategy.shard_for(key), cond, columns)

    def scatter_gather(self, where=(), *, columns: Sequence[str] | None = None,
                       order_by: str = "id") -> list[tuple]:
        """Rows matching ``where`` from every shard, merged and sorted by ``order_by``
        then id (SQLite's order: NULL first, then numbers, then text)."""
        cols = list(columns) if columns is not None else list(COLUMNS)
        _ident(order_by)
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
        func = _check.choice("aggregate", func, _AGGREGATES)
        col = "*" if func == "count" and column is None else _ident(column)
        parts = [f"SUM({col})", f"COUNT({col})"] if func == "avg" else [f"{func}({col})"]
        sql_where, params = _where_sql(self._conditions(where))
        group = f"{_ident(group_by)}, " if group_by else ""
        sql = (f"SELECT {group}{', '.join(parts)} FROM {TABLE}{sql_where}"
               + (f" GROUP BY {_ident(group_by)}" if group_by else ""))
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
        sql = f"SELECT {', '.join(map(_ident, cols))} FROM {TABLE}{sql_where} ORDER BY id"
        return self._run(shard, sql, params)

    # ----------------------------------------------------------------- inspection

    def counts(self) -> tuple[int, ...]:
        """Rows on each shard — the per-shard load."""
        return tuple(self._run(s, f"SELECT COUNT(*) FROM {TABLE}")[0][0]
                     for s in range(self.n_shards))

    def snapshot(self) -> tuple[tuple[int, str], ...]:
        """(row count, MD5 of the sorted ids) per shard: equal snapshots hold equal rows."""
        out = []
        for s in range(self.n_shards):
            ids = [i for (i,) in self._run(s, f"SELECT id FROM {TABLE} ORDER BY id")]
            out.append((len(ids), hashlib.md5(repr(ids).encode()).hexdigest()))
        return tuple(out)

    def misplaced(self) -> int:
        """Rows sitting on a shard other than the one their key maps to (should be 0)."""
        return sum(self.strategy.shard_for(k) != s for s in range(self.n_shards)
                   for (k,) in self._run(s, f"SELECT {_ident(self.shard_key)} FROM {TABLE}"))

    # ----------------------------------------------------------------- resharding

    def reshard(self, target: int | _Strategy, *, fail_after: int | None = None
                ) -> ReshardReport:
        """Move to ``target`` — a shard count (same rule, resized) or a new strategy —
        moving only the rows whose shard changes. Every shard's changes are in one
        transaction: on any failure (``fail_after``: raise :class:`InjectedFailure` after
        that many rows moved) every shard keeps exactly its rows and new files are removed."""
        new = (self.strategy.resized(target) if isinstance(target, int | np.integer)
               and not isinstance(target, bool) else target)
        if not isinstance(new, _Strategy):
            raise TypeError(f"target must be a shard count or a strategy, got {target!r}")
        fail_after = _fail_after(fail_after)
        old_n, new_n = self.n_shards, new.n
        if self._files_from(old_n):
            raise ValueError(f"{str(self.directory)!r} holds shard files beyond the "
                             f"{old_n} this router uses; move them away before resharding")
        try:
            for i in range(old_n, new_n):
                self._dbs.append(self._open(i))
            report = self._move_rows(new, old_n, fail_after)
        except BaseException:
            self._drop_shards(old_n)
            raise
        self.strategy = new
        self._drop_shards(new_n)
        return report

    def _move_rows(self, new: _Strategy, old_n: int, fail_after) -> ReshardReport:
        kcol, keys, moved_keys = _ident(self.shard_key), set(), set()
        rows_total, plan = 0, defaultdict(list)  # (source, destination) → ids
        with self._transaction(range(self.n_shards)):
            for src in range(old_n):  # plan every move before making any
                for i, k in self._run(src, f"SELECT id, {kcol} FROM {TABLE} ORDER BY id"):
                    dst = new.shard_for(k)
                    keys.add(k)
                    rows_total += 1
                    if dst != src:
                        plan[src, dst].append(i)
                        moved_keys.add(k)
            moved, arrivals = 0, [0] * new.n
            for (src, dst), ids in sorted(plan.items()):
                if fail_after is not None and moved + len(ids) >= fail_after:
                    self._copy(src, dst, ids[:max(fail_after - moved, 0)])
                    raise InjectedFailure(f"injected failure after {fail_after} moves")
                self._copy(src, dst, ids)
                moved += len(ids)
                arrivals[dst] += len(ids)
        return ReshardReport(old_n, new.n, new.name, rows_total, moved, len(keys),
                             len(moved_keys), tuple(arrivals))

    def _copy(self, src: int, dst: int, ids: list[int]) -> None:
        marks = ", ".join("?" * len(COLUMNS))
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            inside = f"id IN ({', '.join('?' * len(chunk))})"
            rows = self._run(src, f"SELECT * FROM {TABLE} WHERE {inside}", chunk)
            self._dbs[dst].executemany(f"INSERT INTO {TABLE} VALUES ({marks})", rows)
            self._dbs[src].execute(f"DELETE FROM {TABLE} WHERE {inside}", chunk)

    def _drop_shards(self, keep: int) -> None:
        """Close and delete shard files from index ``keep`` on (they hold no rows)."""
        while len(self._dbs) > keep:
            i = len(self._dbs) - 1
            self._dbs.pop().close()
            with contextlib.suppress(OSError):
                self.path(i).unlink()


def _fail_after(value) -> int | None:
    return None if value is None else _check.integer("fail_after", value, low=0)


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


def measure_query_costs(router: ShardRouter, key, *, repeats: int = 7,
                        clock: Callable[[], float] = time.perf_counter
                        ) -> tuple[QueryCost, ...]:
    """Time three kinds of query on ``router`` (median of ``repeats`` real runs, ms): the
    rows with shard key ``key`` (one shard), the rows whose destination is ``key`` (no
    shard key when sharding by origin: every shard), and :meth:`~ShardRouter.join_onward`
    from ``key`` restricted to that key's first airline (a join done in the router)."""
    repeats = _check.integer("repeats", repeats, low=1, high=1000)
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
    router._trace = []
    try:
        run()
        trace = router._trace
    finally:
        router._trace = None
    scanned, sizes = 0, router.counts()
    for shard, sql, params, n_rows in trace:
        plan = router._run(shard, "EXPLAIN QUERY PLAN " + sql, params)
        full = any(str(p[-1]).startswith("SCAN") and "INDEX" not in str(p[-1]) for p in plan)
        scanned += sizes[shard] if full else n_rows
    return QueryCost(kind, statistics.median(times), len({t[0] for t in trace}),
                     len(result), scanned)
