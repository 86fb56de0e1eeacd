"""The course's airline example: airports, a year of flights, and loading them into SQLite.

The real mechanism. An airline booking site keeps one big ``flights`` table. Traffic is
skewed: a few hub airports (Atlanta, Dubai, Heathrow ...) carry much of it, so the airport a
flight leaves from follows a Zipf-like law — the airport of hub rank ``r`` (1 = the biggest)
is chosen with probability ``r**-skew / H``, ``H`` the sum over all airports. Flights cross
borders or not (``domestic``), leave more often at the morning and evening peaks than at
night, and last as long as their distance takes at cruising speed.

* :func:`airports` — ``n`` airports with a unique three-letter code, a city, a country and a
  position (degrees), countries in a realistic mix (the United States has the most);
* :func:`flights` — ``n`` flights as numpy columns (:class:`Flights`), vectorised: 300,000
  rows take about 0.2 s;
* :func:`load_flights` — write them to a real SQLite file, ``layout="wide"`` (one
  denormalised table repeating each airport's city and country) or ``"normalized"``
  (``flights`` referring to ``locations`` by foreign key), in ONE transaction with
  ``executemany``: on any error it is rolled back and the file is left as it was.

Everything is seeded (``seed``) and nothing is downloaded. Identifiers are fixed in code;
every value reaches SQLite as a bound parameter.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalekit import _check, _html
from scalekit._sqlite import file_transaction
from scalekit.errors import DatabaseError

__all__ = ["Airports", "Flights", "LoadResult", "PartitionError", "LAYOUTS", "AIRLINES",
           "flight_rows", "flight_tuples", "check_pair", "database_path", "write_transaction",
           "COUNTRIES", "YEAR_START_AT", "airports", "flights", "hub_weights", "load_flights"]

LAYOUTS = ("wide", "normalized")
MAX_AIRPORTS = 2000
MAX_WEIGHTS = 10_000_000  # hub_weights: 80 MB of float64, far past any course size
MAX_SKEW = 10.0  # beyond it every flight leaves the top hub (weights underflow to 0)
YEAR_START_AT = 1_704_067_200  # 2024-01-01T00:00:00Z, Unix seconds
DAYS = 366  # 2024 is a leap year
PROGRESS_EVERY = 50_000  # rows between progress callbacks (and insert batches)

# name, centre latitude and longitude (degrees), share of airports, spread (degrees)
COUNTRIES = (
    ("United States", 39.0, -98.0, 0.26, 9.0),
    ("China", 33.0, 105.0, 0.11, 7.0),
    ("United Kingdom", 53.0, -2.0, 0.06, 1.5),
    ("Germany", 51.0, 10.0, 0.06, 2.0),
    ("France", 46.5, 2.5, 0.06, 2.0),
    ("Spain", 40.0, -4.0, 0.05, 2.0),
    ("Italy", 42.5, 12.5, 0.05, 2.0),
    ("India", 22.0, 79.0, 0.08, 6.0),
    ("Japan", 36.0, 138.0, 0.05, 2.5),
    ("Brazil", -12.0, -50.0, 0.07, 8.0),
    ("Australia", -26.0, 134.0, 0.05, 8.0),
    ("Canada", 52.0, -100.0, 0.05, 8.0),
    ("Mexico", 23.0, -102.0, 0.03, 4.0),
    ("South Africa", -29.0, 24.0, 0.02, 3.0),
)
AIRLINES = ("NRD", "BLU", "ORA", "SKY", "VTX", "ZEP")
_AIRLINE_SHARE = np.array([0.28, 0.22, 0.18, 0.14, 0.10, 0.08])
# departures per hour of the (UTC) day: quiet at night, peaks in the morning and evening
_HOURLY = np.array([1, 0.5, 0.3, 0.3, 0.5, 2, 6, 9, 9, 8, 7, 6,
                    6, 6, 6, 7, 8, 9, 9, 8, 6, 4, 3, 2], dtype=float)
HOME_BIAS = 20.0  # how much likelier a destination in the origin's own country is
_CRUISE_KMH = 780.0
_TAXI_MIN = 25.0
_EARTH_KM = 6371.0
_FIRST = ("Ash", "Bel", "Cor", "Dun", "Elm", "Fair", "Glen", "Har", "Iver", "Kings",
          "Lake", "Mar", "North", "Oak", "Port", "Red", "Stone", "West", "Wood", "Bay")
_SECOND = ("bury", "ford", "ton", "ham", "wick", "mont", "field", "view", "dale", "haven",
           "port", "stead", "worth", "by", "gate", "mouth", "ridge", "well", "more", "brook")
_THIRD = ("", " Falls", " Harbor", " Springs", " Heights")


class PartitionError(DatabaseError):
    """A partitioning database failed (the :mod:`sqlite3` error is chained as the cause)."""


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False, repr=False)
class Airports(_html.ScalarTable):
    """``count`` airports, ordered by hub rank (index 0 is the biggest hub).

    Columns (numpy arrays, read-only): ``code`` (three letters, unique), ``city`` (unique),
    ``country``, ``lat`` and ``lon`` (degrees).
    """

    count: int
    countries: int
    seed: int | None
    code: np.ndarray = field(repr=False)
    city: np.ndarray = field(repr=False)
    country: np.ndarray = field(repr=False)
    lat: np.ndarray = field(repr=False)
    lon: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True, eq=False, repr=False)
class Flights(_html.ScalarTable):
    """``count`` flights as numpy columns (read-only), one element per flight.

    ``id`` 1..count; ``origin`` and ``destination`` are indices into the :class:`Airports`
    they were drawn from (never equal); ``airline`` a code from :data:`AIRLINES`;
    ``departs_at`` Unix seconds (UTC) during 2024; ``duration_min`` minutes gate to gate;
    ``domestic`` True when both airports are in the same country.
    """

    count: int
    skew: float
    seed: int | None
    domestic_share: float
    id: np.ndarray = field(repr=False)
    origin: np.ndarray = field(repr=False)
    destination: np.ndarray = field(repr=False)
    airline: np.ndarray = field(repr=False)
    departs_at: np.ndarray = field(repr=False)
    duration_min: np.ndarray = field(repr=False)
    domestic: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True, eq=False, repr=False)
class LoadResult(_html.ScalarTable):
    """What :func:`load_flights` wrote: ``rows`` flights (plus ``locations`` rows in the
    normalized layout) in ``seconds`` (s), ``rows_per_s`` flights per second, and the file's
    size afterwards, ``file_bytes``."""

    path: str
    layout: str
    rows: int
    locations: int
    seconds: float
    rows_per_s: float
    file_bytes: int

    def _repr_html_(self) -> str:
        """What a reader asks about (the temporary file's path is in ``table()``)."""
        written = f"{self.rows:,} flights" + (f" and {self.locations:,} locations"
                                              if self.locations else "")
        return _html.key_value_table(
            {"layout": self.layout, "written": written,
             "took": f"{self.seconds:.2f} s ({self.rows_per_s:,.0f} flights/s)",
             "file size": f"{self.file_bytes / 1e6:.1f} MB"},
            note="result.table(): every field, the file's path included")


# --------------------------------------------------------------------------- generation


def hub_weights(n: int, skew: float) -> np.ndarray:
    """The Zipf weights of ``n`` airports by hub rank: ``r**-skew`` normalised to sum to 1
    (``skew`` = 0 gives every airport the same share)."""
    n = _check.integer("n", n, low=1, high=MAX_WEIGHTS)
    s = _check.number("skew", skew, low=0.0, high=MAX_SKEW)
    w = np.arange(1, n + 1, dtype=float) ** -s
    return w / w.sum()


def _codes(rng: np.random.Generator, n: int) -> np.ndarray:
    picks = rng.choice(26 ** 3, size=n, replace=False)
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    parts = [letters[picks // 676], letters[(picks // 26) % 26], letters[picks % 26]]
    return np.char.add(np.char.add(parts[0], parts[1]), parts[2])


def _cities(rng: np.random.Generator, n: int) -> np.ndarray:
    picks = rng.choice(len(_FIRST) * len(_SECOND) * len(_THIRD), size=n, replace=False)
    first, rest = np.divmod(picks, len(_SECOND) * len(_THIRD))
    second, third = np.divmod(rest, len(_THIRD))
    return np.array([_FIRST[a] + _SECOND[b] + _THIRD[c]
                     for a, b, c in zip(first.tolist(), second.tolist(), third.tolist(),
                                        strict=True)])


def airports(n: int = 200, *, seed: int | None = 0) -> Airports:
    """``n`` airports (2..2000), ordered by hub rank, in :data:`COUNTRIES` by their share."""
    n = _check.integer("n", n, low=2, high=MAX_AIRPORTS)
    rng = np.random.default_rng(_check.seed(seed))
    share = np.array([c[3] for c in COUNTRIES])
    nation = rng.choice(len(COUNTRIES), size=n, p=share / share.sum())
    centre = np.array([[c[1], c[2], c[4]] for c in COUNTRIES])[nation]
    lat = np.clip(centre[:, 0] + rng.normal(0.0, 1.0, n) * centre[:, 2] / 2, -80, 80)
    lon = centre[:, 1] + rng.normal(0.0, 1.0, n) * centre[:, 2]
    names = np.array([c[0] for c in COUNTRIES])
    return Airports(count=n, countries=len(set(nation.tolist())), seed=seed,
                    code=_frozen(_codes(rng, n)), city=_frozen(_cities(rng, n)),
                    country=_frozen(names[nation]), lat=_frozen(lat), lon=_frozen(lon))


def _distance_km(ports: Airports, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lat1, lat2 = np.radians(ports.lat[a]), np.radians(ports.lat[b])
    dlon = np.radians(ports.lon[b] - ports.lon[a])
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _destinations(rng: np.random.Generator, ports: Airports, origin: np.ndarray,
                  p: np.ndarray) -> np.ndarray:
    """For each flight, a destination other than its origin: airport ``j`` with weight
    ``p[j]``, times :data:`HOME_BIAS` when it is in the origin's country (most flights are
    domestic). Drawn per origin airport, in airport order."""
    same = ports.country[:, None] == ports.country[None, :]
    w = p[None, :] * np.where(same, HOME_BIAS, 1.0)
    np.fill_diagonal(w, 0.0)
    w /= w.sum(axis=1, keepdims=True)
    order = np.argsort(origin, kind="stable")
    counts = np.bincount(origin, minlength=ports.count)
    dest = np.empty(len(origin), dtype=np.int64)
    at = 0
    for i in np.flatnonzero(counts).tolist():
        dest[order[at:at + counts[i]]] = rng.choice(ports.count, size=counts[i], p=w[i])
        at += counts[i]
    return dest


def flights(n: int = 300_000, ports: Airports | None = None, *, seed: int | None = 0,
            skew: float = 1.0) -> Flights:
    """``n`` flights between ``ports`` (default: :func:`airports` with the same seed).

    Origins follow :func:`hub_weights` with ``skew`` (>= 0); destinations too, weighted
    :data:`HOME_BIAS` times in the origin's country (so most flights are domestic); departures
    spread over 2024 with a daily profile, 5-minute slots; ``duration_min`` is the great-circle
    distance at 780 km/h, ±3%, plus 25 minutes of taxi.
    """
    n = _check.integer("n", n, low=1, high=50_000_000)
    s = _check.number("skew", skew, low=0.0, high=MAX_SKEW)
    if ports is None:
        ports = airports(seed=seed)
    elif not isinstance(ports, Airports):
        raise TypeError(f"ports must be Airports (from airports()), got {type(ports).__name__}")
    rng = np.random.default_rng(_check.seed(seed))
    p = hub_weights(ports.count, s)
    origin = rng.choice(ports.count, size=n, p=p)
    dest = _destinations(rng, ports, origin, p)
    airline = np.array(AIRLINES)[rng.choice(len(AIRLINES), size=n, p=_AIRLINE_SHARE)]
    day = rng.integers(0, DAYS, size=n)
    hour = rng.choice(24, size=n, p=_HOURLY / _HOURLY.sum())
    slot = rng.integers(0, 12, size=n)
    departs = YEAR_START_AT + day * 86_400 + hour * 3_600 + slot * 300
    km = _distance_km(ports, origin, dest)
    minutes = _TAXI_MIN + km / _CRUISE_KMH * 60.0 * rng.normal(1.0, 0.03, size=n)
    domestic = ports.country[origin] == ports.country[dest]
    return Flights(count=n, skew=s, seed=seed, domestic_share=float(domestic.mean()),
                   id=_frozen(np.arange(1, n + 1, dtype=np.int64)),
                   origin=_frozen(origin.astype(np.int32)),
                   destination=_frozen(dest.astype(np.int32)),
                   airline=_frozen(airline), departs_at=_frozen(departs.astype(np.int64)),
                   duration_min=_frozen(np.rint(minutes).astype(np.int32)),
                   domestic=_frozen(domestic))


# --------------------------------------------------------------------------- loading

_WIDE_DDL = (
    "CREATE TABLE flights(id INTEGER PRIMARY KEY, origin TEXT NOT NULL, origin_city TEXT, "
    "origin_country TEXT, destination TEXT NOT NULL, destination_city TEXT, "
    "destination_country TEXT, airline TEXT, departs_at INTEGER, duration_min INTEGER, "
    "domestic INTEGER)",
)
_WIDE_INSERT = "INSERT INTO flights VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_NORMALIZED_DDL = (
    "CREATE TABLE locations(id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, city TEXT, "
    "country TEXT)",
    "CREATE TABLE flights(id INTEGER PRIMARY KEY, "
    "origin_id INTEGER NOT NULL REFERENCES locations(id), "
    "destination_id INTEGER NOT NULL REFERENCES locations(id), airline TEXT, "
    "departs_at INTEGER, duration_min INTEGER, domestic INTEGER)",
)
_NORMALIZED_INSERT = "INSERT INTO flights VALUES (?, ?, ?, ?, ?, ?, ?)"
_LOCATIONS_INSERT = "INSERT INTO locations VALUES (?, ?, ?, ?)"


def flight_rows(fl: Flights, ports: Airports) -> list[dict]:
    """Every flight as a dict of the wide table's core columns — id, origin and destination
    (airport codes), airline, departs_at, duration_min, domestic (0/1) — the rows a
    :class:`~scalekit.partitioning.sharding.ShardRouter` stores."""
    check_pair(fl, ports)
    code = ports.code.tolist()
    return [{"id": i, "origin": code[o], "destination": code[d], "airline": a,
             "departs_at": t, "duration_min": m, "domestic": dom}
            for i, o, d, a, t, m, dom in zip(
                fl.id.tolist(), fl.origin.tolist(), fl.destination.tolist(),
                fl.airline.tolist(), fl.departs_at.tolist(), fl.duration_min.tolist(),
                fl.domestic.astype(int).tolist(), strict=True)]


def database_path(path) -> Path:
    """``path`` as a :class:`~pathlib.Path` for an SQLite file: in an existing directory, not
    itself a directory (ValueError/TypeError naming ``path`` otherwise)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    p = Path(path)
    if not p.parent.is_dir():
        raise ValueError(f"path {str(path)!r} is in a directory that does not exist")
    if p.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory, not a database file")
    return p




def check_pair(fl, ports) -> None:
    """Refuse ``fl`` and ``ports`` unless they are Flights and the Airports they were drawn
    from (TypeError/ValueError naming which)."""
    if not isinstance(fl, Flights):
        raise TypeError(f"fl must be Flights (from flights()), got {type(fl).__name__}")
    if not isinstance(ports, Airports):
        raise TypeError(f"ports must be Airports (from airports()), "
                        f"got {type(ports).__name__}")
    top = int(max(fl.origin.max(), fl.destination.max()))
    if top >= ports.count:
        raise ValueError(f"ports has {ports.count} airports but fl refers to "
                         f"airport index {top}: pass the airports the flights were drawn from")


def flight_tuples(fl: Flights, ports: Airports, layout: str, lo: int, hi: int) -> list[tuple]:
    """Flights ``lo`` … ``hi − 1`` as the value tuples of the ``layout`` table's rows (wide:
    codes, cities and countries inline; normalized: location ids)."""
    check_pair(fl, ports)
    layout = _check.choice("layout", layout, LAYOUTS)
    lo = _check.integer("lo", lo, low=0, high=fl.count)
    hi = _check.integer("hi", hi, low=lo, high=fl.count)
    o, d = fl.origin[lo:hi], fl.destination[lo:hi]
    tail = [fl.airline[lo:hi].tolist(), fl.departs_at[lo:hi].tolist(),
            fl.duration_min[lo:hi].tolist(), fl.domestic[lo:hi].astype(int).tolist()]
    if layout == "normalized":
        head = [fl.id[lo:hi].tolist(), (o + 1).tolist(), (d + 1).tolist()]
    else:
        head = [fl.id[lo:hi].tolist()]
        for a in (o, d):
            head += [ports.code[a].tolist(), ports.city[a].tolist(), ports.country[a].tolist()]
    return list(zip(*head, *tail, strict=True))


def _write(db: sqlite3.Connection, fl: Flights, ports: Airports, layout: str,
           progress: Callable[[int, int], object] | None) -> None:
    db.execute("DROP TABLE IF EXISTS flights")
    db.execute("DROP TABLE IF EXISTS locations")
    if layout == "normalized":
        for ddl in _NORMALIZED_DDL:
            db.execute(ddl)
        db.executemany(_LOCATIONS_INSERT, zip(range(1, ports.count + 1), ports.code.tolist(),
                                              ports.city.tolist(), ports.country.tolist(),
                                              strict=True))
    else:
        for ddl in _WIDE_DDL:
            db.execute(ddl)
    insert = _NORMALIZED_INSERT if layout == "normalized" else _WIDE_INSERT
    for lo in range(0, fl.count, PROGRESS_EVERY):
        hi = min(lo + PROGRESS_EVERY, fl.count)
        db.executemany(insert, flight_tuples(fl, ports, layout, lo, hi))
        if progress is not None:
            progress(hi, fl.count)


def load_flights(path: str | os.PathLike, fl: Flights, ports: Airports, *,
                 layout: str = "wide", progress: Callable[[int, int], object] | None = None,
                 timer: Callable[[], float] = time.perf_counter) -> LoadResult:
    """Write ``fl`` (and ``ports``) to the SQLite file at ``path`` in one transaction.

    ``layout="wide"``: one ``flights`` table with the origin's and destination's code, city
    and country repeated on every row. ``"normalized"``: ``locations(id, code, city,
    country)`` and ``flights(..., origin_id, destination_id)`` with foreign keys (enforced)
    to it. Tables of those names already in the file are replaced. ``progress(done, total)``
    is called every 50,000 rows; an exception from it (or anything else) rolls back, and the
    file is left as it was (a file that did not exist is removed). ``timer`` returns seconds.
    """
    target = database_path(path)
    layout = _check.choice("layout", layout, LAYOUTS)
    check_pair(fl, ports)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be None or a callable(done, total), got {progress!r}")
    _check.function("timer", timer)
    existed = target.exists()
    start = timer()
    try:
        _transaction(target, fl, ports, layout, progress)
    except BaseException:
        if not existed:
            target.unlink(missing_ok=True)
        raise
    seconds = timer() - start
    return LoadResult(path=str(target), layout=layout, rows=fl.count,
                      locations=ports.count if layout == "normalized" else 0,
                      seconds=seconds, rows_per_s=fl.count / seconds if seconds > 0 else 0.0,
                      file_bytes=target.stat().st_size)


@contextlib.contextmanager
def write_transaction(target: Path, what: str, *, foreign_keys: bool = False):
    """A connection to the SQLite file ``target`` inside ``BEGIN IMMEDIATE``: committed if
    the block succeeds, rolled back on any error (so the file is as it was), closed either
    way; an SQLite error comes out as :class:`PartitionError` saying ``what`` failed, with
    the cause chained."""
    with file_transaction(target, f"{what} in {str(target)!r}", error=PartitionError,
                          foreign_keys=foreign_keys) as db:
        yield db


def _transaction(target: Path, fl: Flights, ports: Airports, layout: str, progress) -> None:
    with write_transaction(target, f"loading {fl.count} flights ({layout})",
                           foreign_keys=True) as db:
        _write(db, fl, ports, layout, progress)
