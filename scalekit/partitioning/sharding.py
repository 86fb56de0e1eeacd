"""Sharding a flights table across N real SQLite files, each standing for a database server.

The real mechanism. A sharded store (Vitess, Citus, MongoDB) splits one table's rows across
servers by a *shard key*: a strategy maps the key to a shard, a router sends each query that
names the key to that one shard, and a query without it goes to every shard and the router
merges the answers (scatter-gather). A join whose two sides live on different shards is done
in the router, one round of queries per side.

Here every shard is its own SQLite file (``shard-00.sqlite3`` …) behind its own connection —
never ``ATTACH``, which SQLite limits to 10 databases by default. Which shard a row lives
on is decided by a strategy from :mod:`scalekit.partitioning.shards` (modulo, range,
directory, consistent hashing, jump hash), re-exported here; the directory's
``layout.json`` (:mod:`scalekit.partitioning.layout`) records it, so a directory reopens
with the rule it was written with.

Every write that touches several shards — :meth:`ShardRouter.insert_many` and
:meth:`ShardRouter.reshard` — is a two-phase commit (:mod:`scalekit.partitioning.twophase`):
staged on every shard, decided by one atomic rename of the layout file, then published. It
either happens on every shard or on none, through failed commits, locked shards and a killed
process: opening the directory again finishes a decided change and rolls back any other.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scalekit import _check, _html
from scalekit.partitioning.data import PartitionError
from scalekit.partitioning.layout import Layout, read_layout, write_layout
from scalekit.partitioning.queries import (
    COLUMNS,
    TABLE,
    QueryCost,
    ShardReader,
    column_named,
    measure_query_costs,
    quoted_column,
)
from scalekit.partitioning.shards import (
    STRATEGIES,
    ConsistentHash,
    DirectoryShards,
    JumpHash,
    ModuloHash,
    RangeShards,
    Strategy,
    shard_load,
    strategy,
)
from scalekit.partitioning.twophase import (
    DEFAULT_BUSY_TIMEOUT_S,
    Recovery,
    ShardFiles,
    ShardLockedError,
)

_by_name = strategy  # ShardRouter's parameter ``strategy`` hides the function

__all__ = ["ModuloHash", "RangeShards", "DirectoryShards", "ConsistentHash", "JumpHash",
           "strategy", "STRATEGIES", "ShardRouter", "ShardError", "ShardLockedError",
           "InjectedFailure", "ReshardReport", "Recovery", "QueryCost", "measure_query_costs",
           "shard_load", "COLUMNS", "DEFAULT_BUSY_TIMEOUT_S"]



_NAMES = frozenset(COLUMNS)

#: A shard's database failed (the :mod:`sqlite3` error is chained as the cause): the same
#: error type as every partitioning database's.
ShardError = PartitionError


class InjectedFailure(RuntimeError):
    """The failure a test or a notebook asks for with ``fail_after`` (nothing is broken)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ReshardReport:
    """What one reshard did: rows and distinct keys before, how many moved, and the durable
    ``steps`` it went through (see :mod:`scalekit.partitioning.twophase`)."""

    old_n: int
    new_n: int
    strategy: str
    rows: int
    rows_moved: int
    keys: int
    keys_moved: int
    moved_to: tuple[int, ...]  #: rows arriving on each new shard
    steps: tuple[str, ...] = ()

    @property
    def fraction_moved(self) -> float:
        return self.rows_moved / self.rows if self.rows else 0.0

    def _repr_html_(self) -> str:
        return _html.key_value_table({
            "shards": f"{self.old_n} → {self.new_n} ({self.strategy})", "rows": self.rows,
            "rows moved": self.rows_moved, "fraction moved": self.fraction_moved,
            "keys moved": f"{self.keys_moved} of {self.keys}",
            "steps": " → ".join(self.steps)})


# --------------------------------------------------------------------------- the router


def _settings_clash(directory, layout: Layout, n_shards, strategy_arg, shard_key, kw) -> str:
    """Why the settings a caller passed disagree with the directory's layout ('' if not)."""
    stored = layout.rule()
    said = f"{str(directory)!r} was written with {stored.name} over {layout.n_shards} shards, " \
           f"shard key {layout.shard_key!r}"
    if n_shards is not None and _check.integer("n_shards", n_shards, low=1) != layout.n_shards:
        return f"{said}, not n_shards={n_shards}"
    if shard_key is not None and shard_key != layout.shard_key:
        return f"{said}, not shard_key={shard_key!r}"
    if isinstance(strategy_arg, str):
        if _check.choice("strategy", strategy_arg, STRATEGIES) != stored.name:
            return f"{said}, not {strategy_arg!r}"
        given = _by_name(strategy_arg, layout.n_shards, **kw).spec()
        if any(given[k] != layout.strategy.get(k) for k in kw if k != "table"):
            return f"{said} and {layout.strategy}, not {kw}"
    elif strategy_arg is not None:
        if not isinstance(strategy_arg, Strategy):
            raise TypeError(f"strategy must be a strategy name or a strategy object, "
                            f"got {strategy_arg!r}")
        if strategy_arg.spec() != layout.strategy:
            return f"{said} and {layout.strategy}, not {strategy_arg!r}"
    return ""


class ShardRouter(ShardReader):
    """``n_shards`` SQLite files ``shard-00.sqlite3`` … in ``directory``, each a ``flights``
    table (:data:`COLUMNS`) with an index on ``shard_key``, and the router in front of them.

    A new directory needs ``n_shards`` and takes ``strategy`` (a name, see :func:`strategy`,
    default ``"modulo"``, or a strategy object over ``n_shards``) and ``shard_key`` (default
    ``"origin"``); these go into its ``layout.json``. An existing directory is opened with the
    layout it holds — ``ShardRouter(directory)`` — and settings that disagree with it are
    refused; opening also recovers whatever a crash left half done (:attr:`recovery`).

    Rows are mappings column → value; ``id`` is the global row id (the application assigns
    it, as no shard can hand out ids for the others) and must be unique across shards.

    ``busy_timeout_s`` (default 5 s, sqlite3's own default): how long each shard waits for
    another connection's lock before a write gives up — having changed nothing. ``connect``
    and ``on_step(name)`` are seams for fault tests: the function that opens each shard's
    connection (default :func:`sqlite3.connect`), and a callback after every durable step
    of a multi-shard write.
    """

    def __init__(self, directory: str | os.PathLike, n_shards: int | None = None,
                 strategy: str | Strategy | None = None, *, shard_key: str | None = None,
                 busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
                 connect: Callable = sqlite3.connect,
                 on_step: Callable[[str], object] | None = None, **kw):
        if not isinstance(directory, str | os.PathLike):
            raise TypeError(f"directory must be a path, got {type(directory).__name__}")
        if shard_key is not None:
            column_named("shard_key", shard_key)
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot open the shard directory {str(directory)!r}: "
                             f"{exc}") from exc
        layout = read_layout(self.directory)
        if layout is None:
            self.strategy = self._new_rule(n_shards, strategy, kw)
            self.shard_key = shard_key or "origin"
        else:
            clash = _settings_clash(directory, layout, n_shards, strategy, shard_key, kw)
            if clash:
                raise ValueError(f"{clash}: open it with ShardRouter({str(directory)!r}) to "
                                 f"use its layout")
            self.strategy, self.shard_key = layout.rule(), layout.shard_key
        if COLUMNS[self.shard_key] == "REAL" and not isinstance(self.strategy, RangeShards):
            raise ValueError(f"shard_key {self.shard_key!r} holds real numbers, which only a "
                             f"range strategy can place; shard by id, origin, destination, "
                             f"airline, duration_min or domestic, or use 'range'")
        self._key_index = list(COLUMNS).index(self.shard_key)
        self._trace: list | None = None
        self._files = ShardFiles(self.directory, TABLE, COLUMNS, self.shard_key,
                                 connect=connect, busy_timeout_s=busy_timeout_s, step=on_step)
        try:
            if layout is None:
                self._create()
            #: what opening found half done and finished or rolled back
            self.recovery: Recovery = self._files.recover()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _new_rule(n_shards, strategy_arg, kw) -> Strategy:
        if n_shards is None and isinstance(strategy_arg, Strategy):
            n_shards = strategy_arg.n
        if n_shards is None:
            raise ValueError("n_shards is needed to create a sharded directory (this one has "
                             "no layout.json yet)")
        n = _check.integer("n_shards", n_shards, low=1, high=10_000)
        strategy_arg = "modulo" if strategy_arg is None else strategy_arg
        rule = _by_name(strategy_arg, n, **kw) if isinstance(strategy_arg, str) else strategy_arg
        if not isinstance(rule, Strategy) or rule.n != n:
            raise ValueError(f"strategy must be a strategy name or a strategy over {n} "
                             f"shards, got {strategy_arg!r}")
        return rule

    def _create(self) -> None:
        """Write a new directory's layout — after checking that shard files already there
        (written before layouts existed) hold exactly what these settings say."""
        n = self.strategy.n
        extra = [self.path(s) for s in self._files.numbers() if s >= n]
        if extra:
            raise ValueError(f"n_shards={n}, but {str(self.directory)!r} already holds shard "
                             f"files beyond it ({', '.join(p.name for p in extra[:3])} …): "
                             f"open it with the number of shards it was written with")
        for s in range(n):
            self._files.open(s)
        wrong = self.misplaced()
        if wrong:
            raise ValueError(f"{wrong:,} rows already in {str(self.directory)!r} do not belong "
                             f"where this strategy ({self.strategy.name}, {n} shards, "
                             f"shard key {self.shard_key!r}) puts them: open it with the "
                             f"settings it was written with")
        layout = Layout(self.strategy.spec(), self.shard_key)
        write_layout(self.directory, layout)
        self._files.layout = layout

    # ----------------------------------------------------------------- files

    def path(self, shard: int) -> Path:
        """The file of shard ``shard`` (a number 0 … 9,999: a reshard names its new
        shards' files before they hold anything)."""
        return self._files.path(_check.integer("shard", shard, low=0, high=9_999))

    @property
    def n_shards(self) -> int:
        return self.strategy.n

    @property
    def layout(self) -> Layout:
        """The layout in force (what ``layout.json`` says)."""
        return self._files.layout

    @property
    def busy_timeout_s(self) -> float:
        """Seconds each shard waits for another connection's lock."""
        return self._files.busy_timeout_s

    def recover(self) -> Recovery:
        """Finish a decided write, or roll back an undecided one, that a failure left half
        done (opening a directory does this too); returns what was done."""
        self.recovery = self._files.recover()
        if self.strategy.spec() != self.layout.strategy:
            self.strategy = self.layout.rule()
        return self.recovery

    def close(self) -> None:
        self._files.close()

    def __enter__(self) -> ShardRouter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"ShardRouter({str(self.directory)!r}, {self.n_shards} shards, "
                f"{self.strategy!r}, shard_key={self.shard_key!r})")

    # ----------------------------------------------------------------- plumbing

    def _connection(self, shard: int) -> sqlite3.Connection:
        return self._files.dbs[shard]

    def _settle(self) -> None:
        """Before any query or write: resolve a write a failure left half done."""
        if self._files.pending:
            self.recover()

    def _write(self, shards: Iterable[int], stage: Callable[[int], object], rule: Strategy):
        """One multi-shard write as a two-phase commit whose decision switches the layout to
        ``rule``; afterwards :attr:`strategy` is whatever the layout in force says."""
        before = self.strategy
        try:
            return self._files.commit(
                list(shards), stage, lambda txid: Layout(rule.spec(), self.shard_key, txid))
        finally:
            spec = self.layout.strategy
            self.strategy = next((r for r in (rule, before) if r.spec() == spec),
                                 None) or self.layout.rule()

    def _row(self, row) -> tuple:
        if not isinstance(row, Mapping):
            raise TypeError(f"rows must hold mappings column → value, got {row!r}")
        unknown = row.keys() - _NAMES
        if unknown:
            raise ValueError(f"unknown column(s) {sorted(map(str, unknown))}; the flights "
                             f"columns are {', '.join(COLUMNS)}")
        get = row.get
        values = tuple([get(c) for c in COLUMNS])
        if values[self._key_index] is None or values[0] is None:
            needed = "id" if values[0] is None else self.shard_key
            raise ValueError(f"row is missing its {needed!r} (the "
                             f"{'shard key' if needed == self.shard_key else 'row id'})"
                             f": {dict(row)!r}")
        if type(values[0]) is not int or not -(2**63) <= values[0] < 2**63:
            _check.integer("id", values[0], low=-(2**63), high=2**63 - 1)  # SQLite's INTEGER
        return values

    # ----------------------------------------------------------------- writes

    def insert_many(self, rows: Iterable[Mapping], *, fail_after: int | None = None) -> int:
        """Insert ``rows``, each on its key's shard, all or nothing (a two-phase commit);
        returns the count. ``fail_after``: raise :class:`InjectedFailure` once that many
        rows are staged — before the decision, so nothing is inserted anywhere."""
        fail_after = _fail_after(fail_after)
        if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
            raise TypeError(f"rows must be a list of row mappings (column → value), got "
                            f"{type(rows).__name__}" + (" (one row? put it in a list)"
                                                        if isinstance(rows, Mapping) else ""))
        records = [self._row(r) for r in rows]
        ids = [r[0] for r in records]
        if len(set(ids)) != len(ids):
            dup = next(i for i, c in Counter(ids).items() if c > 1)
            raise ValueError(f"row id {dup} appears twice in one insert")
        self._settle()
        if not records:
            return 0
        by_shard: dict[int, list[tuple]] = defaultdict(list)
        home = self._homes(self.strategy, (r[self._key_index] for r in records))
        for r in records:
            by_shard[home[r[self._key_index]]].append(r)

        def stage(txid: int) -> int:
            taken = self._existing_ids(ids)
            if taken:
                raise ValueError(f"row id(s) {sorted(taken)[:5]} already stored")
            written = 0
            for shard, group in sorted(by_shard.items()):
                if fail_after is not None and written + len(group) >= fail_after:
                    self._files.stage_rows(shard, txid, group[:max(fail_after - written, 0)])
                    raise InjectedFailure(f"injected failure after {fail_after} rows")
                self._files.stage_rows(shard, txid, group)
                written += len(group)
            return written

        return self._write(range(self.n_shards), stage, self.strategy)

    def _existing_ids(self, ids: Sequence[int]) -> set[int]:
        found: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            sql = f"SELECT id FROM {TABLE} WHERE id IN ({', '.join('?' * len(chunk))})"
            for shard in range(self.n_shards):
                found.update(i for (i,) in self._run(shard, sql, chunk))
        return found

    # ----------------------------------------------------------------- resharding

    def reshard(self, target: int | Strategy, *, fail_after: int | None = None
                ) -> ReshardReport:
        """Move to ``target`` — a shard count (same rule, resized) or a new strategy —
        moving only the rows whose shard changes, as one two-phase commit: every moving row
        is staged on its new shard and staged for deletion on its old one, the layout file
        switches to ``target`` in one atomic rename, then the staged rows are published and
        the old copies deleted. Before the switch any failure (``fail_after``: raise
        :class:`InjectedFailure` after that many rows are staged; a shard another
        connection has locked: :class:`ShardLockedError`) leaves every shard exactly as it
        was and removes new files; after it, the reshard completes, if need be when the
        directory is next opened."""
        if isinstance(target, int | np.integer) and not isinstance(target, bool):
            _check.integer("target", int(target), low=1, high=10_000)
        new = (self.strategy.resized(target) if isinstance(target, int | np.integer)
               and not isinstance(target, bool) else target)
        if not isinstance(new, Strategy):
            raise TypeError(f"target must be a shard count or a strategy, got {target!r}")
        fail_after = _fail_after(fail_after)
        self._settle()
        old_n, new_n = self.n_shards, new.n
        extra = [s for s in self._files.numbers() if s >= old_n]
        if extra:
            raise ValueError(f"{str(self.directory)!r} holds shard files beyond the "
                             f"{old_n} this router uses; move them away before resharding")
        try:
            for i in range(old_n, new_n):
                self._files.open(i)
        except (ValueError, PartitionError) as exc:
            self._remove_new_files(old_n, new_n)
            raise PartitionError(f"creating the new shard files failed, so the reshard was "
                                 f"rolled back on every shard (nothing was changed): "
                                 f"{exc}") from exc
        try:
            report = self._write(range(max(old_n, new_n)),
                                 lambda txid: self._stage_moves(new, old_n, txid, fail_after),
                                 new)
        except BaseException:
            if not self._files.pending and self.layout.n_shards == old_n:
                self._remove_new_files(old_n, new_n)
            raise
        return dataclasses.replace(report, steps=tuple(self._files.steps))

    @staticmethod
    def _homes(rule: Strategy, keys: Iterable) -> dict:
        """Each distinct key's shard under ``rule``, looked up once per key (in order of
        first appearance: a directory places new keys in that order)."""
        distinct = list(dict.fromkeys(keys))
        return dict(zip(distinct, rule.shards_for(distinct).tolist(), strict=True))

    def _remove_new_files(self, first: int, end: int) -> None:
        """Delete the files of shards ``first`` … ``end − 1``, which this reshard created
        (none existed before it) and which hold nothing."""
        for i in range(first, end):
            if i in self._files.dbs:
                self._files.drop(i)
            else:
                self.path(i).unlink(missing_ok=True)

    def _stage_moves(self, new: Strategy, old_n: int, txid: int, fail_after
                     ) -> ReshardReport:
        kcol, keys, moved_keys = quoted_column(self.shard_key), set(), set()
        rows_total, plan = 0, defaultdict(list)  # (source, destination) → ids
        stored = [self._run(src, f"SELECT id, {kcol} FROM {TABLE} ORDER BY id")
                  for src in range(old_n)]
        home = self._homes(new, (k for rows in stored for _, k in rows))
        for src, rows in enumerate(stored):  # plan every move before making any
            for i, k in rows:
                dst = home[k]
                keys.add(k)
                rows_total += 1
                if dst != src:
                    plan[src, dst].append(i)
                    moved_keys.add(k)
        moved, arrivals = 0, [0] * new.n
        for (src, dst), ids in sorted(plan.items()):
            if fail_after is not None and moved + len(ids) >= fail_after:
                self._stage_copy(src, dst, txid, ids[:max(fail_after - moved, 0)])
                raise InjectedFailure(f"injected failure after {fail_after} moves")
            self._stage_copy(src, dst, txid, ids)
            moved += len(ids)
            arrivals[dst] += len(ids)
        return ReshardReport(old_n, new.n, new.name, rows_total, moved, len(keys),
                             len(moved_keys), tuple(arrivals))

    def _stage_copy(self, src: int, dst: int, txid: int, ids: list[int]) -> None:
        """Stage copies of rows ``ids`` of shard ``src`` on ``dst``, and their deletion
        from ``src``."""
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._run(src, f"SELECT * FROM {TABLE} WHERE id IN "
                                  f"({', '.join('?' * len(chunk))})", chunk)
            self._files.stage_rows(dst, txid, rows)
            self._files.stage_deletes(src, txid, chunk)


def _fail_after(value) -> int | None:
    return None if value is None else _check.integer("fail_after", value, low=0)


