"""A sharded write killed at a chosen step — a real process, SIGKILLed — and what it left.

The real mechanism. A database server can die at any instant: the kernel's out-of-memory
killer, ``kill -9``, a power cut. No ``except`` block runs and no ``finally``; only what
reached the disk survives. The two-phase commit of :mod:`scalekit.partitioning.twophase`
claims that whatever step a write is killed after, reopening the directory leaves every row
on disk exactly once — the old layout if the kill came before the layout switch, the new
one after it. This module lets a test or a student check that claim on real files:

* :func:`operation_steps` — the durable steps a write goes through (a dry run on a copy);
* :func:`crash` — run the write in a child Python process that SIGKILLs itself right after
  one step; :attr:`Crash.before` counts what it left on disk;
* :func:`crash_every_step` — one child per step, each on its own copy of the directory
  (forked from one helper process: no interpreter start-up per step);
* :func:`census` — rows in every shard file's live and staged tables, counted with plain
  SQLite queries on the files, not through a router;
* :func:`crash_matrix` — all of it: the census after a kill at each step, and again after
  a router has reopened (recovered) each directory.

An operation is a dict: ``{"op": "reshard", "target": 5}`` (a shard count, or a strategy's
:meth:`~scalekit.partitioning.shards.Strategy.spec`) or ``{"op": "insert_many", "rows":
[...]}``. POSIX only (``fork`` and ``SIGKILL``).
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
import traceback
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scalekit import _check, _html
from scalekit.partitioning.layout import read_layout
from scalekit.partitioning.sharding import ShardRouter
from scalekit.partitioning.shards import from_spec
from scalekit.partitioning.twophase import STAGED, Recovery

__all__ = ["DiskCensus", "Crash", "CrashMatrix", "census", "operation_steps", "crash",
           "crash_every_step", "crash_matrix", "OPERATIONS"]

OPERATIONS = ("reshard", "insert_many")
_CHILD_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DiskCensus:
    """What the shard files of a directory hold, counted with plain SQLite queries: per
    file (``files``) the rows of its live ``flights`` table (``live``) and of its
    ``staged`` table (``staged``); the distinct row ids in the live tables (``ids``) and the
    live rows that repeat an id already counted (``duplicates``); and what ``layout.json``
    says (``layout_shards``, ``layout_strategy``)."""

    files: tuple[str, ...]
    live: tuple[int, ...]
    staged: tuple[int, ...]
    ids: int
    duplicates: int
    layout_shards: int
    layout_strategy: str

    @property
    def rows(self) -> int:
        """Live rows in all files (duplicates included)."""
        return sum(self.live)

    def _repr_html_(self) -> str:
        return _html.key_value_table({
            "layout": f"{self.layout_strategy} over {self.layout_shards} shards",
            "files": ", ".join(self.files), "live rows per file": self.live,
            "staged rows per file": self.staged, "distinct ids": self.ids,
            "duplicated rows": self.duplicates})


@dataclass(frozen=True)
class Crash:
    """A write killed right after ``step`` (one of its ``steps``, in order), and what was
    on disk right after the kill (``before`` any recovery)."""

    step: str
    steps: tuple[str, ...]
    before: DiskCensus

    @property
    def decided(self) -> bool:
        """Whether the kill came after the layout switch (the commit point)."""
        return self.steps.index(self.step) >= self.steps.index("decided")

    def _repr_html_(self) -> str:
        return _html.key_value_table({
            "killed after": f"{self.step} (step {self.steps.index(self.step) + 1} of "
                            f"{len(self.steps)})",
            "commit decided": self.decided, "live rows on disk": self.before.rows,
            "duplicated rows": self.before.duplicates,
            "staged rows": sum(self.before.staged)})


def census(directory: str | os.PathLike) -> DiskCensus:
    """Count every shard file's live and staged rows in ``directory`` (see
    :class:`DiskCensus`)."""
    folder = _folder(directory)
    layout = read_layout(folder)
    files = sorted(folder.glob("shard-*.sqlite3"))
    live, staged, ids = [], [], Counter()
    for path in files:
        db = sqlite3.connect(path)
        try:
            found = [i for (i,) in db.execute("SELECT id FROM flights")]
            has_staged = db.execute("SELECT count(*) FROM sqlite_master WHERE name = ?",
                                    (STAGED,)).fetchone()[0]
            staged.append(db.execute(f"SELECT count(*) FROM {STAGED}").fetchone()[0]
                          if has_staged else 0)
        finally:
            db.close()
        live.append(len(found))
        ids.update(found)
    return DiskCensus(tuple(p.name for p in files), tuple(live), tuple(staged), len(ids),
                      sum(c - 1 for c in ids.values()),
                      layout.n_shards if layout else 0,
                      layout.strategy["name"] if layout else "")


def _folder(directory) -> Path:
    if not isinstance(directory, str | os.PathLike):
        raise TypeError(f"directory must be a path, got {type(directory).__name__}")
    folder = Path(directory)
    if not (folder / "layout.json").is_file():
        raise ValueError(f"{str(directory)!r} is not a sharded directory (no layout.json)")
    return folder


def _operation(operation) -> dict:
    if not isinstance(operation, Mapping) or "op" not in operation:
        raise TypeError(f"operation must be a dict with an 'op' (one of {OPERATIONS}), "
                        f"got {operation!r}")
    op = _check.choice("operation['op']", operation["op"], OPERATIONS)
    if op == "reshard":
        target = operation.get("target")
        if not isinstance(target, int | Mapping) or isinstance(target, bool):
            raise TypeError(f"a reshard's target must be a shard count or a strategy spec, "
                            f"got {target!r}")
        return {"op": op, "target": target}
    rows = operation.get("rows")
    if isinstance(rows, str | bytes) or not isinstance(rows, list | tuple):
        raise TypeError(f"insert_many's rows must be a list of row dicts, got {rows!r}")
    return {"op": op, "rows": [dict(r) for r in rows]}


def _run(directory: Path, operation: dict, kill_after: int | None,
         record: list | None = None) -> None:
    """Open the router on ``directory`` and run ``operation``; SIGKILL this process right
    after step number ``kill_after`` (0-based) completes."""
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
            target = operation["target"]
            router.reshard(target if isinstance(target, int) else from_spec(target))
        else:
            router.insert_many(operation["rows"])


def operation_steps(directory: str | os.PathLike, operation: Mapping) -> tuple[str, ...]:
    """The durable steps ``operation`` goes through on ``directory``, in order — found by
    running it on a temporary copy (``directory`` is not changed)."""
    folder, op = _folder(directory), _operation(operation)
    with tempfile.TemporaryDirectory(prefix="scalekit-steps-") as tmp:
        copy = Path(tmp) / "shards"
        shutil.copytree(folder, copy)
        record: list[str] = []
        _run(copy, op, None, record)
    return tuple(record)


def _child(args: list[str], timeout_s: float) -> str:
    command = [sys.executable, "-c",
               "import sys; from scalekit.partitioning.faults import main; main(sys.argv[1:])",
               *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                          check=False)
    if done.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"the crash helper failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return done.stdout


def crash(directory: str | os.PathLike, operation: Mapping, step: str | int) -> Crash:
    """Run ``operation`` on ``directory`` in a child process that is SIGKILLed right after
    ``step`` (a step name from :func:`operation_steps`, or its 0-based index). The directory
    is left exactly as the kill left it — open a router on it to recover."""
    folder, op = _folder(directory), _operation(operation)
    steps = operation_steps(folder, op)
    if isinstance(step, str):
        if step not in steps:
            raise ValueError(f"step {step!r} is not one of this operation's steps: "
                             f"{', '.join(steps)}")
        index = steps.index(step)
    else:
        index = _check.integer("step", step, low=0, high=len(steps) - 1)
    with tempfile.TemporaryDirectory(prefix="scalekit-crash-") as tmp:
        op_file = Path(tmp) / "operation.json"
        op_file.write_text(json.dumps(op))
        _child(["run", str(folder), str(op_file), str(index)], _CHILD_TIMEOUT_S)
    return Crash(steps[index], steps, census(folder))


def crash_every_step(directory: str | os.PathLike, operation: Mapping,
                     out: str | os.PathLike) -> tuple[str, ...]:
    """For every step k of ``operation``: copy ``directory`` to ``out/k`` and run the
    operation there in a child killed right after step k. Returns the steps; each
    ``out/k`` is left as its kill left it. ``directory`` is not changed."""
    folder, op = _folder(directory), _operation(operation)
    if not isinstance(out, str | os.PathLike):
        raise TypeError(f"out must be a directory path, got {type(out).__name__}")
    target = Path(out)
    if not target.is_dir() or any(target.iterdir()):
        raise ValueError(f"out must be an existing empty directory, got {str(out)!r}")
    steps = operation_steps(folder, op)
    op_file = target / "operation.json"
    op_file.write_text(json.dumps(op))
    _child(["matrix", str(folder), str(op_file), str(target), str(len(steps))],
           _CHILD_TIMEOUT_S * 4)
    op_file.unlink()
    return steps


def _matrix(source: Path, operation: dict, out: Path, count: int) -> None:
    """The helper process: fork one child per step, each killed after its step."""
    for k in range(count):
        copy = out / str(k)
        shutil.copytree(source, copy)
        pid = os.fork()
        if pid == 0:  # the child: run until killed; never return into the parent's code
            try:
                _run(copy, operation, k)
            except BaseException:
                traceback.print_exc()
            os._exit(3)  # not killed: the step was never reached
        _, status = os.waitpid(pid, 0)
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            raise RuntimeError(f"the child for step {k} was not killed (status {status})")


def main(argv: list[str]) -> None:
    """``run DIR OPERATION.json K`` or ``matrix DIR OPERATION.json OUT COUNT``."""
    mode, folder, op_file, *rest = argv
    operation = _operation(json.loads(Path(op_file).read_text()))
    if mode == "run":
        _run(Path(folder), operation, int(rest[0]))
        raise SystemExit(3)  # not killed: the step was never reached
    _matrix(Path(folder), operation, Path(rest[0]), int(rest[1]))


@dataclass(frozen=True, eq=False)
class CrashMatrix:
    """A write killed after each of its ``steps`` in turn: ``before[k]`` is the census the
    kill after step k left, ``recovered[k]`` what reopening did and ``after[k]`` the census
    then; ``rows`` the rows the directory held before the write (``added`` more if it
    inserts)."""

    operation: str
    rows: int
    added: int
    steps: tuple[str, ...]
    before: tuple[DiskCensus, ...]
    recovered: tuple[Recovery, ...]
    after: tuple[DiskCensus, ...]

    @property
    def decided_at(self) -> int:
        """The index of the commit point (the layout switch) among the steps."""
        return self.steps.index("decided")

    @property
    def exactly_once(self) -> bool:
        """After every kill and reopening, every row on disk once, nothing staged, and the
        write there entirely (kill after the commit point) or not at all (before it)."""
        return all(
            a.duplicates == 0 and not any(a.staged)
            and a.ids == self.rows + (self.added if k >= self.decided_at else 0)
            for k, a in enumerate(self.after))

    def _repr_html_(self) -> str:
        rows = [{"killed after": step, "live rows": b.rows, "duplicated": b.duplicates,
                 "staged": sum(b.staged), "reopened: layout": f"{a.layout_strategy} × "
                 f"{a.layout_shards}", "reopened: rows": a.ids, "reopened: duplicated":
                 a.duplicates} for step, b, a in zip(self.steps, self.before, self.after,
                                                     strict=True)]
        return _html.rows_table(rows, note=f"{self.operation} on {self.rows:,} rows, killed "
                                           f"(SIGKILL) after each of its {len(self.steps)} "
                                           f"steps, then reopened.")


def crash_matrix(directory: str | os.PathLike, operation: Mapping) -> CrashMatrix:
    """:func:`crash_every_step` on copies of ``directory`` (left unchanged), then a census
    of each copy before and after a router reopens it."""
    folder, op = _folder(directory), _operation(operation)
    start = census(folder)
    added = len(op["rows"]) if op["op"] == "insert_many" else 0
    before, after, recovered = [], [], []
    with tempfile.TemporaryDirectory(prefix="scalekit-matrix-") as tmp:
        steps = crash_every_step(folder, op, tmp)
        for k in range(len(steps)):
            copy = Path(tmp) / str(k)
            before.append(census(copy))
            with ShardRouter(copy) as router:
                recovered.append(router.recovery)
            after.append(census(copy))
    return CrashMatrix(op["op"], start.ids, added, steps, tuple(before), tuple(recovered),
                       tuple(after))
