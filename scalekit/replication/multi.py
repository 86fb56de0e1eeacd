"""Multi-primary replication on real SQLite: colliding keys and conflicting updates.

The real mechanism. With several primaries every node accepts writes, and the nodes swap
them later (after a partition heals, or simply because replication lags). Two things go
wrong, and both are shown here on real SQLite databases (``sqlite3.connect(":memory:")``):

* **Keys collide.** Each primary hands out ``INTEGER PRIMARY KEY AUTOINCREMENT`` ids 1, 2,
  3 ... on its own, so merging one node's ``orders`` into another raises SQLite's real
  ``IntegrityError: UNIQUE constraint failed: orders.id`` (re-raised here as
  :class:`KeyCollisionError`, the cause chained). Fixes: MySQL's ``auto_increment_increment``
  / ``auto_increment_offset`` (:class:`IncrementOffset`: node ``i`` of ``n`` hands out ``i,
  i+n, i+2n`` ...; InnoDB Cluster uses increment 7) and random UUIDs (:class:`UuidKeys`).
* **Updates conflict.** Two primaries change the same row concurrently. A resolution rule
  decides, and every rule but one throws updates away:

  - :class:`LastWriterWins` (Cassandra): the higher write timestamp wins; on a tie the greater
    value wins. Concurrent writes other than the winner are lost silently.
  - :class:`FirstCommitterWins` (MySQL Group Replication certification): transactions are
    certified in one agreed order; one whose snapshot no longer holds the row's current
    version is rolled back. The losers are aborted and their clients are told.
  - :class:`CounterMerge` (a G-Counter CRDT): each node counts its own increments; merging
    takes the element-wise maximum and the value is the sum. Nothing is lost.

:func:`collide_keys` runs the key story; :func:`simulate_conflicts` runs one schedule of
concurrent ``+1`` updates through every rule and counts what each discards. Simulated time
only: a timestamp is a tick of the simulated clock, never the wall clock.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from scalekit import _check, _html
from scalekit.replication.log import ReplicationError

__all__ = [
    "KEY_SCHEMES",
    "MAX_PRIMARIES",
    "MAX_ROWS",
    "MAX_UPDATES",
    "RULES",
    "AutoIncrement",
    "Certification",
    "ConflictResult",
    "CounterMerge",
    "FirstCommitterWins",
    "IncrementOffset",
    "KeyCollisionError",
    "KeyMergeResult",
    "LastWriterWins",
    "Primary",
    "Transaction",
    "UuidKeys",
    "Write",
    "checksum",
    "collide_keys",
    "exchange_orders",
    "key_scheme",
    "rule",
    "simulate_conflicts",
]

KEY_SCHEMES = ("autoincrement", "offset", "uuid")
RULES = ("lww", "fcw", "counter")
#: Most primaries (nodes) one run models; most rows all primaries of :func:`collide_keys`
#: insert together; most updates one :func:`simulate_conflicts` run applies (each is a real
#: SQLite transaction — per rule — so 100,000 take seconds, not minutes).
MAX_PRIMARIES, MAX_ROWS, MAX_UPDATES = 100, 100_000, 100_000


class KeyCollisionError(RuntimeError):
    """Merging primaries hit a duplicate primary key (the :mod:`sqlite3` IntegrityError is
    chained as the cause). ``ids`` are the keys handed out by more than one primary."""

    def __init__(self, message: str, ids: Sequence[object]):
        super().__init__(message)
        self.ids = tuple(ids)


# --------------------------------------------------------------------------- keys


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
            with _transaction([self.conn]):
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
        with _transaction(conns):
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


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Write:
    """One version of a row under last-writer-wins: its ``value`` (any int), the simulated
    clock tick it was written at (``written_at`` >= 0, Cassandra's write timestamp) and the
    ``node`` (>= 0)."""

    value: int
    written_at: int
    node: int = 0

    def __post_init__(self) -> None:
        _check.integer("value", self.value)
        _check.integer("written_at", self.written_at, low=0)
        _check.integer("node", self.node, low=0, high=MAX_PRIMARIES - 1)


class LastWriterWins:
    """Cassandra's reconciliation: the write with the higher timestamp wins.

    Ties on the timestamp go to the greater value (Cassandra compares the cell values; a
    tombstone would beat a live cell, but rows here are never deleted), then to the higher
    node number, so the rule is a total order: commutative, associative and idempotent.
    Every concurrent write but the winner is discarded, silently.
    """

    def resolve(self, a: Write, b: Write) -> Write:
        """The winner of two versions ``a`` and ``b`` (the same whichever comes first)."""
        _check.instance("a", a, Write), _check.instance("b", b, Write)
        return a if (a.written_at, a.value, a.node) >= (b.written_at, b.value, b.node) else b


@dataclass(frozen=True)
class Transaction:
    """A transaction that set a row to ``value``. ``read_version`` is the row version its
    snapshot saw (the id of the last write it read); ``txn_id`` becomes the row's version
    if it commits."""

    txn_id: str
    node: int
    read_version: str
    value: int
    written_at: int = 0

    def __post_init__(self) -> None:
        _check.text("txn_id", self.txn_id, max_len=100)
        _check.integer("node", self.node, low=0, high=MAX_PRIMARIES - 1)
        _check.text("read_version", self.read_version, max_len=100)
        _check.integer("value", self.value)
        _check.integer("written_at", self.written_at, low=0)


@dataclass(frozen=True)
class Certification:
    """The outcome of certifying transactions in delivery order."""

    committed: tuple[str, ...]
    aborted: tuple[str, ...]
    version: str  # the row's version afterwards
    value: int | None  # the value the last committed transaction wrote (None: no commit)


class FirstCommitterWins:
    """MySQL Group Replication's certification: first committer wins.

    Every member receives transactions in the same (Paxos-agreed) order and certifies each
    against the row's current version: a transaction whose snapshot is older than the
    current version — another transaction committed the row since it read — is rolled back
    on every member. (Group Replication compares GTID sets; on one row with a linear history
    that is "did it read the current version".) The losers are aborted and told so.
    """

    def certifies(self, txn: Transaction, row_version: str) -> bool:
        """Whether ``txn`` may commit on a row now at ``row_version``."""
        _check.instance("txn", txn, Transaction)
        _check.text("row_version", row_version, max_len=100)
        return txn.read_version == row_version

    def certify(self, txns: Iterable[Transaction], row_version: str) -> Certification:
        """Certify ``txns`` (Transactions, in delivery order) against a row at
        ``row_version``."""
        if isinstance(txns, str | Mapping) or not isinstance(txns, Iterable):
            raise TypeError(f"txns must be a list of Transaction, got {type(txns).__name__}")
        txns = [_check.instance(f"txns[{i}]", t, Transaction) for i, t in enumerate(txns)]
        _check.text("row_version", row_version, max_len=100)
        committed, aborted, value = [], [], None
        for txn in txns:
            if self.certifies(txn, row_version):
                committed.append(txn.txn_id)
                row_version, value = txn.txn_id, txn.value
            else:
                aborted.append(txn.txn_id)
        return Certification(tuple(committed), tuple(aborted), row_version, value)


class CounterMerge:
    """A G-Counter CRDT: one count per node, each node incrementing only its own.

    Merge is the element-wise maximum (commutative, associative, idempotent) and the value
    is the sum, so every increment from every node survives. (A PN-counter is two of these,
    one for increments and one for decrements.)
    """

    def resolve(self, a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
        """Merge two states ``a`` and ``b`` (one count per node each): element-wise max."""
        a, b = _counts("a", a), _counts("b", b)
        if len(a) != len(b):
            raise ValueError(f"a and b must hold one count per node each, got {len(a)} and "
                             f"{len(b)} counts")
        return tuple(max(x, y) for x, y in zip(a, b, strict=True))

    @staticmethod
    def value(counts: Sequence[int]) -> int:
        """The counter's value: the sum of the per-node ``counts``."""
        return sum(_counts("counts", counts))


def _counts(name: str, counts) -> tuple[int, ...]:
    """A G-Counter state: one count >= 0 per node, 1 to :data:`MAX_PRIMARIES` nodes."""
    if isinstance(counts, str) or not isinstance(counts, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of counts (one int per node), "
                        f"got {type(counts).__name__}")
    if not 1 <= len(counts) <= MAX_PRIMARIES:
        raise ValueError(f"{name} must hold 1 to {MAX_PRIMARIES} counts (one per node), "
                         f"got {len(counts)}")
    return tuple(_check.integer(f"{name}[{i}]", c, low=0) for i, c in enumerate(counts))


def rule(name: str) -> LastWriterWins | FirstCommitterWins | CounterMerge:
    """The resolution rule called ``name``: ``"lww"``, ``"fcw"`` or ``"counter"``."""
    _check.choice("rule name", name, RULES)
    return {"lww": LastWriterWins, "fcw": FirstCommitterWins, "counter": CounterMerge}[name]()


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True, eq=False, repr=False)
class ConflictResult(_html.ScalarTable):
    """One schedule of concurrent ``+1`` updates to one row, resolved by each rule.

    ``final_value`` and ``discarded`` map rule name to the row's final value and to the
    updates the rule threw away (``true_total - final_value``: silent losses for ``lww``,
    aborted transactions for ``fcw``). ``checksums`` maps rule name to each node's checksum.
    """

    n_nodes: int
    updates: int
    window: int
    seed: int | None
    true_total: int
    identical_nodes: bool
    final_value: Mapping[str, int] = field(repr=False)
    discarded: Mapping[str, int] = field(repr=False)
    checksums: Mapping[str, tuple[str, ...]] = field(repr=False)

    def _repr_html_(self) -> str:
        rows = [{"rule": name, "final value": self.final_value[name],
                 "true total": self.true_total, "discarded": self.discarded[name],
                 "identical nodes": len(set(self.checksums[name])) == 1}
                for name in self.final_value]
        return _html.rows_table(rows, note=f"{self.n_nodes} nodes, {self.updates} updates, "
                                           f"{self.window} per partition window")


def simulate_conflicts(n_nodes: int = 3, updates: int = 60, window: int = 10,
                       seed: int | None = 0, rules: Sequence[str] = RULES) -> ConflictResult:
    """Apply ``updates`` increments (+1 each) of one counter row, each on a random node of
    ``n_nodes``, and resolve them with every rule in ``rules``.

    The nodes are partitioned for ``window`` consecutive updates at a time (the updates in
    one window are concurrent: no node sees another's); at the end of each window they swap
    state and resolve it with the rule, so every node holds identical contents. Each update
    gets a timestamp (simulated clock tick) drawn at random, non-decreasing, ties possible.
    ``window=1`` means no concurrency at all, and no rule discards anything.
    """
    n = _check.integer("n_nodes", n_nodes, low=1, high=MAX_PRIMARIES)
    count = _check.integer("updates", updates, low=0, high=MAX_UPDATES)
    size = _check.integer("window", window, low=1, high=MAX_UPDATES)
    seed = _check.seed(seed)
    if isinstance(rules, str) or not isinstance(rules, Sequence):
        raise TypeError(f"rules must be a sequence of rule names, got {rules!r}")
    if not rules:
        raise ValueError(f"rules must name at least one of {', '.join(map(repr, RULES))}, "
                         f"got none")
    for name in rules:
        _check.choice("rules", name, RULES)
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, n, size=count).tolist()
    ticks = np.sort(rng.integers(1, 2 * count + 2, size=count)).tolist()
    schedule = [list(zip(range(lo, min(lo + size, count)), nodes[lo:lo + size], ticks[lo:lo + size],
                         strict=True)) for lo in range(0, count, size)]
    runners = {"lww": _run_lww, "fcw": _run_fcw, "counter": _run_counter}
    final, sums = {}, {}
    for name in dict.fromkeys(rules):
        final[name], sums[name] = runners[name](schedule, n)
    return ConflictResult(
        n_nodes=n, updates=count, window=size, seed=seed, true_total=count,
        identical_nodes=all(len(set(s)) == 1 for s in sums.values()),
        final_value=MappingProxyType(final),
        discarded=MappingProxyType({k: count - v for k, v in final.items()}),
        checksums=MappingProxyType(sums))


_ROW = ("CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL,"
        " written_at INTEGER NOT NULL, node INTEGER NOT NULL, version TEXT NOT NULL)")
_SET_ROW = "UPDATE counter SET value = ?, written_at = ?, node = ?, version = ? WHERE id = 1"
_GET_ROW = "SELECT value, written_at, node, version FROM counter WHERE id = 1"


def _row_nodes(n: int) -> list[sqlite3.Connection]:
    conns = [sqlite3.connect(":memory:", isolation_level=None) for _ in range(n)]
    for conn in conns:
        conn.execute(_ROW)
        conn.execute("INSERT INTO counter VALUES (1, 0, 0, 0, 'v0')")
    return conns


def _run_lww(schedule: list, n: int) -> tuple[int, tuple[str, ...]]:
    lww, conns = LastWriterWins(), _row_nodes(n)
    for window in schedule:
        for i, node, tick in window:  # each node writes its own copy, unseen by the others
            with _transaction([conns[node]]):
                conns[node].execute("UPDATE counter SET value = value + 1, written_at = ?, "
                                    "node = ?, version = ? WHERE id = 1", (tick, node, f"t{i}"))
        rows = [c.execute(_GET_ROW).fetchone() for c in conns]
        winner = functools.reduce(lww.resolve, [Write(*row[:3]) for row in rows])
        row = next(r for r in rows if Write(*r[:3]) == winner)
        _set_everywhere(conns, _SET_ROW, row)
    return _finish(conns, "SELECT value FROM counter")


def _run_fcw(schedule: list, n: int) -> tuple[int, tuple[str, ...]]:
    fcw, conns = FirstCommitterWins(), _row_nodes(n)
    for window in schedule:
        txns, row = [], conns[0].execute(_GET_ROW).fetchone()
        for i, node, tick in window:  # optimistic local execution on the node's own copy
            value, _, _, version = conns[node].execute(_GET_ROW).fetchone()
            txn = Transaction(f"t{i}", node, version, value + 1, tick)
            with _transaction([conns[node]]):
                conns[node].execute(_SET_ROW, (txn.value, tick, node, txn.txn_id))
            txns.append(txn)
        cert = fcw.certify(txns, row[3])  # delivery order = commit order = schedule order
        if cert.committed:
            last = next(t for t in txns if t.txn_id == cert.version)
            row = (last.value, last.written_at, last.node, last.txn_id)
        _set_everywhere(conns, _SET_ROW, row)  # losers roll back to the certified row
    return _finish(conns, "SELECT value FROM counter")


def _run_counter(schedule: list, n: int) -> tuple[int, tuple[str, ...]]:
    merge = CounterMerge()
    conns = [sqlite3.connect(":memory:", isolation_level=None) for _ in range(n)]
    for conn in conns:
        conn.execute("CREATE TABLE counter_parts (node INTEGER PRIMARY KEY, "
                     "count INTEGER NOT NULL CHECK (count >= 0))")
        conn.executemany("INSERT INTO counter_parts VALUES (?, 0)", [(k,) for k in range(n)])
    for window in schedule:
        for _, node, _ in window:  # a node increments only its own count
            with _transaction([conns[node]]):
                conns[node].execute("UPDATE counter_parts SET count = count + 1 "
                                    "WHERE node = ?", (node,))
        states = [tuple(c for (c,) in conn.execute(
            "SELECT count FROM counter_parts ORDER BY node")) for conn in conns]
        merged = functools.reduce(merge.resolve, states)
        _set_everywhere(conns, "UPDATE counter_parts SET count = ? WHERE node = ?",
                        *[(c, k) for k, c in enumerate(merged)])
    return _finish(conns, "SELECT SUM(count) FROM counter_parts")


def _set_everywhere(conns: list[sqlite3.Connection], sql: str, *params: tuple) -> None:
    with _transaction(conns):
        for conn in conns:
            conn.executemany(sql, params)


def _finish(conns: list[sqlite3.Connection], sql: str) -> tuple[int, tuple[str, ...]]:
    try:
        (value,) = conns[0].execute(sql).fetchone()
        return int(value), tuple(checksum(c) for c in conns)
    finally:
        for conn in conns:
            conn.close()


def checksum(conn: sqlite3.Connection) -> str:
    """SHA-256 of every user table's rows, tables by name and rows sorted: two databases
    with the same contents have the same checksum whatever order the rows arrived in."""
    _check.instance("conn", conn, sqlite3.Connection)
    digest = hashlib.sha256()
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                         " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for table in tables:
        digest.update(table.encode())
        for row in sorted(conn.execute(f'SELECT * FROM "{table}"'), key=repr):
            digest.update(repr(row).encode())
    return digest.hexdigest()


class _transaction:
    """BEGIN on every connection; COMMIT all if the block succeeds, else ROLLBACK all."""

    def __init__(self, conns: Sequence[sqlite3.Connection]):
        self.conns = conns

    def __enter__(self) -> None:
        begun = []
        try:
            for conn in self.conns:
                conn.execute("BEGIN")
                begun.append(conn)
        except BaseException:
            for conn in begun:  # leave no connection half-way into the transaction
                conn.execute("ROLLBACK")
            raise

    def __exit__(self, exc_type, exc, tb) -> bool:
        for conn in self.conns:
            conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
