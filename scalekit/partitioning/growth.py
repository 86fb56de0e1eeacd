"""What adding a shard does to a set of shard keys — computed with the strategies' own rules
over a list of keys (no SQLite), fast enough for a live panel.

The real mechanism. Going from n to n + 1 shards, a key moves when its shard changes: with
modulo hashing that is about n/(n+1) of the keys (``h mod n`` and ``h mod (n+1)`` agree for
1 in n+1 hashes), with jump hashing exactly the keys the new bucket takes, 1/(n+1) on
average (Lamping & Veach 2014), with a ketama ring the keys on the arcs the new shard's
points capture — its share of the ring, 1/(n+1) on average with a relative spread of about
1/√vnodes (Karger et al. 1997). Those are fractions of *keys*. A row moves with its key, so
the fraction of *rows* that moves is a weighted average over keys, each weighted by its
share of the rows ``w_k``: its expectation is the same, but when each key moves
independently with probability p, its standard deviation is

    √(p (1 − p) Σ w_k²) = √(p (1 − p) / K_eff),   K_eff = 1 / Σ w_k²

— the *effective number of keys*. 100,000 flight ids have K_eff = 100,000 and move within a
fraction of a percent of theory; 200 airports whose hubs carry most flights behave like
about 30 keys, and the fraction of rows that moves scatters by several points either way:
a hub moves or stays as one block.

* :func:`strategy_for_keys` — a strategy over n shards, range boundaries fitted to keys;
* :func:`add_shard` — the same rule with one more shard;
* :func:`shard_growth` — rows per shard, the rows that move, where they go, against theory;
* :func:`resharding_curve` — the fraction moved for n = 1 … max_shards;
* :func:`origin_keys` — the skewed key set of the course: each flight's origin airport.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.hashing import DEFAULT_VNODES, MAX_VNODES
from scalekit.partitioning import data
from scalekit.partitioning.shards import (
    ConsistentHash,
    Strategy,
    key_hashes,
    strategy,
    strategy_name,
)

__all__ = ["ShardGrowth", "ReshardingCurve", "strategy_for_keys", "add_shard",
           "expected_moved", "effective_keys", "shard_growth", "resharding_curve",
           "origin_keys"]

MAX_SHARDS = 64


def _keys(keys) -> list:
    if isinstance(keys, str | bytes) or not isinstance(keys, Sequence | np.ndarray):
        raise TypeError(f"keys must be a list of shard keys (one per row), got "
                        f"{type(keys).__name__}")
    keys = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
    if not keys:
        raise ValueError("keys must hold at least one shard key, got an empty list")
    return keys


@functools.lru_cache(maxsize=64)
def _ring(n: int, vnodes: int) -> ConsistentHash:
    return ConsistentHash(n, vnodes)  # never changed after it is built: safe to share


def strategy_for_keys(name: str, n: int, keys: Sequence | None = None, *,
                      vnodes: int = DEFAULT_VNODES) -> Strategy:
    """A fresh strategy ``name`` over ``n`` shards. Range splits the sorted distinct
    ``keys`` into ``n`` runs of equal length (so it needs them); consistent hashing uses
    ``vnodes`` points per shard; directory places each new key on the shard with the
    fewest keys so far."""
    strategy_name(name)
    n = _check.integer("n", n, low=1, high=10_000)
    keys = None if keys is None else _keys(keys)
    vnodes = _check.integer("vnodes", vnodes, low=1, high=MAX_VNODES)
    if name == "range":
        if keys is None:
            raise ValueError("a range strategy needs the keys to split into ranges")
        codes = sorted(set(_keys(keys)))
        if len(codes) < n:
            raise ValueError(f"a range split into {n} shards needs at least {n} distinct keys, "
                             f"got {len(codes)}")
        return strategy("range", n, boundaries=[codes[len(codes) * i // n]
                                                for i in range(1, n)])
    if name == "consistent":
        return _ring(n, vnodes)
    return strategy(name, n)


def add_shard(rule: Strategy, keys: Sequence | None = None) -> Strategy:
    """The same rule over one more shard: resized, or for a range strategy the keys split
    again into n + 1 equal runs (a ring keeps every old point and adds the new shard's)."""
    if not isinstance(rule, Strategy):
        raise TypeError(f"rule must be a strategy, got {type(rule).__name__}")
    keys = None if keys is None else _keys(keys)
    if rule.name == "range":
        return strategy_for_keys("range", rule.n + 1, keys)
    if isinstance(rule, ConsistentHash):
        return _ring(rule.n + 1, rule.vnodes)
    return rule.resized(rule.n + 1)


def expected_moved(name: str, n: int) -> float | None:
    """The textbook fraction of keys that move from ``n`` to ``n + 1`` shards: n/(n+1) for
    modulo, 1/(n+1) for consistent and jump hashing, 0 for a directory (its table keeps
    every placed key where it is), None for range (it depends on the boundaries)."""
    strategy_name(name)
    n = _check.integer("n", n, low=1, high=10_000)
    return {"modulo": n / (n + 1), "consistent": 1 / (n + 1), "jump": 1 / (n + 1),
            "directory": 0.0}.get(name)


def effective_keys(keys: Sequence) -> float:
    """1 / Σ w_k², ``w_k`` each distinct key's share of ``keys`` (one per row): as many as
    the distinct keys when every key has the same number of rows, fewer with hot keys."""
    counts = np.fromiter(Counter(_keys(keys)).values(), dtype=float)
    w = counts / counts.sum()
    return float(1.0 / np.sum(w * w))


@dataclass(frozen=True, eq=False, repr=False)
class ShardGrowth(_html.ScalarTable):
    """What adding shard ``shards`` (0-based: the (n+1)-th) does to ``rows`` rows with
    ``keys`` distinct shard keys under ``strategy``: ``moved`` of the rows and ``keys_moved``
    of the keys change shard; ``expected`` is the textbook fraction (None for range);
    ``spread`` the standard deviation of the moved fraction of rows when each key moves
    independently, √(p(1−p)/``effective_keys``) (consistent hashing: approximately; None
    without a theory); ``arc_share`` the new shard's share of the ring (consistent hashing
    only: the expected fraction for this very ring). ``load`` (rows per shard before),
    ``moving`` (of those, rows that move) and ``new_shard_rows`` (rows the new shard
    receives) are per shard."""

    strategy: str
    shards: int
    rows: int
    keys: int
    effective_keys: float
    moved: float
    keys_moved: float
    expected: float | None
    spread: float | None
    arc_share: float | None
    new_shard_rows: int
    hottest: int
    hottest_share: float
    load: np.ndarray = field(repr=False)
    moving: np.ndarray = field(repr=False)


def shard_growth(name: str, n: int, keys: Sequence, *,
                 vnodes: int = DEFAULT_VNODES) -> ShardGrowth:
    """Put ``keys`` (one per row; a hot key repeats) on ``n`` shards with strategy ``name``
    (:func:`strategy_for_keys`), add one shard (:func:`add_shard`) and count what moves —
    each distinct key looked up once."""
    strategy_name(name)
    _check.integer("n", n, low=1, high=10_000)
    _check.integer("vnodes", vnodes, low=1, high=MAX_VNODES)
    rows = _keys(keys)
    counter = Counter(rows)
    distinct, counts = list(counter), np.fromiter(counter.values(), dtype=np.int64)
    rule = strategy_for_keys(name, n, distinct, vnodes=vnodes)
    hashes = key_hashes(distinct) if name in ("modulo", "jump") else None
    before = rule.shards_for(distinct, hashes)  # first: a directory places keys as it meets them
    grown = add_shard(rule, distinct)
    after = grown.shards_for(distinct, hashes)
    moves = after != before
    load = np.bincount(before, weights=counts, minlength=n).astype(np.int64)
    moving = np.bincount(before, weights=counts * moves, minlength=n).astype(np.int64)
    k_eff = float(counts.sum()) ** 2 / float(np.sum(counts.astype(float) ** 2))
    p = expected_moved(name, n)
    spread = math.sqrt(p * (1 - p) / k_eff) if p is not None and name != "directory" else None
    arc = float(grown.ring.shares()[n]) if isinstance(grown, ConsistentHash) else None
    return ShardGrowth(strategy=name, shards=n, rows=len(rows), keys=len(distinct),
                       effective_keys=k_eff, moved=float(moving.sum()) / len(rows),
                       keys_moved=float(moves.mean()), expected=p, spread=spread,
                       arc_share=arc, new_shard_rows=int(counts[after == n].sum()),
                       hottest=int(load.argmax()), hottest_share=float(load.max()) / len(rows),
                       load=load, moving=moving)


@dataclass(frozen=True, eq=False, repr=False)
class ReshardingCurve(_html.ScalarTable):
    """The fraction of ``rows`` rows (``keys`` distinct keys, ``effective_keys``) that
    change shard going from n to n + 1 shards under ``strategy``, for each n in ``shards``:
    ``moved``, against the textbook ``expected`` and the ``spread`` of
    :class:`ShardGrowth`."""

    strategy: str
    rows: int
    keys: int
    effective_keys: float
    shards: tuple = field(repr=False)
    moved: tuple = field(repr=False)
    expected: tuple = field(repr=False)
    spread: tuple = field(repr=False)


def resharding_curve(name: str, keys: Sequence, max_shards: int = 16, *,
                     vnodes: int = DEFAULT_VNODES) -> ReshardingCurve:
    """:func:`shard_growth`'s moved fraction for n = 1 … ``max_shards`` (each step the
    same rule grown by one shard, so a ring keeps its points). Hash strategies only: range
    and directory move only what the operator moves."""
    if name in ("range", "directory"):
        raise ValueError(f"name must be one of the hash strategies (modulo, consistent, "
                         f"jump): resharding_curve compares those, got {name!r}; range and "
                         f"directory move only what the operator moves")
    strategy_name(name, ("modulo", "consistent", "jump"))
    _check.integer("vnodes", vnodes, low=1, high=MAX_VNODES)
    top = _check.integer("max_shards", max_shards, low=1, high=MAX_SHARDS)
    rows = _keys(keys)
    counter = Counter(rows)
    distinct, counts = list(counter), np.fromiter(counter.values(), dtype=float)
    k_eff = float(counts.sum()) ** 2 / float(np.sum(counts ** 2))
    rule = strategy_for_keys(name, 1, vnodes=vnodes)
    hashes = key_hashes(distinct) if name in ("modulo", "jump") else None
    now = rule.shards_for(distinct, hashes)
    moved, expected, spread = [], [], []
    for n in range(1, top + 1):
        rule = add_shard(rule)
        nxt = rule.shards_for(distinct, hashes)
        moved.append(float(np.sum(counts * (nxt != now)) / counts.sum()))
        p = expected_moved(name, n)
        expected.append(p)
        spread.append(math.sqrt(p * (1 - p) / k_eff))
        now = nxt
    return ReshardingCurve(strategy=name, rows=len(rows), keys=len(distinct),
                           effective_keys=k_eff, shards=tuple(range(1, top + 1)),
                           moved=tuple(moved), expected=tuple(expected), spread=tuple(spread))


def origin_keys(rows: int = 20_000, skew: float = 1.0, seed: int = 0) -> tuple:
    """The shard key of ``rows`` flights: each flight's origin airport code (a tuple of
    str, one per row; hubs repeat, ``skew`` as in :func:`scalekit.partitioning.flights`),
    over the default 200 airports (cached: the same arguments give the same tuple)."""
    rows = _check.integer("rows", rows, low=1, high=50_000_000)
    skew = _check.number("skew", skew, low=0.0, high=data.MAX_SKEW)
    seed = _check.integer("seed", seed, low=0)
    return _origin_keys(rows, skew, seed)


@functools.lru_cache(maxsize=16)
def _origin_keys(rows: int, skew: float, seed: int) -> tuple:
    ports = data.airports(seed=seed)
    fl = data.flights(rows, ports, seed=seed, skew=skew)
    return tuple(ports.code[fl.origin].tolist())
