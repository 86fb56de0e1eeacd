"""Horizontal partitioning, measured on real SQLite: domestic and international flights.

The real mechanism. Splitting a table by rows — here ``flights`` into ``flights_domestic``
and ``flights_international``, both with exactly the columns of the wide ``flights`` table —
lets a query that says which kind of flight it wants read only that partition (partition
pruning: fewer rows scanned). A query that does not say must read every partition and glue
the answers together with ``UNION ALL``. A schema change must reach every partition, in one
transaction, or the partitions drift apart.

* :func:`load_partitioned` — write both partitions to one SQLite file in one transaction
  (rolled back on any error, the file left as it was);
* :class:`FlightRouter` — one decision, :meth:`~FlightRouter.tables_for`, and the SQL
  it implies (:meth:`~FlightRouter.query`): whitelisted, quoted identifiers, bound values;
* :func:`add_column` — ``ALTER TABLE ... ADD COLUMN`` on every partition in one transaction
  (SQLite DDL is transactional: a failure on the second table undoes the first);
* :func:`compare_partitioning` — domestic-only, international-only and both-kinds queries,
  timed on the partitioned file and on the single table (medians of ``repeats`` runs, ms),
  cross-checked to return the same rows, with ``EXPLAIN QUERY PLAN``.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalekit import _check, _html
from scalekit.partitioning.data import (
    AIRLINES,
    PROGRESS_EVERY,
    Airports,
    Flights,
    PartitionError,
    check_pair,
    database_path,
    flight_tuples,
    load_flights,
    write_transaction,
)
from scalekit.partitioning.sharding import InjectedFailure
from scalekit.partitioning.vertical import query_plan, time_query

__all__ = ["COLUMNS", "PARTITIONS", "SQL_TYPES", "FlightRouter", "HorizontalResult",
           "PartitionLoad", "add_column", "compare_partitioning", "load_partitioned"]

#: the wide ``flights`` table's columns, in order, and their SQLite types
COLUMNS = {"id": "INTEGER PRIMARY KEY", "origin": "TEXT NOT NULL", "origin_city": "TEXT",
           "origin_country": "TEXT", "destination": "TEXT NOT NULL",
           "destination_city": "TEXT", "destination_country": "TEXT", "airline": "TEXT",
           "departs_at": "INTEGER", "duration_min": "INTEGER", "domestic": "INTEGER"}
DOMESTIC, INTERNATIONAL = "flights_domestic", "flights_international"
PARTITIONS = (DOMESTIC, INTERNATIONAL)
SINGLE = "flights"
SQL_TYPES = ("INTEGER", "REAL", "TEXT")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _quote(name: str) -> str:
    """A double-quoted SQL identifier (only ever called on whitelisted names)."""
    return '"' + name.replace('"', '""') + '"'


def _ddl(table: str) -> str:
    cols = ", ".join(f"{_quote(c)} {t}" for c, t in COLUMNS.items())
    return f"CREATE TABLE {_quote(table)}({cols})"


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True, eq=False, repr=False)
class PartitionLoad(_html.ScalarTable):
    """What :func:`load_partitioned` wrote: ``domestic_rows`` + ``international_rows``
    = ``rows`` flights in ``seconds`` (s), and the file's size afterwards, ``file_bytes``."""

    path: str
    rows: int
    domestic_rows: int
    international_rows: int
    seconds: float
    file_bytes: int


def load_partitioned(path: str | os.PathLike, fl: Flights, ports: Airports, *,
                     progress: Callable[[int, int], object] | None = None,
                     timer: Callable[[], float] = time.perf_counter) -> PartitionLoad:
    """Write ``fl`` to ``flights_domestic`` and ``flights_international`` in the SQLite file
    at ``path``, in one transaction.

    Both tables have the wide ``flights`` columns (:data:`COLUMNS`) and get exactly the rows
    :func:`~scalekit.partitioning.data.load_flights` would write, split by ``fl.domestic``.
    Tables of those names already in the file are replaced. ``progress(done, total)`` is
    called every 50,000 rows; any exception rolls back and leaves the file as it was (a
    file that did not exist is removed). ``timer`` returns seconds.
    """
    target = database_path(path)
    check_pair(fl, ports)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be None or a callable(done, total), got {progress!r}")
    if not callable(timer):
        raise TypeError(f"timer must be a callable returning seconds, got {timer!r}")
    existed = target.exists()
    start = timer()
    try:
        _load_transaction(target, fl, ports, progress)
    except BaseException:
        if not existed:
            target.unlink(missing_ok=True)
        raise
    domestic = int(np.count_nonzero(fl.domestic))
    return PartitionLoad(path=str(target), rows=fl.count, domestic_rows=domestic,
                         international_rows=fl.count - domestic, seconds=timer() - start,
                         file_bytes=target.stat().st_size)


def _write_partitions(db: sqlite3.Connection, fl: Flights, ports: Airports, progress) -> None:
    marks = ", ".join("?" * len(COLUMNS))
    for table in PARTITIONS:
        db.execute(f"DROP TABLE IF EXISTS {_quote(table)}")
        db.execute(_ddl(table))
    for lo in range(0, fl.count, PROGRESS_EVERY):
        hi = min(lo + PROGRESS_EVERY, fl.count)
        rows = flight_tuples(fl, ports, "wide", lo, hi)
        home = fl.domestic[lo:hi].tolist()
        for table, keep in ((DOMESTIC, True), (INTERNATIONAL, False)):
            db.executemany(f"INSERT INTO {_quote(table)} VALUES ({marks})",
                           [r for r, h in zip(rows, home, strict=True) if h == keep])
        if progress is not None:
            progress(hi, fl.count)


def _load_transaction(target: Path, fl: Flights, ports: Airports, progress) -> None:
    with write_transaction(target, f"loading {fl.count} flights into partitions") as db:
        _write_partitions(db, fl, ports, progress)


# --------------------------------------------------------------------------- routing


def _value(column: str, value: object) -> object:
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, str) or isinstance(value, numbers.Integral):
        return value if isinstance(value, str) else int(value)
    if isinstance(value, numbers.Real) and math.isfinite(float(value)):
        return float(value)
    raise TypeError(f"where[{column!r}] must be a str, int, finite float or bool, "
                    f"got {value!r}")


class FlightRouter:
    """Sends a query on flights to the partition(s) that hold its rows.

    One decision, :meth:`tables_for`: a query that says ``domestic=True`` reads
    ``flights_domestic``, ``domestic=False`` reads ``flights_international``, and one that
    does not say (None) must read both. :meth:`query` turns that into SQL: column names come
    only from :data:`COLUMNS` (anything else is refused) and are quoted; every value is a
    bound parameter.
    """

    partitions = {True: (DOMESTIC,), False: (INTERNATIONAL,), None: PARTITIONS}

    def tables_for(self, domestic: bool | None) -> tuple[str, ...]:
        """The table(s) a query with this ``domestic`` condition must read."""
        if domestic is not None:
            domestic = _check.boolean("domestic", domestic)
        return self.partitions[domestic]

    def query(self, where: Mapping[str, object] | None = None,
              columns: Sequence[str] | None = None,
              order_by: str | None = "id") -> tuple[str, tuple]:
        """``(sql, params)`` selecting ``columns`` (default: all) of the flights matching
        every ``column = value`` in ``where``, from the partition(s) :meth:`tables_for` the
        ``where["domestic"]`` picks (absent: both, glued by ``UNION ALL``), sorted by
        ``order_by`` (one of the selected columns, or None)."""
        cols, conds, params = self._parts(where, columns, order_by)
        domestic = (where or {}).get("domestic")
        kept = [(c, p) for c, p in zip(conds, params, strict=True) if c != "domestic"]
        conds, params = [c for c, _ in kept], tuple(p for _, p in kept)
        selects = [_select(table, cols, conds) for table in self.tables_for(domestic)]
        sql = " UNION ALL ".join(selects)
        return sql + _order(order_by), params * len(selects)

    def single_table_query(self, where: Mapping[str, object] | None = None,
                           columns: Sequence[str] | None = None,
                           order_by: str | None = "id") -> tuple[str, tuple]:
        """The same query on the unpartitioned ``flights`` table (``domestic`` is then an
        ordinary filter): the oracle the partitions must agree with."""
        cols, conds, params = self._parts(where, columns, order_by)
        return _select(SINGLE, cols, conds) + _order(order_by), params

    @staticmethod
    def _parts(where, columns, order_by) -> tuple[list[str], list[str], tuple]:
        if where is None:
            where = {}
        if not isinstance(where, Mapping):
            raise TypeError(f"where must be a dict of column -> value, got {where!r}")
        cols = list(COLUMNS) if columns is None else _columns(columns)
        for column in where:
            _known("where", column)
        if "domestic" in where and where["domestic"] is not None:
            _check.boolean("where['domestic']", where["domestic"])
        conds = [c for c in where if not (c == "domestic" and where[c] is None)]
        params = tuple(_value(c, where[c]) for c in conds)
        if order_by is not None:
            _known("order_by", order_by)
            if order_by not in cols:
                raise ValueError(f"order_by {order_by!r} must be one of the selected columns "
                                 f"{cols}")
        return cols, conds, params


def _known(name: str, column: object) -> str:
    if not isinstance(column, str):
        raise TypeError(f"{name} column must be a str, got {column!r}")
    if column not in COLUMNS:
        raise ValueError(f"unknown {name} column {column!r}; choose from {list(COLUMNS)}")
    return column


def _columns(columns: object) -> list[str]:
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise TypeError(f"columns must be a sequence of column names, got {columns!r}")
    if not columns:
        raise ValueError("columns must name at least one column, got an empty sequence")
    return [_known("columns", c) for c in columns]


def _select(table: str, cols: list[str], conds: list[str]) -> str:
    sql = f"SELECT {', '.join(map(_quote, cols))} FROM {_quote(table)}"
    if conds:
        sql += " WHERE " + " AND ".join(f"{_quote(c)} = ?" for c in conds)
    return sql


def _order(order_by: str | None) -> str:
    return "" if order_by is None else f" ORDER BY {_quote(order_by)}"


# --------------------------------------------------------------------------- schema change


def _literal(sql_type: str, default: object) -> str:
    """``default`` as an SQL literal: DDL cannot take bound parameters, so the value is
    type-checked against ``sql_type`` and written as a number or a quoted string."""
    if default is None:
        return "NULL"
    if sql_type == "TEXT":
        if not isinstance(default, str) or "\x00" in default:
            raise TypeError(f"default for a TEXT column must be a str without NUL or None, "
                            f"got {default!r}")
        return "'" + default.replace("'", "''") + "'"
    if isinstance(default, bool | np.bool_):
        return str(int(default))
    if isinstance(default, numbers.Integral):
        return str(_check.integer("default", int(default), low=-(2**63), high=2**63 - 1))
    if sql_type == "REAL" and isinstance(default, numbers.Real):
        return repr(_check.number("default", default))
    raise TypeError(f"default for a {sql_type} column must be a number or None, "
                    f"got {default!r}")


def _partition_columns(target: Path) -> None:
    """Refuse (ValueError naming ``path``) a file that does not hold both partitions —
    read-only, before the write begins. (A column already there is SQLite's to refuse,
    inside the transaction: the rollback that leaves every partition as it was.)"""
    try:
        db = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
        try:
            have = {t: {row[1] for row in db.execute(f"PRAGMA table_info({_quote(t)})")}
                    for t in PARTITIONS}
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ValueError(f"path {str(target)!r} is not an SQLite database: {exc}") from exc
    missing = [t for t, cols in have.items() if not cols]
    if missing:
        raise ValueError(f"path {str(target)!r} holds no {', '.join(missing)} table: "
                         f"load_partitioned() first")


def add_column(path: str | os.PathLike, name: str, sql_type: str, default: object = None, *,
               fail_after: int | None = None) -> tuple[str, ...]:
    """Add column ``name`` of ``sql_type`` (one of :data:`SQL_TYPES`) with ``default`` to
    every partition in the file at ``path``, in ONE transaction; return the tables changed.

    ``name`` must be a lower-case SQL identifier (``[a-z_][a-z0-9_]*``) not already a flights
    column. On any failure — SQLite's, or :class:`InjectedFailure` raised once ``fail_after``
    tables are altered — every partition keeps exactly the schema it had.
    """
    target = database_path(path)
    if not target.exists():
        raise ValueError(f"path {str(path)!r} does not exist; load_partitioned() first")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str column name, got {name!r}")
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"name must be a lower-case identifier [a-z_][a-z0-9_]*, "
                         f"got {name!r}")
    if name in COLUMNS or name in ("rowid", "oid", "_rowid_"):
        raise ValueError(f"name {name!r} is already a flights column (or SQLite's rowid)")
    sql_type = _check.choice("sql_type", sql_type, SQL_TYPES)
    literal = _literal(sql_type, default)
    if fail_after is not None:
        fail_after = _check.integer("fail_after", fail_after, low=0)
    _partition_columns(target)
    with write_transaction(target, f"adding column {name!r} to the partitions") as db:
        for done, table in enumerate(PARTITIONS):
            if fail_after is not None and done >= fail_after:
                raise InjectedFailure(f"injected failure after {done} table(s) altered")
            db.execute(f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(name)} "
                       f"{sql_type} DEFAULT {literal}")
    return PARTITIONS


# --------------------------------------------------------------------------- measuring

QUERIES = ("domestic", "international", "both")


@dataclass(frozen=True, eq=False, repr=False)
class HorizontalResult(_html.ScalarTable):
    """The same flights partitioned (domestic / international) and in one table, measured:
    for each query (flights of ``airline`` from ``origin``: domestic only, international
    only, both) the median of ``repeats`` runs (ms) on each file, the rows it returned (the
    same on both files) and its query plans."""

    flights: int
    repeats: int
    origin: str
    airline: str
    domestic_rows: int
    international_rows: int
    domestic_partitioned_ms: float
    domestic_single_ms: float
    international_partitioned_ms: float
    international_single_ms: float
    both_partitioned_ms: float
    both_single_ms: float
    hits: dict = field(repr=False)
    plans: dict = field(repr=False)
    times_ms: dict = field(repr=False)

    def _repr_html_(self) -> str:
        rows = [{"query": q, "rows": self.hits[q],
                 "partitioned (ms)": getattr(self, f"{q}_partitioned_ms"),
                 "single table (ms)": getattr(self, f"{q}_single_ms"),
                 "partitioned plan": self.plans[f"{q}_partitioned"],
                 "single-table plan": self.plans[f"{q}_single"]} for q in QUERIES]
        note = (f"{self.flights:,} flights ({self.domestic_rows:,} domestic, "
                f"{self.international_rows:,} international); flights of {self.airline} "
                f"from {self.origin}; medians of {self.repeats} runs.")
        return _html.rows_table(rows, note=note)


def compare_partitioning(fl: Flights, ports: Airports, *,
                         folder: str | os.PathLike | None = None, repeats: int = 5,
                         origin: str | None = None, airline: str = "NRD",
                         timer: Callable[[], float] = time.perf_counter) -> HorizontalResult:
    """Load ``fl`` into ``partitioned.sqlite3`` and ``single.sqlite3`` and time three
    queries on both: flights of ``airline`` from ``origin`` (default: the biggest hub's
    code) that are domestic, international, or either (UNION ALL of both partitions).

    ``folder``: where the files are written (and kept); None uses a temporary directory
    removed afterwards. ``timer`` returns seconds.
    """
    n = _check.integer("repeats", repeats, low=1, high=1000)
    if not callable(timer):
        raise TypeError(f"timer must be a callable returning seconds, got {timer!r}")
    for name, value in (("origin", origin), ("airline", airline)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {value!r}")
    check_pair(fl, ports)
    if origin is not None and origin not in set(ports.code.tolist()):
        raise ValueError(f"origin {origin!r} is not an airport code of ports "
                         f"(e.g. {ports.code[0]!r})")
    if airline not in AIRLINES:
        raise ValueError(f"unknown airline {airline!r}; choose one of {list(AIRLINES)}")
    if origin is None:
        origin = str(ports.code[int(np.bincount(fl.origin, minlength=ports.count).argmax())])
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="scalekit-horizontal-") as tmp:
            return _measure(Path(tmp), fl, ports, n, origin, airline, timer)
    if not isinstance(folder, str | os.PathLike):
        raise TypeError(f"folder must be None or a directory path, got {type(folder).__name__}")
    if not Path(folder).is_dir():
        raise ValueError(f"folder {str(folder)!r} is not an existing directory")
    return _measure(Path(folder), fl, ports, n, origin, airline, timer)


def _measure(folder: Path, fl, ports, repeats, origin, airline, timer) -> HorizontalResult:
    parted = load_partitioned(folder / "partitioned.sqlite3", fl, ports)
    single = load_flights(folder / "single.sqlite3", fl, ports, layout="wide")
    router = FlightRouter()
    med, times, plans, hits = {}, {}, {}, {}
    for q, domestic in zip(QUERIES, (True, False, None), strict=True):
        where = {"origin": origin, "airline": airline, "domestic": domestic}
        answers = []
        for kind, file, (sql, params) in (
                ("partitioned", parted.path, router.query(where)),
                ("single", single.path, router.single_table_query(where))):
            key = f"{q}_{kind}"
            try:
                with closing(sqlite3.connect(file)) as db:
                    med[key], times[key], rows = time_query(db, sql, params, repeats, timer)
                    plans[key] = query_plan(db, sql, params)
            except sqlite3.Error as exc:
                raise PartitionError(f"measuring {key} failed: {exc}") from exc
            answers.append(rows)
        if answers[0] != answers[1]:
            raise PartitionError(f"the {q} query answered differently on the partitions")
        hits[q] = len(answers[0])
    return HorizontalResult(
        flights=fl.count, repeats=repeats, origin=origin, airline=airline,
        domestic_rows=parted.domestic_rows, international_rows=parted.international_rows,
        **{f"{k}_ms": v for k, v in med.items()}, hits=hits, plans=plans, times_ms=times)

