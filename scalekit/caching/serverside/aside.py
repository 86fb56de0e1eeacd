"""Cache-aside (look-aside) in front of a real SQLite airline database: hit ratio by policy
and size, and the theory to judge it by.

The real mechanism. The application asks the cache first; on a miss it queries the database
and stores the answer in the cache (demand fill) — the "look-aside" cache of "Scaling
Memcache at Facebook" (Nishtala et al., NSDI 2013). On a write it updates the database and
then either deletes the cached copy (Facebook's choice: deletes are idempotent), updates it,
or writes both under one lock (write-through). How much a cache absorbs is
:func:`hit_ratio_curve`; how a TTL trades load for staleness is
:mod:`scalekit.caching.serverside.ttl`; the invalidation races on write are
:mod:`scalekit.caching.serverside.invalidation`.

* :func:`hit_ratio_curve` — how many reads a cache of C keys absorbs. Requests follow a Zipf
  law over the flights (the flight of popularity rank r is asked for with probability
  ∝ r^−s), every miss is a real ``SELECT`` on SQLite. Under this independent reference
  model (IRM), Che's approximation (Che, Tung & Wang 2002; Fricker, Robert & Roberts 2012)
  gives LRU's hit ratio: h = Σ p_i (1 − e^{−p_i T}) where the characteristic time T solves
  Σ (1 − e^{−p_i T}) = C (:func:`che_lru_hit_ratio`). Random eviction (and FIFO) has the
  same form with p_i T / (1 + p_i T) in place of 1 − e^{−p_i T} (Gelenbe 1973; Fricker et al.
  2012; :func:`che_random_hit_ratio`). A perfect LFU keeps the C most popular keys:
  h = the sum of the top C popularities (:func:`lfu_hit_ratio`).

Units: rates per second; time in seconds.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalekit import _check, _html
from scalekit._sqlite import transaction
from scalekit.caching.serverside.common import INVALIDATIONS, checked_progress, frozen
from scalekit.caching.serverside.store import Cache
from scalekit.errors import DatabaseError
from scalekit.partitioning import data

__all__ = ["CacheAside", "CacheDbError", "HitRatioCurve", "INVALIDATIONS", "airline_db",
           "zipf_popularities", "che_lru_hit_ratio", "che_random_hit_ratio", "lfu_hit_ratio",
           "theory_curve", "hit_ratio_curve", "MAX_REQUESTS"]

MAX_REQUESTS = 5_000_000  # requests × policies × sizes in one hit_ratio_curve
_SELECT = ("SELECT id, origin, destination, airline, departs_at, duration_min "
           "FROM flights WHERE id = ?")


class CacheDbError(DatabaseError):
    """The database behind the cache failed (the :mod:`sqlite3` error is chained)."""


# --------------------------------------------------------------------------- the database


class NoSuchFlight(KeyError, ValueError):
    """A flight_id the database does not hold: a KeyError (documented) and a ValueError
    naming ``flight_id``."""

    def __str__(self) -> str:
        return str(self.args[0])


def airline_db(path: str | os.PathLike, flights: int = 20_000, *, seed: int | None = 0) -> Path:
    """The SQLite file at ``path`` holding ``flights`` flights (the wide layout of
    :func:`scalekit.partitioning.data.load_flights`, airports and flights drawn with
    ``seed``). A file this function built with the same ``flights`` and ``seed`` is reused
    as it is; anything else there is replaced. 20,000 flights take about 0.1 s."""
    n = _check.integer("flights", flights, low=1, high=2_000_000)
    s = _check.seed(seed)
    target = data.database_path(path)
    if _built_with(target) == (n, s):
        return target
    ports = data.airports(seed=s)
    data.load_flights(target, data.flights(n, ports, seed=s), ports)
    with data.write_transaction(target, "recording how the airline data was built") as db:
        db.execute("CREATE TABLE IF NOT EXISTS scalekit_meta(name TEXT PRIMARY KEY, value)")
        db.executemany("INSERT OR REPLACE INTO scalekit_meta VALUES (?, ?)",
                       [("flights", n), ("seed", -1 if s is None else s)])
    return target


def _db_with(path, keys: int) -> Path:
    """An airline database at ``path`` with at least ``keys`` flights: the file as it is if
    :func:`airline_db` built it big enough (whatever its seed), else built with seed 0."""
    built = _built_with(data.database_path(path))
    if built is not None and built[0] >= keys:
        return Path(path)
    return airline_db(path, keys, seed=0)


def _built_with(target: Path) -> tuple[int, int | None] | None:
    if not target.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True)) as db:
            meta = dict(db.execute("SELECT name, value FROM scalekit_meta"))
            rows = db.execute("SELECT count(*) FROM flights").fetchone()[0]
    except sqlite3.Error:
        return None
    if meta.get("flights") != rows or meta.get("seed") == -1:
        return None
    return rows, meta.get("seed")


# --------------------------------------------------------------------------- cache-aside


class CacheAside:
    """Reads and writes of flights through ``cache`` in front of the SQLite file
    ``db_path`` (made by :func:`airline_db`). A read asks the cache, and on a miss runs
    ``SELECT ... WHERE id = ?`` and stores the row for ``ttl_s`` seconds (None: the cache's
    default). Counts ``reads``, ``db_reads``, ``writes`` and ``db_time_s`` (measured).
    Use as a context manager, or call :meth:`close`."""

    def __init__(self, db_path: str | os.PathLike, cache: Cache, ttl_s: float | None = None):
        if not isinstance(cache, Cache):
            raise TypeError(f"cache must be a Cache, got {type(cache).__name__}")
        if not isinstance(db_path, str | os.PathLike):
            raise TypeError(f"db_path must be a file path, got {type(db_path).__name__}")
        path = data.database_path(db_path)
        if not path.exists():
            raise ValueError(f"db_path {str(db_path)!r} does not exist: build it with "
                             f"airline_db()")
        self.ttl_s = None if ttl_s is None else _check.positive("ttl_s", ttl_s)
        self.cache = cache
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise CacheDbError(f"cannot open {str(path)!r}: {exc}") from exc
        self._locks: dict[int, threading.Lock] = {}
        self.reads = self.db_reads = self.writes = 0
        self.db_time_s = 0.0

    def _select(self, flight_id: int):
        start = time.perf_counter()
        try:
            row = self._db.execute(_SELECT, (flight_id,)).fetchone()
        except sqlite3.Error as exc:
            raise CacheDbError(f"reading flight {flight_id} failed: {exc}") from exc
        self.db_time_s += time.perf_counter() - start
        self.db_reads += 1
        if row is None:
            raise NoSuchFlight(f"flight_id {flight_id}: no flight with that id")
        return row

    def read(self, flight_id: int) -> tuple:
        """The flight's row (id, origin, destination, airline, departs_at, duration_min),
        from the cache or the database; KeyError if there is no such flight."""
        _check.integer("flight_id", flight_id, low=1)
        self.reads += 1
        row = self.cache.get(flight_id)
        if row is None:
            row = self._select(flight_id)
            self.cache.set(flight_id, row, self.ttl_s)
        return row

    def write(self, flight_id: int, departs_at: int, *, invalidation: str = "delete") -> tuple:
        """Reschedule a flight: ``UPDATE flights SET departs_at = ?`` (Unix seconds) in one
        transaction, then ``invalidation``: ``"delete"`` the cached row, ``"update"`` it to
        the new row, or ``"write-through"``: database and cache written under the key's
        lock. Returns the new row; KeyError if there is no such flight."""
        how = _check.choice("invalidation", invalidation, INVALIDATIONS)
        fid = _check.integer("flight_id", flight_id, low=1)
        when = _check.integer("departs_at", departs_at, low=0)
        lock = self._locks.setdefault(fid, threading.Lock()) if how == "write-through" \
            else contextlib.nullcontext()
        with lock:
            row = self._update(fid, when)
            if how == "delete":
                self.cache.delete(fid)
            else:
                self.cache.set(fid, row, self.ttl_s)
        self.writes += 1
        return row

    def _update(self, fid: int, when: int) -> tuple:
        start = time.perf_counter()
        try:
            with transaction(self._db, f"updating flight {fid}", error=CacheDbError) as db:
                changed = db.execute("UPDATE flights SET departs_at = ? WHERE id = ?",
                                     (when, fid)).rowcount
                row = db.execute(_SELECT, (fid,)).fetchone()
        finally:
            self.db_time_s += time.perf_counter() - start
        if not changed:
            raise NoSuchFlight(f"flight_id {fid}: no flight with that id")
        return row

    @contextlib.contextmanager
    def snapshot(self):
        """Run the reads inside the block in one SQLite read transaction: each query skips
        taking and dropping the file's shared lock (about twice as fast), and the block sees
        one snapshot of the database. Do not :meth:`write` inside it."""
        try:
            self._db.execute("BEGIN")
        except sqlite3.Error as exc:
            raise CacheDbError(f"cannot start a read transaction: {exc}") from exc
        try:
            yield self
        finally:
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------- theory


def zipf_popularities(keys: int, skew: float) -> np.ndarray:
    """p_r ∝ r^−skew for ranks r = 1 … keys, summing to 1."""
    return data.hub_weights(_check.integer("keys", keys, low=1, high=data.MAX_WEIGHTS), skew)


def _solve(occupancy: Callable[[float], float], capacity: float) -> float:
    """The T > 0 with occupancy(T) = capacity (occupancy increasing from 0), by bisection."""
    lo, hi = 0.0, 1.0
    while occupancy(hi) < capacity:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if occupancy(mid) < capacity:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


def _popularities(popularities) -> np.ndarray:
    p = _check.array("popularities", popularities, low=0.0, min_len=1)
    if p.sum() <= 0:
        raise ValueError("popularities must not all be 0")
    return p / p.sum()


def _capacity(capacity) -> int:
    return _check.integer("capacity", capacity, low=0)


def che_lru_hit_ratio(popularities: Sequence[float], capacity: int) -> float:
    """LRU's hit ratio under the IRM by Che's approximation: Σ p_i (1 − e^{−p_i T}) with
    Σ (1 − e^{−p_i T}) = capacity (``popularities`` normalised to sum to 1)."""
    p, c = _popularities(popularities), _capacity(capacity)
    if c == 0:
        return 0.0
    if c >= np.count_nonzero(p):
        return 1.0
    t = _solve(lambda t: float(-np.expm1(-p * t).sum()), c)
    return float(np.dot(p, -np.expm1(-p * t)))


def che_random_hit_ratio(popularities: Sequence[float], capacity: int) -> float:
    """Random eviction's (and FIFO's) hit ratio under the IRM: Σ p_i·p_iT/(1 + p_iT) with
    Σ p_iT/(1 + p_iT) = capacity."""
    p, c = _popularities(popularities), _capacity(capacity)
    if c == 0:
        return 0.0
    if c >= np.count_nonzero(p):
        return 1.0
    t = _solve(lambda t: float((p * t / (1 + p * t)).sum()), c)
    return float(np.dot(p, p * t / (1 + p * t)))


def lfu_hit_ratio(popularities: Sequence[float], capacity: int) -> float:
    """A perfect LFU's hit ratio under the IRM: the sum of the ``capacity`` largest
    popularities."""
    p, c = _popularities(popularities), _capacity(capacity)
    return float(min(1.0, np.sort(p)[::-1][:c].sum()))


def theory_curve(policy: str, popularities: Sequence[float], *, points: int = 48
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(capacities, hit ratios) along the whole IRM curve of one eviction ``policy`` —
    Che's form for LRU, its random-eviction twin, the top-C sum for LFU — at ``points``
    capacities spread evenly on a log scale. Parametric in the characteristic time T (each
    T gives a capacity and a hit ratio at once), so no equation is solved: cheap enough to
    redraw in a widget."""
    name = _check.choice("policy", policy, _eviction_policies())
    n = _check.integer("points", points, low=2, high=10_000)
    p = np.sort(_popularities(popularities))[::-1]
    if name.endswith("lfu"):
        caps = np.unique(np.geomspace(1, p.size, n).round().astype(np.int64))
        return caps.astype(float), np.minimum(1.0, np.cumsum(p)[caps - 1])
    t = np.geomspace(0.1 / p[0], 50.0 / p[-1], n)[:, None]
    if name.endswith("lru"):
        held = -np.expm1(-p * t)
    else:  # random eviction
        held = p * t / (1 + p * t)
    return held.sum(axis=1), held @ p


# --------------------------------------------------------------------------- hit ratio


@dataclass(frozen=True, eq=False, repr=False)
class HitRatioCurve(_html.ScalarTable):
    """Hit ratio by policy (rows, in ``policies`` order) and cache size (columns, ``sizes``
    in keys) for ``requests`` Zipf(``skew``) reads over ``keys`` flights; the first
    ``warmup`` requests fill the cache and are not counted in ``hit_ratio``. ``db_reads`` and
    ``db_time_s`` (measured SQLite time, s) count every request. ``che_lru``,
    ``che_random`` and ``lfu_top`` are the IRM predictions per size (see the module);
    ``seconds`` the wall time of the whole run."""

    keys: int
    requests: int
    warmup: int
    skew: float
    seed: int | None
    seconds: float
    policies: tuple[str, ...] = field(repr=False)
    sizes: np.ndarray = field(repr=False)
    hit_ratio: np.ndarray = field(repr=False)
    db_reads: np.ndarray = field(repr=False)
    db_time_s: np.ndarray = field(repr=False)
    che_lru: np.ndarray = field(repr=False)
    che_random: np.ndarray = field(repr=False)
    lfu_top: np.ndarray = field(repr=False)

    def curve(self, policy: str) -> np.ndarray:
        """The hit ratios of one policy, one per size."""
        return self.hit_ratio[self.policies.index(_check.choice("policy", policy,
                                                                self.policies))]


def _requests(keys: int, skew: float, n: int, seed) -> list[int]:
    """``n`` flight ids: Zipf ranks mapped to ids by a seeded permutation."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(keys) + 1
    ranks = rng.choice(keys, size=n, p=zipf_popularities(keys, skew))
    return ids[ranks].tolist()


def hit_ratio_curve(sizes: Sequence[int], *,
                    policies: Sequence[str] = ("allkeys-lru", "allkeys-lfu", "allkeys-random"),
                    skew: float = 1.0, requests: int = 20_000, keys: int = 20_000,
                    warmup: float = 0.25, samples: int | None = None, seed: int | None = 0,
                    db_path: str | os.PathLike | None = None,
                    progress: Callable[[int, int], object] | None = None) -> HitRatioCurve:
    """Replay ``requests`` Zipf(``skew``) flight reads through a cache-aside of each size
    and policy (a real SQLite query on every miss). ``keys``: flights in the database (and
    distinct keys requested); ``warmup``: the share of requests, at the start, not counted
    in the hit ratio; ``samples``: Redis-style sampled eviction (None: exact).
    ``db_path``: an :func:`airline_db` file with at least ``keys`` flights to use (else
    built there with seed 0; None: a temporary one). ``progress(done, total)`` after
    each (policy, size)."""
    sz = _check.array("sizes", sizes, low=1, min_len=1)
    if not np.all(sz == np.round(sz)):
        raise ValueError("sizes must be whole numbers of keys")
    sz = sz.astype(np.int64)
    if isinstance(policies, str) or not isinstance(policies, Sequence):
        raise TypeError(f"policies must be a sequence of policy names, got "
                        f"{type(policies).__name__}")
    if db_path is not None and not isinstance(db_path, str | os.PathLike):
        raise TypeError(f"db_path must be None or a file path, got {type(db_path).__name__}")
    pols = tuple(_check.choice("policies", p, _eviction_policies()) for p in policies)
    if not pols:
        raise ValueError("policies must name at least one policy")
    s = _check.non_negative("skew", skew)
    n = _check.integer("requests", requests, low=1)
    k = _check.integer("keys", keys, low=1, high=2_000_000)
    share = _check.number("warmup", warmup, low=0.0, high=1.0, high_open=True)
    seed = _check.seed(seed)
    progress = checked_progress(progress)
    if n * len(pols) * sz.size > MAX_REQUESTS:
        raise ValueError(f"requests × policies × sizes = {n * len(pols) * sz.size:,} is over "
                         f"{MAX_REQUESTS:,}: fewer requests, sizes or policies")
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if db_path is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            db_path = Path(folder) / "airline.sqlite"
        path = _db_with(db_path, k)
        stream = _requests(k, s, n, seed)
        skip = int(share * n)
        shape = (len(pols), sz.size)
        hit, reads, db_s = np.zeros(shape), np.zeros(shape, dtype=np.int64), np.zeros(shape)
        for i, policy in enumerate(pols):
            for j, size in enumerate(sz.tolist()):
                cache = Cache(size, policy, samples=samples, seed=seed)
                with CacheAside(path, cache) as aside:
                    hit[i, j] = _replay(aside, stream, skip)
                    reads[i, j], db_s[i, j] = aside.db_reads, aside.db_time_s
                if progress is not None:
                    progress(i * sz.size + j + 1, len(pols) * sz.size)
    p = zipf_popularities(k, s)
    theory = {name: frozen([fn(p, int(c)) for c in sz]) for name, fn in
              (("che_lru", che_lru_hit_ratio), ("che_random", che_random_hit_ratio),
               ("lfu_top", lfu_hit_ratio))}
    return HitRatioCurve(keys=k, requests=n, warmup=skip, skew=s, seed=seed,
                         seconds=time.perf_counter() - start, policies=pols,
                         sizes=frozen(sz), hit_ratio=frozen(hit), db_reads=frozen(reads),
                         db_time_s=frozen(db_s), **theory)


def _eviction_policies() -> tuple[str, ...]:
    from scalekit.caching.serverside.store import POLICIES
    return tuple(p for p in POLICIES if p.startswith("allkeys-"))


def _replay(aside: CacheAside, stream: list[int], skip: int) -> float:
    """Read every id in ``stream``; the hit ratio after the first ``skip`` reads."""
    read = aside.read
    with aside.snapshot():
        for fid in stream[:skip]:
            read(fid)
        before = aside.db_reads
        for fid in stream[skip:]:
            read(fid)
    counted = len(stream) - skip
    return 1.0 - (aside.db_reads - before) / counted if counted else 0.0
