"""Multi-shard writes are all or nothing through every fault that reaches the commit.

For every strategy (modulo, range, directory, consistent, jump) and every multi-shard write
(a reshard that grows 4 → 5 shards, one that shrinks 4 → 3, an ``insert_many``):

* a reader (or a writer) holding each shard in turn: the write fails before changing
  anything, naming the shard and the holder's lock;
* a COMMIT that fails at every position (each shard, in each phase), injected by wrapping
  the connections;
* the writing process SIGKILLed right after every durable step, then the directory reopened;
* an exception raised at every step, in-process.

After each, every row is on disk exactly once — counted by opening each ``shard-NN.sqlite3``
with plain :mod:`sqlite3`, never through the router — on the shard the layout in force
says, and the layout is the old one if the fault came before the commit point and the new
one after it.

Sources for what is checked:

* SQLite, *Atomic Commit In SQLite* §5 "Multi-file Commit"
  (https://www.sqlite.org/atomiccommit.html) and *Write-Ahead Logging*
  (https://www.sqlite.org/wal.html: a transaction over ATTACHed databases in WAL mode is
  "atomic for each individual database, but not atomic across all databases as a set"),
  *Limits* (https://www.sqlite.org/limits.html: 10 attached databases by default) — why the
  router commits in two phases instead of relying on ATTACH;
* SQLite, *File Locking And Concurrency In SQLite Version 3*
  (https://www.sqlite.org/lockingv3.html: SHARED, RESERVED, PENDING, EXCLUSIVE) and
  *BEGIN TRANSACTION* (https://www.sqlite.org/lang_transaction.html: EXCLUSIVE "prevents
  other database connections from reading the database while the transaction is
  underway"), ``sqlite3_busy_timeout`` (https://www.sqlite.org/c3ref/busy_timeout.html);
* two-phase commit with presumed abort: Mohan, Lindsay & Obermarck, *Transaction Management
  in the R\\* Distributed Database Management System*, ACM TODS 11(4), 1986 — no decision
  record means abort; a recorded decision is carried out, however often recovery restarts;
* POSIX ``rename(2)``: replacing a file by rename is atomic for every reader.

The fault matrix runs its directories on tmpfs (``/dev/shm``) when there is one: a SIGKILL
loses nothing the kernel has accepted, so the recovery paths are the same as on a disk, and
it spares thousands of fsyncs (one larger case runs on the disk).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

import pytest

from scalekit.partitioning import data
from scalekit.partitioning.data import PartitionError
from scalekit.partitioning.sharding import COLUMNS, ShardLockedError, ShardRouter
from scalekit.partitioning.shards import (
    ConsistentHash,
    DirectoryShards,
    JumpHash,
    ModuloHash,
    RangeShards,
    from_spec,
)

SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
KEYS = [f"K{i:03d}" for i in range(60)]
ROWS = 240  # rows in each source directory: small, so the matrix stays fast
NEW_ROWS = 60


def flight_rows(n: int, start: int = 1, keys=KEYS) -> list[dict]:
    """``n`` full flights rows, ids from ``start``; keys skewed (K000 carries a quarter)."""
    out = []
    for i in range(n):
        key = keys[0] if i % 4 == 0 else keys[(i * 7) % len(keys)]
        out.append({"id": start + i, "origin": key, "destination": keys[(i * 11) % len(keys)],
                    "airline": ("NRD", "BLU", "ORA")[i % 3], "departs_at": 1.7e9 + 300.0 * i,
                    "duration_min": 40 + i % 500, "domestic": i % 2})
    return out


def as_tuple(row: dict) -> tuple:
    return tuple(row[c] for c in COLUMNS)


# --------------------------------------------------------------------------- the cases


def _grown_directory(rule: DirectoryShards) -> DirectoryShards:
    grown = rule.resized(5)
    for key in KEYS[1:12]:
        grown.assign(key, 4)  # to the new shard
    grown.assign(KEYS[0], (rule.table[KEYS[0]] + 1) % 4)  # the hot key between old shards
    return grown


def _shrunk_directory(rule: DirectoryShards) -> DirectoryShards:
    return DirectoryShards(3, {k: (s if s < 3 else i % 3)
                               for i, (k, s) in enumerate(rule.table.items())})


STRATEGIES = {
    "modulo": (lambda: ModuloHash(4), lambda r: ModuloHash(5), lambda r: ModuloHash(3)),
    "jump": (lambda: JumpHash(4), lambda r: JumpHash(5), lambda r: JumpHash(3)),
    "consistent": (lambda: ConsistentHash(4, 32), lambda r: ConsistentHash(5, 32),
                   lambda r: ConsistentHash(3, 32)),
    "range": (lambda: RangeShards(4, ["K015", "K030", "K045"]),
              lambda r: RangeShards(5, ["K012", "K024", "K036", "K048"]),
              lambda r: RangeShards(3, ["K020", "K040"])),
    "directory": (lambda: DirectoryShards(4), _grown_directory, _shrunk_directory),
}
WRITES = ("grow", "shrink", "insert")


class Case:
    """A source directory (4 shards, ``ROWS`` rows) and one write on it, with what the
    directory must hold if the write happened (``new_rule``, ``new_rows``) or not."""

    def __init__(self, root: Path, name: str, write: str):
        make, grow, shrink = STRATEGIES[name]
        self.name, self.write, self.source = name, write, root / f"{name}-{write}-source"
        self.rows = [as_tuple(r) for r in flight_rows(ROWS)]
        with ShardRouter(self.source, 4, make()) as router:
            router.insert_many(flight_rows(ROWS))
            self.old_rule = router.strategy
        if write == "insert":
            fresh = flight_rows(NEW_ROWS, start=10_001, keys=KEYS + [f"N{i}" for i in range(9)])
            self.operation = {"op": "insert_many", "rows": fresh}
            self.new_rows = self.rows + [as_tuple(r) for r in fresh]
            rule = DirectoryShards(4, self.old_rule.table) if name == "directory" \
                else self.old_rule
            for r in fresh:
                rule.shard_for(r["origin"])  # a directory places new keys as they come
            self.new_rule = rule
        else:
            self.new_rule = (grow if write == "grow" else shrink)(self.old_rule)
            self.operation = {"op": "reshard", "target": self.new_rule.spec()}
            self.new_rows = self.rows

    def copy(self, where: Path) -> Path:
        shutil.copytree(self.source, where)
        return where

    def run(self, router: ShardRouter):
        if self.write == "insert":
            return router.insert_many(self.operation["rows"])
        return router.reshard(from_spec(self.operation["target"]))


@pytest.fixture(scope="module")
def root():
    with tempfile.TemporaryDirectory(dir=SCRATCH, prefix="scalekit-faults-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module")
def cases(root):
    return {(name, write): Case(root, name, write) for name in STRATEGIES for write in WRITES}


# --------------------------------------------------------------------------- counting on disk


def on_disk(directory: Path) -> dict:
    """Everything in the directory, read with plain sqlite3: each shard file's live rows
    and staged-row count, and the layout file's text."""
    files = {}
    for path in sorted(directory.glob("shard-*.sqlite3")):
        db = sqlite3.connect(path)
        try:
            live = db.execute(f"SELECT {', '.join(COLUMNS)} FROM flights").fetchall()
            staged = db.execute("SELECT count(*) FROM staged").fetchone()[0]
        finally:
            db.close()
        files[path.name] = (sorted(live), staged)
    return {"files": files, "layout": (directory / "layout.json").read_text()}


def assert_exactly_once(directory: Path, rows: list[tuple], rule, context: str) -> None:
    """Every row in ``rows`` on disk exactly once, on the shard ``rule`` puts it, nothing
    staged, the files and the layout those of ``rule``."""
    disk = on_disk(directory)
    names = [f"shard-{s:02d}.sqlite3" for s in range(rule.n)]
    assert list(disk["files"]) == names, f"{context}: files {list(disk['files'])}"
    assert json.loads(disk["layout"])["strategy"] == rule.spec(), f"{context}: layout"
    everything = []
    home = {key: rule.shard_for(key) for key in sorted({r[1] for r in rows})}
    for shard, name in enumerate(names):
        live, staged = disk["files"][name]
        assert staged == 0, f"{context}: {staged} rows still staged in {name}"
        everything += live
        wrong = [r for r in live if home.get(r[1]) != shard]
        assert not wrong, f"{context}: {len(wrong)} rows on the wrong shard in {name}"
    if sorted(everything) != sorted(rows):  # the same multiset: each row exactly once
        found = Counter(everything)
        raise AssertionError(f"{context}: {len(everything)} live rows, "
                             f"{len(set(found) - set(rows))} unexpected, "
                             f"{len(set(rows) - set(found))} lost, "
                             f"{sum(c - 1 for c in found.values())} duplicated")


def assert_nothing_lost(directory: Path, rows: list[tuple], context: str) -> None:
    """Before any recovery: every row of ``rows`` is in some live table (a moved row's old
    copy is deleted only once every new copy is live)."""
    live = Counter()
    for rows_here, _ in on_disk(directory)["files"].values():
        live.update(rows_here)
    lost = set(rows) - set(live)
    assert not lost, f"{context}: {len(lost)} rows in no live table before recovery"


def expected(case: Case, decided: bool) -> tuple[list[tuple], object]:
    return (case.new_rows, case.new_rule) if decided else (case.rows, case.old_rule)


# --------------------------------------------------------------------------- kills


def _run_until_killed(directory: Path, operation: dict, kill_after: int | None,
                      record: list | None = None) -> None:
    seen = 0

    def step(name: str) -> None:
        nonlocal seen
        if record is not None:
            record.append(name)
        if seen == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        seen += 1

    with ShardRouter(directory, on_step=step) as router:
        if operation["op"] == "reshard":
            router.reshard(from_spec(operation["target"]))
        elif operation["op"] == "insert_many":
            router.insert_many(operation["rows"])
        # "recover": opening the router above was the whole operation


def drive(source: str, op_file: str, out: str) -> None:
    """Run in a fresh interpreter (``python this_file.py …``): find the operation's steps
    on a copy, then for each step k fork a child that runs it on its own copy ``out/k`` and
    SIGKILLs itself right after step k. Prints the steps as JSON."""
    operation = json.loads(Path(op_file).read_text())
    steps: list[str] = []
    dry = Path(out) / "dry"
    shutil.copytree(source, dry)
    _run_until_killed(dry, operation, None, steps)
    for k in range(len(steps)):
        copy = Path(out) / str(k)
        shutil.copytree(source, copy)
        pid = os.fork()
        if pid == 0:
            try:
                _run_until_killed(copy, operation, k)
            except BaseException:
                traceback.print_exc()
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            raise SystemExit(f"the child for step {k} was not killed: status {status}")
    print(json.dumps(steps))


def kill_at_every_step(source: Path, operation: dict, out: Path) -> list[str]:
    out.mkdir()
    op_file = out / "operation.json"
    op_file.write_text(json.dumps(operation))
    done = subprocess.run([sys.executable, __file__, str(source), str(op_file), str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_killed_after_every_step_then_reopened(cases, root, name, write):
    """SIGKILL right after each durable step: nothing is lost even before recovery, and
    reopening leaves the write done (killed after the layout switch) or undone (before)."""
    case = cases[name, write]
    out = root / f"kill-{name}-{write}"
    steps = kill_at_every_step(case.source, case.operation, out)
    assert steps[0] == "locked" and "decided" in steps
    assert any(s.startswith("staged shard") for s in steps[:steps.index("decided")])
    decided_at = steps.index("decided")
    for k, step in enumerate(steps):
        where, context = out / str(k), f"{name} {write}, killed after {step!r}"
        assert_nothing_lost(where, case.rows, context)
        with ShardRouter(where) as router:
            decided = k >= decided_at
            rows, rule = expected(case, decided)
            assert router.n_shards == rule.n, context
            assert sum(router.counts()) == len(rows), context
        assert_exactly_once(where, rows, rule, context)


def test_recovery_killed_at_every_step_is_finished_by_the_next(cases, root):
    """Recovery is itself killed at each of its steps, and the next opening finishes it:
    every step of it is idempotent (a decision, once recorded, is carried out)."""
    case = cases["modulo", "grow"]
    crashed = root / "crashed-mid-publish"
    steps = kill_at_every_step(case.source, case.operation, root / "kill-for-recovery")
    shutil.copytree(root / "kill-for-recovery" / str(steps.index("published shard 1")),
                    crashed)
    recovery = kill_at_every_step(crashed, {"op": "recover"}, root / "kill-recovery")
    assert recovery and all(s.startswith("recovery: ") for s in recovery)
    assert any("published" in s for s in recovery) and any("deleted" in s for s in recovery)
    for k, step in enumerate(recovery):
        where = root / "kill-recovery" / str(k)
        assert_nothing_lost(where, case.rows, f"recovery killed after {step!r}")
        ShardRouter(where).close()
        assert_exactly_once(where, case.new_rows, case.new_rule,
                            f"recovery killed after {step!r}, reopened")


# --------------------------------------------------------------------------- failed commits


class FailingCommits:
    """A stand-in for :func:`sqlite3.connect` whose connections count every COMMIT and make
    the ``fail_at``-th (1-based) raise ``sqlite3.OperationalError`` instead, as a full disk
    or an I/O error would. Records on which file the failure happened."""

    def __init__(self, fail_at: int | None):
        self.fail_at, self.commits, self.failed_on = fail_at, 0, None

    def __call__(self, path, **kw):
        return _Counted(sqlite3.connect(path, **kw), self, Path(path).name)


class _Counted:
    def __init__(self, db, counter: FailingCommits, name: str):
        self._db, self._counter, self._name = db, counter, name

    def execute(self, sql, *args):
        if sql.strip().upper() == "COMMIT":
            self._counter.commits += 1
            if self._counter.commits == self._counter.fail_at:
                self._counter.failed_on = self._name
                raise sqlite3.OperationalError("database or disk is full (injected)")
        return self._db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._db, name)


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_commit_failing_at_every_position(cases, root, name, write):
    """The k-th COMMIT of the write fails, for every k: staged on any shard (rolled back
    everywhere) or published on any shard (committed: the router finishes it before its next
    query, and so does reopening)."""
    case = cases[name, write]
    counting = FailingCommits(None)
    with ShardRouter(case.copy(root / f"count-{name}-{write}"), connect=counting) as router:
        counting.commits = 0  # opening made none that matter; count the write's
        case.run(router)
    total, outcomes, failed_on = counting.commits, Counter(), set()
    assert total >= 4
    for k in range(1, total + 1):
        where = case.copy(root / f"commit-{name}-{write}-{k}")
        failing = FailingCommits(None)
        with ShardRouter(where, connect=failing) as router:
            failing.fail_at = failing.commits + k
            with pytest.raises(PartitionError) as info:
                case.run(router)
            decided = "is committed" in str(info.value)
            assert decided or "rolled back on every shard" in str(info.value), info.value
            outcomes[decided] += 1
            failed_on.add(failing.failed_on)
            rows, rule = expected(case, decided)
            assert sum(router.counts()) == len(rows)  # the router heals itself first
            assert router.n_shards == rule.n
        assert_exactly_once(where, rows, rule, f"{name} {write}, COMMIT {k} of {total} failed")
    assert outcomes[False] and outcomes[True], outcomes  # both phases were reached
    involved = {f"shard-{s:02d}.sqlite3" for s in range(max(case.old_rule.n,
                                                               case.new_rule.n))}
    assert failed_on == involved


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_an_exception_at_every_step(cases, root, name):
    """In-process: an exception raised right after each step (an interrupt, a bug) — before
    the switch it propagates and nothing changed; after it the write is committed and
    finished before the next query."""
    case = cases[name, "grow"]
    record: list[str] = []
    with ShardRouter(case.copy(root / f"steps-{name}"), on_step=record.append) as router:
        case.run(router)
    for k, step in enumerate(record):
        def boom(s, k=k, seen=[]):  # noqa: B006 - a counter local to this step
            seen.append(s)
            if len(seen) == k + 1:
                raise KeyboardInterrupt(f"after {s}")

        where = case.copy(root / f"raise-{name}-{k}")
        with ShardRouter(where, on_step=boom) as router:
            decided = k >= record.index("decided")
            with pytest.raises(PartitionError if decided else KeyboardInterrupt):
                case.run(router)
            rows, rule = expected(case, decided)
            assert router.n_shards == rule.n and sum(router.counts()) == len(rows)
        assert_exactly_once(where, rows, rule, f"{name}: exception after {step!r}")


# --------------------------------------------------------------------------- locks


def _hold(path: Path, begin: str, query: bool = True) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(begin)
    if query:
        db.execute("SELECT count(*) FROM flights").fetchall()
    return db


@pytest.mark.parametrize("write", ("grow", "insert"))
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_reader_holding_each_shard_in_turn(cases, root, name, write):
    """A reporting query left open (a SHARED lock) on shard s: the write gives up after
    the busy timeout, naming shard s and the lock, with every file exactly as it was; once
    the reader is done, the same write goes through."""
    case = cases[name, write]
    for shard in range(4):
        where = case.copy(root / f"reader-{name}-{write}-{shard}")
        before = on_disk(where)
        reader = _hold(where / f"shard-{shard:02d}.sqlite3", "BEGIN")
        try:
            with ShardRouter(where, busy_timeout_s=0.05) as router:
                with pytest.raises(ShardLockedError) as info:
                    case.run(router)
                assert info.value.shard == shard and "SHARED" in info.value.lock
                assert f"shard {shard} (shard-{shard:02d}.sqlite3)" in str(info.value)
                assert "Nothing was changed" in str(info.value)
                assert on_disk(where) == before
        finally:
            reader.close()
        with ShardRouter(where) as router:
            case.run(router)
        assert_exactly_once(where, case.new_rows, case.new_rule, f"{name} after the reader")


@pytest.mark.parametrize(("begin", "kind"), [("BEGIN", "SHARED"),
                                             ("BEGIN IMMEDIATE", "RESERVED"),
                                             ("BEGIN EXCLUSIVE", "EXCLUSIVE")])
def test_the_message_names_the_holders_lock(cases, root, begin, kind):
    case = cases["jump", "grow"]
    where = case.copy(root / f"kind-{kind}")
    with ShardRouter(where, busy_timeout_s=0.05) as router:
        holder = _hold(where / "shard-01.sqlite3", begin, query=begin == "BEGIN")
        try:
            with pytest.raises(ShardLockedError, match=kind) as info:
                case.run(router)
            assert info.value.shard == 1
            if kind == "EXCLUSIVE":  # not even a reader gets in: opening is refused too
                with pytest.raises(ShardLockedError, match="shard 1 .*EXCLUSIVE"):
                    ShardRouter(where, busy_timeout_s=0.05)
        finally:
            holder.close()
    assert_exactly_once(where, case.rows, case.old_rule, f"refused by a {kind} lock")


def test_the_busy_timeout_is_waited_and_then_given_up(cases, root):
    """sqlite3_busy_timeout: a lock released within the timeout is waited for (the write
    succeeds); one held longer makes the write give up after about the timeout."""
    case = cases["consistent", "grow"]
    where = case.copy(root / "busy")
    holding, release = threading.Event(), threading.Event()

    def reader():
        db = _hold(where / "shard-02.sqlite3", "BEGIN")
        holding.set()
        release.wait(10)
        db.close()

    thread = threading.Thread(target=reader)
    thread.start()
    holding.wait(10)
    try:
        with ShardRouter(where, busy_timeout_s=0.3) as router:
            start = time.perf_counter()
            with pytest.raises(ShardLockedError):
                case.run(router)
            waited = time.perf_counter() - start
        assert 0.25 <= waited < 5.0
        threading.Timer(0.3, release.set).start()
        with ShardRouter(where, busy_timeout_s=10.0) as router:
            start = time.perf_counter()
            case.run(router)
            assert time.perf_counter() - start >= 0.2  # it waited for the reader
    finally:
        release.set()
        thread.join(10)
    assert_exactly_once(where, case.new_rows, case.new_rule, "after waiting for the reader")


# --------------------------------------------------------------------------- one larger case


@pytest.mark.slow
def test_the_reported_case_100000_flights_on_disk(tmp_path):
    """Issue 22's reproduction on a real disk: 100,000 flights in 4 modulo shards; a reader
    left open on one shard, a COMMIT failing at the last shard of a reshard, and one
    failing in the middle of an insert of 20,000 rows — none loses or duplicates a row."""
    ports = data.airports(seed=0)
    rows = data.flight_rows(data.flights(100_000, ports, seed=1), ports)
    tuples = [as_tuple(r) for r in rows]
    with ShardRouter(tmp_path, 4, "modulo") as router:
        router.insert_many(rows)
        rule = router.strategy
    reader = _hold(tmp_path / "shard-02.sqlite3", "BEGIN")
    try:
        with ShardRouter(tmp_path, busy_timeout_s=0.2) as router:
            with pytest.raises(ShardLockedError, match="shard 2"):
                router.reshard(5)
    finally:
        reader.close()
    assert_exactly_once(tmp_path, tuples, rule, "reshard refused by a reader")

    counting = FailingCommits(None)
    with ShardRouter(tmp_path, connect=counting) as router:
        # creating shard-04, then 5 staged, 5 published, 4 deletions: fail the last
        counting.fail_at = counting.commits + 15
        with pytest.raises(PartitionError, match="is committed"):
            router.reshard(5)
        assert counting.failed_on == "shard-03.sqlite3"
    assert_nothing_lost(tmp_path, tuples, "100,000 rows, last deletion failed")
    ShardRouter(tmp_path).close()
    assert_exactly_once(tmp_path, tuples, ModuloHash(5), "100,000 rows, reopened")

    fresh = data.flight_rows(data.flights(20_000, ports, seed=2), ports)
    for i, r in enumerate(fresh):
        r["id"] = 200_001 + i
    failing = FailingCommits(None)
    with ShardRouter(tmp_path, connect=failing) as router:
        failing.fail_at = failing.commits + 3  # the third shard's staging commit
        with pytest.raises(PartitionError, match="rolled back on every shard"):
            router.insert_many(fresh)
    for s in range(5):  # no transaction and no lock left behind
        probe = sqlite3.connect(tmp_path / f"shard-{s:02d}.sqlite3", timeout=0,
                                isolation_level=None)
        probe.execute("BEGIN EXCLUSIVE")
        probe.execute("ROLLBACK")
        probe.close()
    assert_exactly_once(tmp_path, tuples, ModuloHash(5), "insert of 20,000 rolled back")


if __name__ == "__main__":
    drive(*sys.argv[1:])
