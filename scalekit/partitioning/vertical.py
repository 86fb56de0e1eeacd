"""Vertical partitioning, measured on real SQLite: one wide table or two narrow ones.

The real mechanism. Splitting a table by columns — here moving each airport's city and
country out of ``flights`` into a ``locations`` table that ``flights`` refers to by foreign
key — makes every row shorter: the file shrinks, and a query that needs only the flight
columns (average duration per airline) reads fewer pages. A query that needs the moved
columns (flights from a city to a country) now pays for a join. :func:`compare_layouts`
builds both layouts from the same flights (:func:`~scalekit.partitioning.data.load_flights`)
and times both queries on both files with real SQLite, each ``repeats`` times (warm page
cache), keeping the median, and captures ``EXPLAIN QUERY PLAN`` for the lookup.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalekit import _check, _html
from scalekit.partitioning.data import (
    LAYOUTS,
    Airports,
    Flights,
    PartitionError,
    check_pair,
    load_flights,
)

__all__ = ["VerticalResult", "compare_layouts", "query_plan", "time_query", "SCAN_SQL",
           "LOOKUP_SQL"]

# the narrow scan needs no location column: the same SQL runs on both layouts
SCAN_SQL = ("SELECT airline, AVG(duration_min), COUNT(*) FROM flights "
            "GROUP BY airline ORDER BY airline")
# flights from a city to a country, the same columns from both layouts
LOOKUP_SQL = {
    "wide": ("SELECT id, origin, origin_city, origin_country, destination, destination_city, "
             "destination_country, airline, departs_at, duration_min, domestic FROM flights "
             "WHERE origin_city = ? AND destination_country = ? ORDER BY id"),
    "normalized": ("SELECT f.id, o.code, o.city, o.country, d.code, d.city, d.country, "
                   "f.airline, f.departs_at, f.duration_min, f.domestic FROM flights AS f "
                   "JOIN locations AS o ON o.id = f.origin_id "
                   "JOIN locations AS d ON d.id = f.destination_id "
                   "WHERE o.city = ? AND d.country = ? ORDER BY f.id"),
}


@dataclass(frozen=True, eq=False, repr=False)
class VerticalResult(_html.ScalarTable):
    """Both layouts of the same ``flights`` rows, measured: file sizes (bytes), the narrow
    scan and the lookup from ``city`` to ``country`` (median of ``repeats`` runs, ms), the
    lookup's ``lookup_rows`` (the same in both layouts) and its query plans."""

    flights: int
    repeats: int
    city: str
    country: str
    lookup_rows: int
    wide_bytes: int
    normalized_bytes: int
    scan_wide_ms: float
    scan_normalized_ms: float
    lookup_wide_ms: float
    lookup_normalized_ms: float
    wide_plan: str = field(repr=False)
    normalized_plan: str = field(repr=False)
    times_ms: dict = field(repr=False)

    @property
    def size_ratio(self) -> float:
        """Normalized file size / wide file size (< 1: the split saves space)."""
        return self.normalized_bytes / self.wide_bytes

    def _repr_html_(self) -> str:
        rows = [{"layout": name, "file (MB)": size / 1e6, "narrow scan (ms)": scan,
                 "lookup (ms)": look, "lookup query plan": plan}
                for name, size, scan, look, plan in (
                    ("wide", self.wide_bytes, self.scan_wide_ms, self.lookup_wide_ms,
                     self.wide_plan),
                    ("normalized", self.normalized_bytes, self.scan_normalized_ms,
                     self.lookup_normalized_ms, self.normalized_plan))]
        note = (f"{self.flights:,} flights; lookup: flights from {self.city} to "
                f"{self.country} ({self.lookup_rows} rows); medians of {self.repeats} runs.")
        return _html.rows_table(rows, note=note)


MAX_REPEATS = 1000


def _statement(db, sql, params) -> None:
    """Refuse anything but an open connection, SQL text and a tuple/list/dict of bound
    parameters (naming which)."""
    _check.instance("db", db, sqlite3.Connection)
    _check.text("sql", sql)
    if not isinstance(params, tuple | list | dict):
        raise TypeError(f"params must be a tuple, list or dict of bound values, "
                        f"got {type(params).__name__}")


def _execute(db: sqlite3.Connection, sql: str, params) -> list:
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.ProgrammingError as exc:
        raise ValueError(f"sql and params do not fit together ({len(params)} params "
                         f"given): {exc}") from exc
    except sqlite3.Error as exc:
        raise ValueError(f"sql {sql!r} failed: {exc}") from exc


def query_plan(db: sqlite3.Connection, sql: str, params: tuple = ()) -> str:
    """SQLite's ``EXPLAIN QUERY PLAN`` for ``sql`` on ``db``, one step per line (``SCAN``
    reads a whole table, ``SEARCH … USING INDEX`` jumps to the rows)."""
    _statement(db, sql, params)
    rows = _execute(db, "EXPLAIN QUERY PLAN " + sql, params)
    return "\n".join(row[-1] for row in rows)


def time_query(db: sqlite3.Connection, sql: str, params: tuple, repeats: int,
               timer: Callable[[], float] = time.perf_counter
               ) -> tuple[float, np.ndarray, list]:
    """Run ``sql`` on ``db`` ``repeats`` times, fetching every row: the median time (ms),
    each run's time (ms) and the rows of the last run. ``timer`` returns seconds."""
    _statement(db, sql, params)
    repeats = _check.integer("repeats", repeats, low=1, high=MAX_REPEATS)
    _check.function("timer", timer)
    times = np.empty(repeats)
    for k in range(repeats):
        start = timer()
        rows = _execute(db, sql, params)
        times[k] = (timer() - start) * 1e3
    return float(np.median(times)), times, rows


def _default_query(fl: Flights, ports: Airports) -> tuple[str, str]:
    """The biggest hub's city, and the foreign country its flights go to most."""
    hub = int(np.bincount(fl.origin, minlength=ports.count).argmax())
    away = ports.country[fl.destination[(fl.origin == hub) & ~fl.domestic]]
    if away.size == 0:
        return str(ports.city[hub]), str(ports.country[hub])
    names, counts = np.unique(away, return_counts=True)
    return str(ports.city[hub]), str(names[counts.argmax()])


def compare_layouts(fl: Flights, ports: Airports, *, folder: str | os.PathLike | None = None,
                    repeats: int = 5, city: str | None = None, country: str | None = None,
                    timer: Callable[[], float] = time.perf_counter) -> VerticalResult:
    """Load ``fl`` into ``wide.sqlite3`` and ``normalized.sqlite3`` and measure both.

    ``folder``: where the two files are written (and kept); None uses a temporary directory
    removed afterwards. ``city``/``country``: the lookup (default: the biggest hub's city and
    the foreign country it flies to most). ``timer`` returns seconds.
    """
    n = _check.integer("repeats", repeats, low=1, high=MAX_REPEATS)
    if not callable(timer):
        raise TypeError(f"timer must be a callable returning seconds, got {timer!r}")
    for name, value in (("city", city), ("country", country)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be None or a str, got {value!r}")
    check_pair(fl, ports)
    if city is not None and city not in set(ports.city.tolist()):
        raise ValueError(f"city {city!r} is not a city of ports (e.g. {ports.city[0]!r})")
    if country is not None and country not in set(ports.country.tolist()):
        raise ValueError(f"country {country!r} is not a country of ports "
                         f"(e.g. {ports.country[0]!r})")
    if folder is not None:
        if not isinstance(folder, str | os.PathLike):
            raise TypeError(f"folder must be None or a directory path, "
                            f"got {type(folder).__name__}")
        if not Path(folder).is_dir():
            raise ValueError(f"folder {str(folder)!r} is not an existing directory")
        return _measure(Path(folder), fl, ports, n, city, country, timer)
    with tempfile.TemporaryDirectory(prefix="scalekit-vertical-") as tmp:
        return _measure(Path(tmp), fl, ports, n, city, country, timer)


def _measure(folder: Path, fl, ports, repeats, city, country, timer) -> VerticalResult:
    loaded = {layout: load_flights(folder / f"{layout}.sqlite3", fl, ports, layout=layout)
              for layout in LAYOUTS}
    default_city, default_country = _default_query(fl, ports)
    params = (city or default_city, country or default_country)
    med, times, plans, results = {}, {}, {}, {}
    for layout in LAYOUTS:
        try:
            db = sqlite3.connect(loaded[layout].path)
            try:
                for query, sql, args in (("scan", SCAN_SQL, ()),
                                         ("lookup", LOOKUP_SQL[layout], params)):
                    key = f"{query}_{layout}"
                    med[key], times[key], results[key] = time_query(db, sql, args, repeats,
                                                                    timer)
                plans[layout] = query_plan(db, LOOKUP_SQL[layout], params)
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise PartitionError(f"measuring the {layout} layout failed: {exc}") from exc
    if results["lookup_wide"] != results["lookup_normalized"]:
        raise PartitionError("the two layouts answered the lookup differently")
    return VerticalResult(
        flights=fl.count, repeats=repeats, city=params[0], country=params[1],
        lookup_rows=len(results["lookup_wide"]),
        wide_bytes=loaded["wide"].file_bytes, normalized_bytes=loaded["normalized"].file_bytes,
        scan_wide_ms=med["scan_wide"], scan_normalized_ms=med["scan_normalized"],
        lookup_wide_ms=med["lookup_wide"], lookup_normalized_ms=med["lookup_normalized"],
        wide_plan=plans["wide"], normalized_plan=plans["normalized"], times_ms=times)
