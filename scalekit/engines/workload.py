"""Clients that load a real PostgreSQL cluster the way the replication model's clients load
the model: writes on a seeded Poisson schedule, each acknowledgement recorded by the client
itself, and the primary's and the standby's positions sampled over time.

The real mechanism. A client knows a write is durable in the sense its ``synchronous_commit``
promises when ``COMMIT`` returns — that, and nothing the cluster reports, is an
*acknowledged* write. Each acknowledgement here keeps the write's id, when it was sent and
answered, and the WAL position its commit ended at: ``pg_current_wal_flush_lsn()`` right
after it returns. A commit that waits for its local flush (every ``synchronous_commit`` but
``off``) has flushed through its own commit record, so that position is at or past the
record's end, and it is WAL the walsender will ship. (``pg_current_wal_insert_lsn()`` is
not: when a record ends exactly at a page boundary it points past the next page's header,
at WAL that does not exist until something else is written — a reader waiting for it waits
for the next background record, seconds away.) Positions (LSNs) are read as byte offsets
(``pg_wal_lsn_diff(lsn, '0/0')``).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check
from scalekit.engines.pgserver import PostgresServer, psycopg

__all__ = ["Ack", "PacedWriter", "ReadBack", "FailoverRun", "LSN_SQL", "COMMIT_LSN_SQL",
           "lsn_bytes", "median_se", "poisson_schedule", "read_back", "relay_round_trip",
           "run_failover", "sample_lag", "time_commits"]

#: An LSN as a byte offset from 0/0 (SQL, to splice around an LSN expression).
LSN_SQL = "pg_wal_lsn_diff({}, '0/0')::bigint"


MAX_SCHEDULE = 10_000_000  # poisson_schedule: expected instants at most


def lsn_bytes(expression: str) -> str:
    """SQL for ``expression`` (an LSN) as a byte offset."""
    if not isinstance(expression, str) or not re.fullmatch(r"[a-z_]+\(\)|'[0-9A-F]+/[0-9A-F]+'",
                                                           expression):
        raise ValueError(f"expression must be an LSN function call such as "
                         f"pg_current_wal_lsn() or a literal '0/16B3748', got {expression!r}")
    return LSN_SQL.format(expression)


#: The position (bytes) a commit that just returned on this connection has flushed to.
COMMIT_LSN_SQL = f"SELECT {lsn_bytes('pg_current_wal_flush_lsn()')}"


def poisson_schedule(rate_per_s: float, duration_s: float, seed: int | None) -> np.ndarray:
    """Instants (s from the start) of a Poisson stream of ``rate_per_s`` for ``duration_s``."""
    rate = _check.positive("rate_per_s", rate_per_s)
    duration = _check.positive("duration_s", duration_s)
    if rate * duration > MAX_SCHEDULE:
        raise ValueError(f"rate_per_s × duration_s = {rate * duration:,.0f} expected writes: "
                         f"at most {MAX_SCHEDULE:,}")
    rng = np.random.default_rng(_check.seed(seed))
    gaps = rng.exponential(1.0 / rate_per_s, size=int(rate_per_s * duration_s * 2) + 10)
    times = np.cumsum(gaps)
    return times[times < duration_s]


@dataclass(frozen=True)
class Ack:
    """One acknowledged write: its ``id``, when it was sent and acknowledged (s from the
    writer's start) and the WAL position (bytes) its commit ended at."""

    id: int
    sent_s: float
    acked_s: float
    lsn: int

    @property
    def commit_s(self) -> float:
        return self.acked_s - self.sent_s


@dataclass
class PacedWriter:
    """Write ``INSERT INTO <table>(id) VALUES (n)`` at the instants ``schedule`` (s), one
    commit each, with ``synchronous_commit = mode``, on its own connection to ``server``.
    Runs in a thread (:meth:`start`) or in the caller's (:meth:`run`); stops at the end of
    the schedule, on :meth:`stop`, or at the first error (kept in ``error``)."""

    server: PostgresServer
    table: str
    schedule: np.ndarray
    mode: str = "local"
    with_lsn: bool = True
    acks: list[Ack] = field(default_factory=list)
    sent: int = 0
    error: BaseException | None = None
    started_at: float = 0.0

    def __post_init__(self) -> None:
        if self.with_lsn and self.mode == "off":
            raise ValueError("with synchronous_commit = off a commit returns before its WAL "
                             "is flushed, so it has no position to record: with_lsn=False")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn = self.server.connect()
        self._conn.execute(f"SET synchronous_commit = {self.mode}")

    def start(self) -> PacedWriter:
        self.started_at = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, name="scalekit-writer", daemon=True)
        self._thread.start()
        return self

    def run(self) -> PacedWriter:
        self.started_at = time.perf_counter()
        self._loop()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.close()

    def close(self) -> None:
        try:
            self._conn.close()
        except psycopg().Error:
            pass

    def join(self, timeout_s: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        insert = f"INSERT INTO {self.table}(id) VALUES (%s)"
        where = COMMIT_LSN_SQL
        try:
            for i, at in enumerate(self.schedule.tolist(), start=1):
                wait = self.started_at + at - time.perf_counter()
                if wait > 0 and self._stop.wait(wait):
                    return
                if self._stop.is_set():
                    return
                sent = time.perf_counter() - self.started_at
                self.sent += 1
                self._conn.execute(insert, (i,))
                acked = time.perf_counter() - self.started_at
                lsn = self._conn.execute(where).fetchone()[0] if self.with_lsn else 0
                self.acks.append(Ack(i, sent, acked, int(lsn)))
        except psycopg().Error as exc:
            self.error = exc


def sample_lag(cluster, standby: str, table: str, schedule: np.ndarray, every_s: float,
               duration_s: float, tick) -> tuple[np.ndarray, PacedWriter]:
    """Run a :class:`PacedWriter` on ``cluster``'s primary; every ``every_s`` s until
    ``duration_s``, sample (columns of the returned array): the instant (s), the primary's
    WAL position, the position ``standby`` has replayed (asked on the standby: its own
    word, not its last report), and ``pg_stat_replication``'s write, flush and replay lag
    (s, NaN when it shows none)."""
    lag_sql = ("SELECT extract(epoch FROM write_lag), extract(epoch FROM flush_lag), "
               "extract(epoch FROM replay_lag) FROM pg_stat_replication "
               "WHERE application_name = %s")
    here = f"SELECT {lsn_bytes('pg_current_wal_lsn()')}"
    there = f"SELECT {lsn_bytes('pg_last_wal_replay_lsn()')}"
    rows: list[list[float]] = []
    writer = PacedWriter(cluster.primary, table, schedule)
    with cluster.primary.connect() as p, cluster.server(standby).connect() as s:
        writer.start()
        try:
            while writer.error is None:
                due = writer.started_at + len(rows) * every_s
                if due - writer.started_at > duration_s:
                    break
                time.sleep(max(due - time.perf_counter(), 0.0))
                t = time.perf_counter() - writer.started_at
                current = p.execute(here).fetchone()[0]
                replayed = s.execute(there).fetchone()[0]
                lags = p.execute(lag_sql, (standby,)).fetchone() or (None, None, None)
                rows.append([t, current, replayed,
                             *[np.nan if x is None else float(x) for x in lags]])
                tick(min(round(100 * t / duration_s), 100), 100)
        finally:
            writer.stop()
    if writer.error is not None:
        raise writer.error
    return np.array(rows, dtype=float).reshape(-1, 6), writer


@dataclass(frozen=True)
class ReadBack:
    """Reads of a client's own writes ``think_s`` after each acknowledgement: how many
    were ``stale`` on the standby, on the primary (``primary_stale``), and on the standby
    once its replay LSN had reached the commit's (``wait_stale``); per read, that wait
    (``waits_s``: 0 when the first check already found the LSN replayed, as the model
    counts it), the think time actually slept (``thinks_s``) and when the write was seen
    replayed, from its acknowledgement (``visible_s``: an upper bound, to the check)."""

    reads: int
    stale: int
    primary_stale: int
    wait_stale: int
    waits_s: tuple[float, ...]
    thinks_s: tuple[float, ...]
    visible_s: tuple[float, ...]


def read_back(primary: PostgresServer, standby: PostgresServer, table: str, *, reads: int,
              think_s: float, first_id: int = 1, timeout_s: float = 10.0) -> ReadBack:
    """``reads`` times, one after the other: write a row on the primary, sleep until
    ``think_s`` s after the acknowledgement, and read it back three ways: the standby at
    once; the standby after ``pg_last_wal_replay_lsn()`` reaches the commit's LSN (polled
    every 0.2 ms); the primary."""
    insert = f"INSERT INTO {table}(id) VALUES (%s)"
    find = f"SELECT 1 FROM {table} WHERE id = %s"
    caught_up = f"SELECT {lsn_bytes('pg_last_wal_replay_lsn()')} >= %s"
    stale = primary_stale = wait_stale = 0
    waits, thinks, visible = [], [], []
    with primary.connect() as p, standby.connect() as s:
        for key in range(first_id, first_id + reads):
            p.execute(insert, (key,))
            acked = time.perf_counter()
            lsn = p.execute(COMMIT_LSN_SQL).fetchone()[0]
            time.sleep(max(acked + think_s - time.perf_counter(), 0.0))
            read_at = time.perf_counter()
            thinks.append(read_at - acked)
            stale += s.execute(find, (key,)).fetchone() is None
            checks = 0
            while not s.execute(caught_up, (lsn,)).fetchone()[0]:
                checks += 1
                if time.perf_counter() - read_at > timeout_s:
                    raise TimeoutError(f"{standby.name} did not replay a commit in "
                                       f"{timeout_s:g} s")
                time.sleep(0.0002)
            seen = time.perf_counter()
            waits.append(seen - read_at if checks else 0.0)
            visible.append(seen - acked)
            wait_stale += s.execute(find, (key,)).fetchone() is None
            primary_stale += p.execute(find, (key,)).fetchone() is None
    return ReadBack(reads, stale, primary_stale, wait_stale, tuple(waits), tuple(thinks),
                    tuple(visible))


def median_se(x: np.ndarray, rng: np.random.Generator, draws: int = 400) -> float:
    """The bootstrap standard error of the median of ``x`` (``draws`` resamples)."""
    x = _check.array("x", x, min_len=2)
    _check.instance("rng", rng, np.random.Generator)
    draws = _check.integer("draws", draws, low=2, high=100_000)
    if draws * x.size > 50_000_000:
        raise ValueError(f"draws × len(x) = {draws * x.size:,}: at most 50,000,000")
    picks = rng.integers(0, x.size, size=(draws, x.size))
    return float(np.median(x[picks], axis=1).std(ddof=1))


def relay_round_trip(server: PostgresServer, delay_s: float, *, repeats: int = 30,
                     seed: int | None = 0) -> tuple[float, float]:
    """The round trip a one-way delay of ``delay_s`` adds for a client: the median time of
    ``SELECT 1`` on ``server`` through a :class:`~scalekit.engines.relay.Relay` of that delay
    minus through one of no delay (``repeats`` each, interleaved, so the relay's own cost
    cancels), and its bootstrap standard error (s)."""
    from scalekit.engines.pgserver import conninfo
    from scalekit.engines.relay import Relay

    times = np.zeros((2, repeats))
    with Relay(server.port, delay_s=delay_s, name="probe") as slow, \
            Relay(server.port, name="probe-0") as fast, \
            psycopg().connect(conninfo(slow.port), autocommit=True) as via_slow, \
            psycopg().connect(conninfo(fast.port), autocommit=True) as via_fast:
        for i in range(repeats):
            for row, conn in enumerate((via_slow, via_fast)):
                began = time.perf_counter()
                conn.execute("SELECT 1")
                times[row, i] = time.perf_counter() - began
    rng = np.random.default_rng(seed)
    se = float(np.hypot(median_se(times[0], rng), median_se(times[1], rng)))
    return float(np.median(times[0]) - np.median(times[1])), se


@dataclass(frozen=True)
class FailoverRun:
    """What :func:`run_failover` saw: writes ``sent``, the ids the client had
    ``acknowledged`` and the ids ``present`` on the promoted standby; when the primary
    failed (``failed_at_s``, from the first write) and how long ``pg_promote`` took; the
    timelines before and after; the old primary's return (``rejoin``, ``rewind`` and
    whether it then held exactly the new primary's rows), when asked for."""

    engine: str
    sent: int
    acknowledged: tuple[int, ...]
    present: tuple[int, ...]
    failed_at_s: float
    promote_s: float
    timelines: tuple[int, int]
    rejoin: object = None
    rewind: object = None
    rewound_rows_match: bool | None = None


def run_failover(mode: str, *, standby: str, synchronous: bool, delay_s: float,
                 jitter_s: float, schedule: np.ndarray, fail_after_s: float, rejoin: bool,
                 seed: int | None) -> FailoverRun:
    """On a new one-standby cluster: write on ``schedule`` with ``synchronous_commit =
    mode`` (``standby`` synchronous if ``synchronous``) over a link of ``delay_s``
    (+ ``jitter_s``); after ``fail_after_s`` s fail the primary (links cut, processes
    SIGKILLed), promote ``standby`` and read back what it holds. ``rejoin``: then let the
    old primary try to follow without a rewind, rewind it, and compare its rows."""
    from scalekit.engines.postgres import PostgresCluster

    with PostgresCluster(1, delay_s=0.0, seed=seed) as c:
        c.primary.query("CREATE TABLE acks(id bigint PRIMARY KEY)")
        c.wait_caught_up()
        c.set_delay(delay_s, jitter_s)
        if synchronous:
            c.set_synchronous([standby])
        writer = PacedWriter(c.primary, "acks", schedule, mode=mode, with_lsn=False).start()
        time.sleep(max(writer.started_at + fail_after_s - time.perf_counter(), 0.0))
        failed_at = time.perf_counter() - writer.started_at
        old = c.fail_primary()
        writer.join(10.0)
        writer.close()
        promote_s = c.promote(standby)
        present = tuple(sorted(r[0] for r in c.primary.query("SELECT id FROM acks")))
        run = dict(engine=str(c.binaries), sent=writer.sent,
                   acknowledged=tuple(a.id for a in writer.acks), present=present,
                   failed_at_s=failed_at, promote_s=promote_s,
                   timelines=(1, c.primary.timeline()))
        if rejoin:
            run["rejoin"] = c.try_rejoin(old)
            run["rewind"] = c.rewind(old)
            c.wait_caught_up()
            mine = tuple(sorted(r[0] for r in c.server(old).query("SELECT id FROM acks")))
            run["rewound_rows_match"] = mine == present
    return FailoverRun(**run)


def time_commits(cluster, table: str, modes, waiting, *, delay_s: float, commits: int,
                 blocks: int, tick) -> tuple[np.ndarray, np.ndarray]:
    """Time ``commits`` one-row commits per ``synchronous_commit`` mode on ``cluster``'s
    primary: every mode of ``modes`` with the links at ``delay_s``, and those of ``waiting``
    also with no delay — modes interleaved, the two delays alternating in ``blocks`` blocks
    (a busy machine slows every measurement alike). Returns (modes × commits) arrays of
    seconds: with the delay, and with none (NaN rows for the modes not in ``waiting``)."""
    samples, zero = np.zeros((len(modes), commits)), np.full((len(modes), commits), np.nan)
    with cluster.primary.connect() as conn:
        key, parts = 0, np.array_split(np.arange(commits), blocks)
        for b, part in enumerate(parts):
            for d, into, which in ((0.0, zero, waiting), (delay_s, samples, modes)):
                cluster.set_delay(d)
                for i in part.tolist():
                    for mode in which:
                        conn.execute(f"SET synchronous_commit = {mode}")
                        key += 1
                        began = time.perf_counter()
                        conn.execute(f"INSERT INTO {table}(id) VALUES (%s)", (key,))
                        into[list(modes).index(mode), i] = time.perf_counter() - began
            tick(b + 1, len(parts))
    return samples, zero
