"""Several primaries handing out keys on their own, and the merge that collides — on real
SQLite. Part of the multi-primary story (:mod:`scalekit.replication.multi` re-exports all of
it).

Each primary hands out ``INTEGER PRIMARY KEY AUTOINCREMENT`` ids 1, 2, 3 ... on its own, so
merging one node's ``orders`` into another raises SQLite's real ``IntegrityError: UNIQUE
constraint failed: orders.id`` (re-raised here as :class:`KeyCollisionError`, the cause
chained). Fixes: MySQL's ``auto_increment_increment`` / ``auto_increment_offset``
(:class:`IncrementOffset`: node ``i`` of ``n`` hands out ``i, i+n, i+2n`` ...; InnoDB Cluster
uses increment 7) and random UUIDs (:class:`UuidKeys`). :func:`collide_keys` runs the story.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.errors import DatabaseError
from scalekit.replication.databases import all_or_nothing, checksum
from scalekit.replication.log import ReplicationError

__all__ = [
    "KEY_SCHEMES",
    "MAX_PRIMARIES",
    "MAX_ROWS",
    "AutoIncrement",
    "IncrementOffset",
    "KeyCollisionError",
    "KeyMergeResult",
    "Primary",
    "UuidKeys",
    "collide_keys",
    "exchange_orders",
    "key_scheme",
]

KEY_SCHEMES = ("autoincrement", "offset", "uuid")
#: Most primaries (nodes) one run models; most rows all primaries of :func:`collide_keys`
#: insert together (each a real SQLite transaction).
MAX_PRIMARIES, MAX_ROWS = 100, 100_000


class KeyCollisionError(DatabaseError):
    """Merging primaries hit a duplicate primary key (the :mod:`sqlite3` IntegrityError is
    chained as the cause). ``ids`` are the keys handed out by more than one primary."""

    def __init__(self, message: str, ids: Sequence[object]):
        super().__init__(message)
        self.ids = tuple(ids)


class AutoIncrement:
    """SQLite's own ``AUTOINCREMENT``: every primary counts 1, 2, 3 ... independently."""

    schema = ("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, "
              "item TEXT)")

    def next_id(self, conn: sqlite3.Connection) -> int | str | None:
        """The id for the next row; None lets SQLite choose."""
        _check.instance("conn", conn, sqlite3.Connection)
        return None


class IncrementOffset(AutoIncrement):
    """MySQL's ``auto_increment_increment`` / ``auto_increment_offset``.

    The next id is the smallest ``offset + k * increment`` above the largest id in the table
    (as InnoDB does), so node ``offset`` of ``increment`` nodes never reuses another's id.
    """

    def __init__(self, increment: int, offset: int):
        self.increment = _check.integer("increment", increment, low=1, high=MAX_PRIMARIES)
        self.offset = _check.integer("offset", offset, low=1, high=self.increment)

    def next_id(self, conn: sqlite3.Connection) -> int:
        """The smallest id of this node's series above the table's largest id."""
        _check.instance("conn", conn, sqlite3.Connection)
        (top,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM orders").fetchone()
        steps = max(0, -(-(top - self.offset + 1) // self.increment))  # ceil division
        return self.offset + steps * self.increment


class UuidKeys(AutoIncrement):
    """Random version-4 UUIDs (122 random bits) from a seeded generator: no coordination.
    ``seed`` (None: fresh entropy) and ``node`` (which primary, from 0) pick the stream, so
    two primaries with the same seed still draw different ids."""

    schema = "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, item TEXT)"

    def __init__(self, seed: int | None = None, *, node: int = 0):
        seed = _check.seed(seed)
        node = _check.integer("node", node, low=0, high=MAX_PRIMARIES - 1)
        self._rng = np.random.default_rng(None if seed is None else [seed, node])

    def next_id(self, conn: sqlite3.Connection) -> str:
        """A fresh random UUID, as text."""
        _check.instance("conn", conn, sqlite3.Connection)
        return str(uuid.UUID(bytes=self._rng.bytes(16), version=4))


def key_scheme(name: str, node: int, n_nodes: int, seed: int | None = 0) -> AutoIncrement:
    """The key scheme called ``name`` (one of :data:`KEY_SCHEMES`) for primary ``node``
    (0-based) of ``n_nodes`` (1 to :data:`MAX_PRIMARIES`)."""
    _check.choice("scheme name", name, KEY_SCHEMES)
    n_nodes = _check.integer("n_nodes", n_nodes, low=1, high=MAX_PRIMARIES)
    node = _check.integer("node", node, low=0, high=n_nodes - 1)
    seed = _check.seed(seed)
    if name == "offset":
        return IncrementOffset(n_nodes, node + 1)
    if name == "uuid":
        return UuidKeys(seed, node=node)
    return AutoIncrement()


class Primary:
    """One primary: a real SQLite database holding ``orders``, keys from a key scheme."""

    def __init__(self, name: str, keys: AutoIncrement, path: str = ":memory:"):
        self.name = _check.text("name", name, max_len=100)
        self.keys = _check.instance("keys", keys, AutoIncrement)
        path = _check.text("path", path)
        try:
            self.conn = sqlite3.connect(path, isolation_level=None)  # we issue BEGIN/COMMIT
            self.conn.execute(keys.schema)
        except sqlite3.Error as exc:
            raise ValueError(f"path {path!r}: SQLite cannot keep a database there: {exc}") \
                from exc

    def insert(self, item: str) -> int | str:
        """Insert one order (``item``: its text, at most 10,000 characters) in its own
        transaction and return its id."""
        _check.text("item", item, min_len=0, max_len=10_000)
        try:
            with all_or_nothing([self.conn]):
                key = self.keys.next_id(self.conn)
                if key is None:
                    return self.conn.execute("INSERT INTO orders (item) VALUES (?)",
                                             (item,)).lastrowid
                self.conn.execute("INSERT INTO orders (id, item) VALUES (?, ?)", (key, item))
                return key
        except sqlite3.Error as exc:
            raise ReplicationError(f"inserting on primary {self.name!r} failed (rolled "
                                   f"back): {exc}") from exc

    def rows(self) -> list[tuple]:
        """Every order as ``(id, item)``, by id."""
        return self.conn.execute("SELECT id, item FROM orders ORDER BY id").fetchall()

    def ids(self) -> list:
        """Every order's id, in order."""
        return [row[0] for row in self.rows()]

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()


def exchange_orders(primaries: Sequence[Primary]) -> None:
    """Copy every primary's orders into every other primary, all or nothing.

    Each primary receives the others' rows (as they were before the exchange) with plain
    ``INSERT``. If any insert violates the primary key, every database is rolled back and
    :class:`KeyCollisionError` is raised from SQLite's ``IntegrityError``; any other SQLite
    failure rolls every database back too, as :class:`ReplicationError`. Fewer than two
    primaries: nothing to exchange.
    """
    if isinstance(primaries, str) or not isinstance(primaries, Sequence):
        raise TypeError(f"primaries must be a list of Primary, got {type(primaries).__name__}")
    for i, p in enumerate(primaries):
        _check.instance(f"primaries[{i}]", p, Primary)
    snapshots = [p.rows() for p in primaries]
    conns = [p.conn for p in primaries]
    try:
        with all_or_nothing(conns):
            for i, target in enumerate(primaries):
                for j, rows in enumerate(snapshots):
                    if i != j:
                        target.conn.executemany(
                            "INSERT INTO orders (id, item) VALUES (?, ?)", rows)
    except sqlite3.Error as exc:
        seen = Counter(row[0] for rows in snapshots for row in rows)
        ids = sorted(key for key, times in seen.items() if times > 1)
        if isinstance(exc, sqlite3.IntegrityError) and ids:
            raise KeyCollisionError(f"merging primaries failed: {exc} (ids handed out by "
                                    f"more than one primary: {ids})", ids) from exc
        raise ReplicationError(f"merging primaries failed, every one rolled back: "
                               f"{exc}") from exc


@dataclass(frozen=True, eq=False, repr=False)
class KeyMergeResult(_html.ScalarTable):
    """What happened when ``n_primaries`` primaries, each having inserted
    ``rows_per_primary`` orders while apart, swapped their orders."""

    scheme: str
    n_primaries: int
    rows_per_primary: int
    collided: bool
    error: str  # SQLite's message, "" when the merge succeeded
    rows_per_node: tuple[int, ...]
    ids_disjoint: bool
    identical_nodes: bool
    colliding_ids: tuple = field(repr=False)
    ids_by_primary: tuple[tuple, ...] = field(repr=False)


def collide_keys(n_primaries: int = 2, rows_per_primary: int = 3,
                 scheme: str = "autoincrement", seed: int | None = 0) -> KeyMergeResult:
    """Insert ``rows_per_primary`` orders on each of ``n_primaries`` partitioned primaries
    using key ``scheme`` (``"autoincrement"``, ``"offset"`` or ``"uuid"``), then merge.

    With ``"autoincrement"`` and two or more primaries the merge fails with SQLite's UNIQUE
    constraint and every database is left as it was; with the fixes it succeeds and every
    node ends with ``n_primaries * rows_per_primary`` rows.
    """
    n = _check.integer("n_primaries", n_primaries, low=1, high=MAX_PRIMARIES)
    rows = _check.integer("rows_per_primary", rows_per_primary, low=0, high=MAX_ROWS)
    if n * rows > MAX_ROWS:
        raise ValueError(f"n_primaries × rows_per_primary = {n * rows:,} rows, more than the "
                         f"{MAX_ROWS:,} one run inserts; lower rows_per_primary")
    _check.choice("scheme", scheme, KEY_SCHEMES)
    seed = _check.seed(seed)
    primaries = [Primary(f"primary{i + 1}", key_scheme(scheme, i, n, seed)) for i in range(n)]
    try:
        ids = tuple(tuple(p.insert(f"order {k + 1} on {p.name}") for k in range(rows))
                    for p in primaries)
        error, colliding = "", ()
        try:
            exchange_orders(primaries)
        except KeyCollisionError as exc:
            error, colliding = str(exc.__cause__), exc.ids
        all_ids = [key for node_ids in ids for key in node_ids]
        return KeyMergeResult(
            scheme=scheme, n_primaries=n, rows_per_primary=rows, collided=bool(error),
            error=error, rows_per_node=tuple(len(p.rows()) for p in primaries),
            ids_disjoint=len(set(all_ids)) == len(all_ids),
            identical_nodes=len({checksum(p.conn) for p in primaries}) == 1,
            colliding_ids=tuple(colliding), ids_by_primary=ids)
    finally:
        for p in primaries:
            p.close()
