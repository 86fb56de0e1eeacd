"""A shared session store on a real SQLite file, and what one request's visit to it costs.

The real mechanism. A database session backend (Django's ``django.contrib.sessions.backends.db``,
Flask-Session's SQLAlchemy backend) keeps one row per session: the session id the browser
holds in its cookie, the session's data serialised as text, and when it was last written.
On every request the application reads the row for the cookie's id, works with the data, and
writes it back. Every web server reads and writes the same table, so it no longer matters
which server the balancer picks — and the table is now something every request needs.

:class:`SessionStore` is that table on a real SQLite file:
``sessions(id TEXT PRIMARY KEY, data TEXT, updated_at REAL)``. :meth:`SessionStore.handle`
is one request's work — read, update, write back — in one transaction (``BEGIN IMMEDIATE``
… ``COMMIT``; rolled back if anything fails, so a failed request leaves the row as it was).
The file uses SQLite's write-ahead log; ``durable=True`` (the default) makes every commit
wait until the log is on disk (``synchronous=FULL``, what a database server does by
default), ``durable=False`` lets the operating system flush it later (``synchronous=NORMAL``).

:func:`measure_store_latency` times a sample of real :meth:`~SessionStore.handle` calls on
this machine; :func:`store_latency` measures once per process and keeps the result, so the
simulation (:mod:`scalekit.sessions.cluster`) is deterministic within a process. This is the
one place in the package that reads a clock: it measures real work, and never sleeps.
A session database on another machine adds a network round trip (0.1–0.5 ms within one
data centre) on top of what is measured here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalekit import _check, _html
from scalekit._sqlite import transaction
from scalekit.errors import DatabaseError

__all__ = ["SessionStore", "StoreError", "StoreLatency", "measure_store_latency",
           "store_latency", "SCHEMA"]

SCHEMA = "CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, data TEXT, updated_at REAL)"
_UPSERT = ("INSERT INTO sessions(id, data, updated_at) VALUES (?, ?, ?) "
           "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at")


class StoreError(DatabaseError):
    """The session database failed (the :mod:`sqlite3` error is chained as the cause)."""


def _dump(data: Mapping) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _session_id(value) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"session_id must be a non-empty str, got {value!r}")
    return value


class SessionStore:
    """The ``sessions`` table in the SQLite file at ``path`` (created if missing).

    Use it as a context manager, or call :meth:`close`. ``durable``: every commit waits for
    the disk (``synchronous=FULL``) — True — or not (``NORMAL``).
    """

    def __init__(self, path: str | os.PathLike, *, durable: bool = True):
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a file path, got {type(path).__name__}")
        self.path, self.durable = Path(path), _check.boolean("durable", durable)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)  # we run transactions
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the session database {str(path)!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SessionStore({str(self.path)!r}, durable={self.durable})"

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        try:
            return self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"counting the sessions failed: {exc}") from exc

    def load(self, session_id: str) -> dict | None:
        """The session's data, or None if the store holds no such session."""
        sid = _session_id(session_id)
        try:
            row = self._db.execute("SELECT data FROM sessions WHERE id = ?", (sid,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"reading session {sid!r} failed: {exc}") from exc
        return None if row is None else json.loads(row[0])

    def handle(self, session_id: str, update: Callable[[dict], dict], now: float) -> dict:
        """One request's visit: read the session (an empty dict if there is none), pass it
        to ``update``, write what it returns back with ``updated_at = now`` (s) — all in
        one transaction. Returns the new data."""
        session_id = _session_id(session_id)
        now = _check.number("now", now)
        if not callable(update):
            raise TypeError(f"update must be a callable taking and returning a dict, "
                            f"got {update!r}")
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")  # take the write lock before reading
            try:
                row = db.execute("SELECT data FROM sessions WHERE id = ?",
                                 (session_id,)).fetchone()
                data = update({} if row is None else json.loads(row[0]))
                db.execute(_UPSERT, (session_id, _dump(data), now))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"the session transaction for {session_id!r} failed: {exc}") \
                from exc
        return data

    def replace_all(self, rows: Iterable[tuple[str, Mapping, float]]) -> None:
        """Make the table hold exactly ``rows`` — (id, data, updated_at) — in one
        transaction: on any error the table is left as it was."""
        records, seen = [], set()
        for i, row in enumerate(_check.sequence("rows", rows, what="(id, data, updated_at) "
                                                "triples")):
            if not isinstance(row, tuple | list) or len(row) != 3:
                raise TypeError(f"rows[{i}] must be an (id, data, updated_at) triple, got "
                                f"{row!r}")
            sid, data, at = row
            sid = _session_id(sid)
            if not isinstance(data, Mapping):
                raise TypeError(f"rows[{i}] data must be a dict, got {type(data).__name__}")
            if sid in seen:
                raise ValueError(f"rows[{i}] repeats session id {sid!r}")
            seen.add(sid)
            records.append((sid, _dump(data), _check.number(f"rows[{i}] updated_at", at)))
        with transaction(self._db, f"writing {len(records)} sessions", error=StoreError) as db:
            db.execute("DELETE FROM sessions")
            db.executemany(_UPSERT, records)


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True, eq=False, repr=False)
class StoreLatency(_html.ScalarTable):
    """Measured time of one request's read + write transaction (:meth:`SessionStore.handle`,
    JSON decoding and encoding included), over ``samples`` real transactions on a store of
    ``sessions`` rows of about ``session_bytes`` bytes each."""

    samples: int
    sessions: int
    session_bytes: int
    durable: bool
    median_ms: float
    mean_ms: float
    p95_ms: float
    times_s: np.ndarray = field(repr=False)


def _viewed(data: dict) -> dict:
    data["viewed"] = [*data.get("viewed", []), "p00042"][-10:]
    return data


def measure_store_latency(samples: int = 300, *, sessions: int = 1000,
                          session_bytes: int = 200, durable: bool = True,
                          timer: Callable[[], float] = time.perf_counter) -> StoreLatency:
    """Time ``samples`` real read + write transactions on this machine.

    A fresh store in a temporary directory is filled with ``sessions`` sessions of about
    ``session_bytes`` bytes; each sample handles one of them, chosen at random (a fixed
    seed), as a request that records a viewed product would. ``timer`` returns seconds
    (the seam where the clock enters; :func:`time.perf_counter` by default).
    """
    n = _check.integer("samples", samples, low=1, high=100_000)
    rows = _check.integer("sessions", sessions, low=1, high=1_000_000)
    size = _check.integer("session_bytes", session_bytes, low=0, high=1_000_000)
    if not callable(timer):
        raise TypeError(f"timer must be a callable returning seconds, got {timer!r}")
    picks = np.random.default_rng(0).integers(0, rows, n).tolist()
    times = np.empty(n)
    with tempfile.TemporaryDirectory(prefix="scalekit-store-") as folder:
        with SessionStore(Path(folder) / "sessions.sqlite3", durable=durable) as store:
            data = {"user_id": 0, "profile": "x" * size}
            store.replace_all((f"s{i:06d}", data, 0.0) for i in range(rows))
            for k, i in enumerate(picks):
                start = timer()
                store.handle(f"s{i:06d}", _viewed, float(k))
                times[k] = timer() - start
    times.setflags(write=False)
    ms = times * 1e3
    return StoreLatency(samples=n, sessions=rows, session_bytes=size, durable=durable,
                        median_ms=float(np.median(ms)), mean_ms=float(ms.mean()),
                        p95_ms=float(np.percentile(ms, 95)), times_s=times)


_MEASURED: dict[bool, StoreLatency] = {}


def store_latency(*, durable: bool = True, remeasure: bool = False) -> StoreLatency:
    """:func:`measure_store_latency` at its defaults, measured once per process and kept
    (``remeasure=True`` measures again and keeps the new result)."""
    durable = _check.boolean("durable", durable)
    remeasure = _check.boolean("remeasure", remeasure)
    if remeasure or durable not in _MEASURED:
        _MEASURED[durable] = measure_store_latency(durable=durable)
    return _MEASURED[durable]
