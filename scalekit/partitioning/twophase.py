"""One change across several SQLite shard files, all or nothing: a two-phase commit.

The real mechanism. SQLite commits one file atomically (its rollback journal), and a
transaction over ``ATTACH``\\ ed files atomically through a *super-journal* — but only up to
10 attached files by default (``SQLITE_MAX_ATTACHED``; this build's cap is 10) and not at all
in WAL mode ("atomic for each individual database, but not atomic across all databases as a
set", sqlite.org/wal.html). Real shards are separate servers with no shared journal, so
sharded stores commit across them in two phases, as Vitess's resharding (copy, then
``SwitchTraffic``, then ``Complete`` drops the source rows) and Citus's shard moves do:

1. **lock** — ``BEGIN EXCLUSIVE`` on every shard involved, in shard order, in
   ``locking_mode=EXCLUSIVE`` so the locks are held until the change is finished. A shard
   that cannot be locked within the busy timeout stops the change before anything is
   written (:class:`ShardLockedError` names the shard and the holder's lock);
2. **stage** (prepare) — each shard's part of the change is written to its ``staged``
   table, which no query reads, and committed shard by shard. A failure here rolls the
   change back everywhere: staged rows are deleted, the live tables were never touched;
3. **decide** — the new layout, carrying this transaction's id as ``decided``, replaces
   ``layout.json`` in one atomic, durable rename (:func:`.layout.write_layout`).
   That rename *is* the commit: before it the change never happened, after it the change
   will complete whatever fails next;
4. **publish** — every shard copies its staged inserts into ``flights`` (pass 1); only when
   all have, every shard deletes the rows it staged for deletion (pass 2), so a row that
   moves is always in at least one live table;
5. **finish** — shard files beyond the new layout (a shrink) are now empty and removed;
   the locks are released.

**Recovery** (:meth:`ShardFiles.recover`, run whenever a router opens a directory): staged
rows of the ``decided`` transaction are published (roll forward); staged rows of any other
transaction are deleted (presumed abort: no decision, no commit); empty shard files beyond
the layout are removed. Each step is one local SQLite transaction and deletes the staged rows
it applied, so recovery can itself be killed at any point and rerun.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from scalekit import _check, _html
from scalekit.partitioning.data import PartitionError
from scalekit.partitioning.layout import Layout, read_layout, write_layout

__all__ = ["STAGED", "ShardLockedError", "ShardFiles", "Recovery", "holder_lock",
           "DEFAULT_BUSY_TIMEOUT_S"]

STAGED = "staged"
#: seconds a shard waits for another connection's lock before giving up (sqlite3's default)
DEFAULT_BUSY_TIMEOUT_S = 5.0
Step = Callable[[str], object]


class ShardLockedError(PartitionError):
    """A shard could not be locked within the busy timeout; nothing was changed.
    ``shard``, ``path`` and ``lock`` (the holder's SQLite lock, as far as a probe can tell)
    are attributes."""

    def __init__(self, shard: int, path: Path, lock: str, timeout_s: float):
        self.shard, self.path, self.lock = shard, path, lock
        super().__init__(
            f"shard {shard} ({path.name}) is locked: another connection holds {lock}; "
            f"waited busy_timeout_s={timeout_s:g} s. Nothing was changed — retry when it "
            f"is done, or open the router with a longer busy_timeout_s")


def holder_lock(path: str | Path) -> str:
    """What lock another connection holds on the SQLite file at ``path``, found by asking
    for each lock in turn without waiting (the lock states of sqlite.org/lockingv3.html):
    EXCLUSIVE granted → none any more; RESERVED granted → the holder has SHARED (a reader);
    SHARED granted → RESERVED (a writer's open transaction); else PENDING or EXCLUSIVE."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    if not Path(path).is_file():
        raise ValueError(f"path {str(path)!r} is not an existing SQLite file")
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        for sql in ("BEGIN EXCLUSIVE", "BEGIN IMMEDIATE", "BEGIN"):
            try:
                probe.execute(sql)
                if sql == "BEGIN":
                    probe.execute("SELECT count(*) FROM sqlite_master").fetchall()
            except sqlite3.OperationalError:
                continue
            finally:
                if probe.in_transaction:
                    probe.execute("ROLLBACK")
            return {"BEGIN EXCLUSIVE": "no lock any more (it was released meanwhile)",
                    "BEGIN IMMEDIATE": "a SHARED lock (a reader's open transaction)",
                    "BEGIN": "a RESERVED lock (a writer's open transaction)"}[sql]
        return "a PENDING or EXCLUSIVE lock (a writer committing, or exclusive locking mode)"
    finally:
        probe.close()


@dataclass(frozen=True)
class Recovery:
    """What opening a directory found and did: the ``decided`` transaction's staged rows
    published (``published`` inserts, ``deleted`` deletions), other transactions' staged
    rows discarded (``rolled_back`` ids, ``discarded`` rows), and files ``removed``."""

    finished: int | None = None
    published: int = 0
    deleted: int = 0
    rolled_back: tuple[int, ...] = ()
    discarded: int = 0
    removed: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        """Nothing was left half done."""
        return self == Recovery()

    def _repr_html_(self) -> str:
        return _html.key_value_table({
            "finished transaction": self.finished, "rows published": self.published,
            "rows deleted from old shards": self.deleted,
            "transactions rolled back": len(self.rolled_back),
            "staged rows discarded": self.discarded,
            "files removed": ", ".join(self.removed) or "none"})


class ShardFiles:
    """The shard files ``shard-00.sqlite3`` … of one directory, their connections, the
    layout, and the two-phase commit over them.

    ``columns``: the live table's column → SQLite type; ``key_column``: the indexed shard
    key; ``connect(path, timeout=…, isolation_level=None)`` opens a connection (a seam:
    tests wrap it to inject errors); ``busy_timeout_s``: how long (s) each shard waits for
    another connection's lock; ``step(name)``: called after every durable step (a seam for
    crash tests)."""

    def __init__(self, directory: Path, table: str, columns: dict[str, str], key_column: str,
                 *, connect: Callable = sqlite3.connect,
                 busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, step: Step | None = None):
        if not callable(connect):
            raise TypeError(f"connect must be a callable like sqlite3.connect, got {connect!r}")
        if step is not None and not callable(step):
            raise TypeError(f"on_step must be None or a callable(step name), got {step!r}")
        self.directory, self.table, self.columns = directory, table, columns
        self.key_column = key_column
        self.busy_timeout_s = _check.number("busy_timeout_s", busy_timeout_s, low=0.0,
                                            high=3600.0)
        self._connect, self._step = connect, step
        self.dbs: dict[int, sqlite3.Connection] = {}
        self.layout: Layout | None = None
        self.pending = False  # a failure left staged rows that recovery must resolve
        self.steps: list[str] = []  # the durable steps of the last commit, in order

    # ----------------------------------------------------------------- files

    def path(self, shard: int) -> Path:
        return self.directory / f"shard-{shard:02d}.sqlite3"

    def numbers(self) -> list[int]:
        """The shard numbers that have a file in the directory, sorted."""
        found = []
        for p in self.directory.glob("shard-*.sqlite3"):
            number = p.name[len("shard-"):-len(".sqlite3")]
            if number.isdigit():
                found.append(int(number))
        return sorted(found)

    def open(self, shard: int) -> sqlite3.Connection:
        """Connect to shard ``shard`` (creating the file and its tables if needed)."""
        if shard in self.dbs:
            return self.dbs[shard]
        path = self.path(shard)
        try:
            db = self._connect(path, timeout=self.busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise ValueError(f"cannot open shard database {str(path)!r}: {exc}") from exc
        try:
            db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
            have = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            if {self.table, STAGED, f"ix_{self.key_column}"} - have:
                self._create_tables(db)
        except sqlite3.Error as exc:
            db.close()
            if "locked" in str(exc):
                raise ShardLockedError(shard, path, holder_lock(path),
                                       self.busy_timeout_s) from exc
            raise ValueError(f"cannot open shard database {str(path)!r}: {exc}") from exc
        self.dbs[shard] = db
        return db

    def _create_tables(self, db: sqlite3.Connection) -> None:
        """The live table, its shard-key index and the staging table, in one transaction."""
        cols = ", ".join(f'"{c}" {t}' for c, t in self.columns.items())
        plain = ", ".join(f'"{c}" {t.replace(" PRIMARY KEY", "")}'
                          for c, t in self.columns.items())
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(f"CREATE TABLE IF NOT EXISTS {self.table}({cols})")
            db.execute(f'CREATE INDEX IF NOT EXISTS "ix_{self.key_column}" '
                       f'ON {self.table}("{self.key_column}")')
            db.execute(f"CREATE TABLE IF NOT EXISTS {STAGED}(txid INTEGER NOT NULL, "
                       f"op TEXT NOT NULL CHECK (op IN ('insert', 'delete')), {plain})")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def drop(self, shard: int) -> str:
        """Close shard ``shard`` and delete its file, which must hold no rows at all."""
        db = self.dbs.get(shard) or self.open(shard)
        rows = db.execute(f"SELECT (SELECT count(*) FROM {self.table}) + "
                          f"(SELECT count(*) FROM {STAGED})").fetchone()[0]
        if rows:
            raise PartitionError(f"refusing to delete {self.path(shard).name}: it still "
                                 f"holds {rows} rows")
        db.close()
        del self.dbs[shard]
        path = self.path(shard)
        path.unlink(missing_ok=True)
        Path(str(path) + "-journal").unlink(missing_ok=True)  # a finished, not a hot, one
        return path.name

    def close(self) -> None:
        for db in self.dbs.values():
            with contextlib.suppress(sqlite3.Error):
                db.close()
        self.dbs.clear()

    def step(self, name: str) -> None:
        self.steps.append(name)
        if self._step is not None:
            self._step(name)

    # ----------------------------------------------------------------- locks

    @contextlib.contextmanager
    def locked(self, shards: Iterable[int]):
        """Every shard in ``shards`` inside ``BEGIN EXCLUSIVE``, its lock held (exclusive
        locking mode) until the block ends; :class:`ShardLockedError` if one cannot be had
        within the busy timeout, with every lock taken so far released."""
        taken: list[int] = []
        try:
            for s in sorted(set(shards)):
                db = self.dbs[s]
                try:
                    db.execute("PRAGMA locking_mode=EXCLUSIVE")
                    db.execute("BEGIN EXCLUSIVE")
                except sqlite3.OperationalError as exc:
                    self._release([s])
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise ShardLockedError(s, self.path(s), holder_lock(self.path(s)),
                                               self.busy_timeout_s) from exc
                    raise PartitionError(f"locking shard {s} failed: {exc}") from exc
                taken.append(s)
            yield
        finally:
            self._release(taken)

    def _release(self, shards: Sequence[int]) -> None:
        for s in shards:
            db = self.dbs.get(s)
            if db is None:
                continue
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
            with contextlib.suppress(sqlite3.Error):
                db.execute("PRAGMA locking_mode=NORMAL")
                db.execute("SELECT count(*) FROM sqlite_master").fetchall()  # lets go

    # ----------------------------------------------------------------- the commit

    def commit(self, shards: Sequence[int], stage: Callable[[int], object],
               decide: Callable[[int], Layout]):
        """Run one multi-shard change on ``shards`` as a two-phase commit; return what
        ``stage`` returned.

        ``stage(txid)`` writes each shard's part into its ``staged`` table (:meth:`stage_rows`,
        :meth:`stage_deletes`) inside the open, locked transactions; ``decide(txid)`` gives
        the layout to switch to. Before the layout switch any failure rolls everything back
        and is raised; after it, the change is committed: a failure while publishing is
        raised as :class:`PartitionError` saying so, and :meth:`recover` finishes it.
        """
        shards = sorted(set(shards))
        txid = secrets.randbits(62) + 1
        self.steps = []
        with self.locked(shards):
            self._check_layout()
            self.step("locked")
            try:
                result = stage(txid)
                for s in shards:  # phase 1 ends: each shard's part is durable, unpublished
                    self.dbs[s].execute("COMMIT")
                    if self._has_staged(s, txid):
                        self.step(f"staged shard {s}")
                layout = decide(txid)
                write_layout(self.directory, layout, self.step)  # phase 2 begins: decided
            except BaseException as exc:
                decided = self._decided_on_disk(txid)
                if decided is False:
                    self._abort(shards, txid)
                    if isinstance(exc, sqlite3.Error):
                        raise PartitionError(f"a sharded write failed and was rolled back "
                                             f"on every shard: {exc}") from exc
                    raise
                self.pending = True  # committed, or unknown: the layout file will tell
                with contextlib.suppress(PartitionError):
                    self.layout = read_layout(self.directory) or self.layout
                outcome = ("is committed (the layout records transaction "
                           f"{txid})" if decided else "may be committed (the layout file "
                           "could not be read back)")
                raise PartitionError(f"the write {outcome} but did not finish: {exc!r}; "
                                     f"recover() or reopening the directory finishes "
                                     f"it") from exc
            self.layout = layout
            try:
                self._publish(shards, txid, "")
                for s in shards:
                    if s >= layout.n_shards:
                        self.step(f"removed {self.drop(s)}")
            except BaseException as exc:
                self.pending = True
                raise PartitionError(f"the write is committed (transaction {txid}) but "
                                     f"publishing it failed: {exc!r}; recover() or reopening "
                                     f"the directory finishes it") from exc
        return result

    def stage_rows(self, shard: int, txid: int, rows: Iterable[Sequence]) -> None:
        """Stage full rows (values in column order) for insertion into ``shard``."""
        marks = ", ".join("?" * len(self.columns))
        self.dbs[shard].executemany(f"INSERT INTO {STAGED} VALUES (?, 'insert', {marks})",
                                    ((txid, *r) for r in rows))

    def stage_deletes(self, shard: int, txid: int, ids: Iterable[int]) -> None:
        """Stage the rows with these ids for deletion from ``shard``."""
        self.dbs[shard].executemany(f"INSERT INTO {STAGED}(txid, op, id) "
                                    f"VALUES (?, 'delete', ?)", ((txid, i) for i in ids))

    def _check_layout(self) -> None:
        on_disk = read_layout(self.directory)
        if on_disk != self.layout:
            raise PartitionError(f"the layout in {str(self.directory)!r} changed under this "
                                 f"router (another process resharded it?): reopen it")

    def _decided_on_disk(self, txid: int) -> bool | None:
        """Whether the layout file records ``txid`` as decided (None: cannot tell)."""
        try:
            on_disk = read_layout(self.directory)
        except PartitionError:
            return None
        return on_disk is not None and on_disk.decided == txid

    def _has_staged(self, shard: int, txid: int, op: str | None = None) -> bool:
        sql = f"SELECT EXISTS (SELECT 1 FROM {STAGED} WHERE txid = ?"
        args: list = [txid]
        if op is not None:
            sql += " AND op = ?"
            args.append(op)
        return bool(self.dbs[shard].execute(sql + ")", args).fetchone()[0])

    def _abort(self, shards: Sequence[int], txid: int) -> None:
        """Undo phase 1: roll back open transactions, delete what was staged. If that fails
        too, recovery deletes it later (undecided staged rows never become live)."""
        for s in shards:
            with contextlib.suppress(sqlite3.Error):
                if self.dbs[s].in_transaction:
                    self.dbs[s].execute("ROLLBACK")
        for s in shards:
            try:
                self._local(s, [(f"DELETE FROM {STAGED} WHERE txid = ?", (txid,))])
            except sqlite3.Error:
                self.pending = True

    def _local(self, shard: int, statements: Sequence[tuple[str, tuple]]) -> list[int]:
        """Run ``statements`` on ``shard`` in one local transaction; rows each changed."""
        db, changed = self.dbs[shard], []
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                changed.append(db.execute(sql, args).rowcount)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
            raise
        return changed

    def _publish(self, shards: Sequence[int], txid: int, prefix: str) -> tuple[int, int]:
        """Phase 2: staged inserts into the live table on every shard, then staged
        deletions; each shard's pass is one local transaction that also clears what it
        applied (so rerunning it after a crash does nothing twice)."""
        cols = ", ".join(f'"{c}"' for c in self.columns)
        done = {"insert": 0, "delete": 0}
        passes = {
            "insert": (f"INSERT INTO {self.table}({cols}) SELECT {cols} FROM {STAGED} "
                       f"WHERE txid = ? AND op = 'insert'", "published"),
            "delete": (f"DELETE FROM {self.table} WHERE id IN (SELECT id FROM {STAGED} "
                       f"WHERE txid = ? AND op = 'delete')", "deleted"),
        }
        for op, (sql, verb) in passes.items():
            for s in shards:
                if self._has_staged(s, txid, op):
                    done[op] += self._local(s, [(sql, (txid,)), self._clear(s, txid, op)])[0]
                    self.step(f"{prefix}{verb} shard {s}")
        return done["insert"], done["delete"]

    def _clear(self, shard: int, txid: int, op: str) -> tuple[str, tuple]:
        """The statement that deletes the applied staged rows: a plain ``DELETE FROM
        staged`` when they are all the table holds — SQLite's truncate optimization then
        frees its pages instead of deleting row by row (sqlite.org/lang_delete.html) —
        else the rows of this transaction and operation only."""
        others = self.dbs[shard].execute(
            f"SELECT EXISTS (SELECT 1 FROM {STAGED} WHERE txid != ? OR op != ?)",
            (txid, op)).fetchone()[0]
        if others:
            return f"DELETE FROM {STAGED} WHERE txid = ? AND op = ?", (txid, op)
        return f"DELETE FROM {STAGED}", ()

    # ----------------------------------------------------------------- recovery

    def recover(self) -> Recovery:
        """Finish or roll back whatever a crash or a failure left half done (see the
        module's docstring) and return what was done. Safe to run at any time, and to
        rerun after it failed: each of its steps is idempotent."""
        try:
            return self._recover()
        except sqlite3.Error as exc:
            self.pending = True
            raise PartitionError(f"recovering {str(self.directory)!r} failed: {exc}; "
                                 f"nothing done is undone — run recover() again") from exc

    def _recover(self) -> Recovery:
        layout = read_layout(self.directory)
        if layout is None:
            raise PartitionError(f"{str(self.directory)!r} has no layout.json to recover by")
        n = layout.n_shards
        extra = [s for s in self.numbers() if s >= n]
        for s in [*range(n), *extra]:
            self.open(s)
        everything = sorted(self.dbs)
        if not extra and not any(self._any_staged(s) for s in everything):
            self.layout, self.pending = layout, False
            return Recovery()
        with self.locked(everything):
            for s in everything:
                self.dbs[s].execute("COMMIT")  # the locks stay (exclusive locking mode)
            layout = read_layout(self.directory)  # under the locks: nobody changes it now
            self.layout = layout
            txids = {t for s in everything for (t,) in self.dbs[s].execute(
                f"SELECT DISTINCT txid FROM {STAGED}")}
            undecided = sorted(t for t in txids if t != layout.decided)
            discarded = 0
            for s in everything:
                if undecided and any(self._has_staged(s, t) for t in undecided):
                    discarded += self._local(s, [(f"DELETE FROM {STAGED} WHERE txid != ?",
                                                  (layout.decided or -1,))])[0]
                    self.step(f"recovery: discarded shard {s}")
            published = deleted = 0
            if layout.decided in txids:
                published, deleted = self._publish(everything, layout.decided, "recovery: ")
            removed = []
            for s in everything:
                if s >= layout.n_shards:
                    removed.append(self.drop(s))
                    self.step(f"recovery: removed {removed[-1]}")
        self.pending = False
        return Recovery(layout.decided if layout.decided in txids else None, published,
                        deleted, tuple(undecided), discarded, tuple(removed))

    def _any_staged(self, shard: int) -> bool:
        return bool(self.dbs[shard].execute(
            f"SELECT EXISTS (SELECT 1 FROM {STAGED})").fetchone()[0])
