"""Where a row lives: the shard-choosing strategies, each a small class with one decision,
:meth:`shard_for` (and :meth:`resized`, the same rule for another number of shards).

* :class:`ModuloHash` — ``key_hash(key) % n``; growing n → n+1 moves n/(n+1) of the keys.
* :class:`RangeShards` — sorted boundaries; shard i holds keys in [b[i-1], b[i]).
* :class:`DirectoryShards` — an explicit key → shard table; new keys placed by a rule.
* :class:`ConsistentHash` — a ketama ring (:class:`scalekit.hashing.HashRing`) with vnodes;
  adding a shard moves about 1/(n+1) of the keys, all of them to the new shard.
* :class:`JumpHash` — :func:`scalekit.hashing.jump_hash`; moves exactly the keys that land
  on the new bucket.

:class:`scalekit.partitioning.sharding.ShardRouter` puts them to work on real SQLite files.
"""

from __future__ import annotations

import bisect
import numbers
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from scalekit import _check
from scalekit.hashing import DEFAULT_VNODES, HashRing, jump_hash, key_hash

__all__ = ["Strategy", "ModuloHash", "RangeShards", "DirectoryShards", "ConsistentHash",
           "JumpHash", "strategy", "from_spec", "key_hashes", "STRATEGIES", "shard_load"]


# --------------------------------------------------------------------------- strategies


class Strategy:
    """A rule mapping a shard key to one of ``n`` shards (0 .. n−1): the one decision
    :meth:`shard_for`; :meth:`resized` is the same rule over another count, and
    :meth:`spec` the rule as plain data (what a router writes into its layout file, and
    :func:`from_spec` reads back)."""

    name = ""

    def __init__(self, n: int):
        self.n = _check.integer("n", n, low=1, high=10_000)

    def shard_for(self, key) -> int:
        raise NotImplementedError

    def shards_for(self, keys: Sequence, hashes: np.ndarray | None = None) -> np.ndarray:
        """:meth:`shard_for` of every key, as an int array — the bulk form a key set's
        analysis uses. ``hashes``: the keys' :func:`key_hash` values, if the caller has
        them (:func:`key_hashes`), so that several rules over the same keys hash them once;
        the hash strategies vectorise it."""
        keys, hashes = _bulk(keys, hashes)
        return np.fromiter((self.shard_for(k) for k in keys), dtype=np.int64,
                           count=len(keys))

    def resized(self, n: int) -> Strategy:
        """The same rule over ``n`` shards."""
        return type(self)(n)

    def spec(self) -> dict:
        """The rule as JSON-ready data: ``{"name": …, "n": …}`` plus its parameters."""
        return {"name": self.name, "n": self.n}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n})"


class ModuloHash(Strategy):
    """``key_hash(key) mod n`` — simple and balanced; resizing moves almost every key."""

    name = "modulo"

    def shard_for(self, key) -> int:
        return key_hash(key) % self.n

    def shards_for(self, keys: Sequence, hashes: np.ndarray | None = None) -> np.ndarray:
        keys, hashes = _bulk(keys, hashes)
        h = key_hashes(keys) if hashes is None else hashes
        return (h % np.uint64(self.n)).astype(np.int64)


class JumpHash(Strategy):
    """Lamping–Veach jump consistent hash of ``key_hash(key)``: balanced, no memory."""

    name = "jump"

    def shard_for(self, key) -> int:
        return jump_hash(key_hash(key), self.n)

    def shards_for(self, keys: Sequence, hashes: np.ndarray | None = None) -> np.ndarray:
        keys, hashes = _bulk(keys, hashes)
        return _jump_many(key_hashes(keys) if hashes is None else hashes, self.n)


class ConsistentHash(Strategy):
    """A ketama ring with ``vnodes`` points per shard; shard i is named ``shard-ii``, so a
    grown ring keeps every old point and the new shard only captures arcs."""

    name = "consistent"

    def __init__(self, n: int, vnodes: int = DEFAULT_VNODES):
        super().__init__(n)
        self.ring = HashRing([f"shard-{i:02d}" for i in range(self.n)], vnodes)
        self.vnodes = self.ring.vnodes

    def shard_for(self, key) -> int:
        return self.ring.index_for(key)

    def shards_for(self, keys: Sequence, hashes: np.ndarray | None = None) -> np.ndarray:
        keys, hashes = _bulk(keys, hashes)
        return self.ring.indices_for(list(keys))

    def resized(self, n: int) -> ConsistentHash:
        return ConsistentHash(n, self.vnodes)

    def spec(self) -> dict:
        return {**super().spec(), "vnodes": self.vnodes}


class RangeShards(Strategy):
    """Sorted ``boundaries`` (n−1 of them, numbers or strings): shard i holds the keys in
    [boundaries[i−1], boundaries[i]). Range queries touch few shards; a hot range, one."""

    name = "range"

    def __init__(self, n: int, boundaries: Sequence | None = None):
        super().__init__(n)
        if isinstance(boundaries, str | bytes) or not isinstance(boundaries, Sequence):
            raise TypeError(f"boundaries must be a sorted list of {self.n - 1} keys, "
                            f"got {boundaries!r}")
        bounds = list(boundaries)
        if len(bounds) != self.n - 1:
            raise ValueError(f"{self.n} range shards need {self.n - 1} boundaries, "
                             f"got {len(bounds)}: {bounds!r}")
        try:
            ok = all(a < b for a, b in zip(bounds, bounds[1:], strict=False))
        except TypeError as exc:
            raise TypeError(f"boundaries must all be numbers or all strings, "
                            f"got {bounds!r}") from exc
        if not ok:
            raise ValueError(f"boundaries must be strictly increasing, got {bounds!r}")
        self.boundaries = tuple(bounds)

    def shard_for(self, key) -> int:
        try:
            return bisect.bisect_right(self.boundaries, key)
        except TypeError as exc:
            raise TypeError(f"key {key!r} cannot be compared with the range boundaries "
                            f"{self.boundaries!r}") from exc

    def resized(self, n: int) -> RangeShards:
        raise ValueError(f"n={n!r}: a range strategy cannot guess new boundaries: reshard to "
                         f"a new RangeShards(n, boundaries) instead of a shard count")

    def spec(self) -> dict:
        return {**super().spec(), "boundaries": list(self.boundaries)}


class DirectoryShards(Strategy):
    """An explicit lookup table ``key → shard`` (a dict here; a real system keeps it in its
    own small database). A key not yet in the table is placed by ``rule``: ``"least"`` (the
    shard holding fewest keys, lowest index on ties) or ``"hash"`` (``key_hash mod n``)."""

    name = "directory"

    def __init__(self, n: int, table: Mapping | None = None, rule: str = "least"):
        super().__init__(n)
        self.rule = _check.choice("rule", rule, ("least", "hash"))
        if table is not None and not isinstance(table, Mapping):
            raise TypeError(f"table must be a dict key → shard (or None), got "
                            f"{type(table).__name__}")
        self.table: dict = {}
        self._keys_per_shard = [0] * self.n
        for key, shard in dict(table or {}).items():
            self.assign(key, shard)

    def assign(self, key, shard: int) -> None:
        """Put ``key`` on ``shard`` (a later reshard moves its rows there)."""
        _directory_key(key)
        shard = _check.integer("shard", shard, low=0, high=self.n - 1)
        if key in self.table:
            self._keys_per_shard[self.table[key]] -= 1
        self.table[key] = shard
        self._keys_per_shard[shard] += 1

    def shard_for(self, key) -> int:
        _directory_key(key)
        if key not in self.table:
            if self.rule == "hash":
                shard = key_hash(key) % self.n
            else:
                shard = self._keys_per_shard.index(min(self._keys_per_shard))
            self.assign(key, shard)
        return self.table[key]

    def resized(self, n: int) -> DirectoryShards:
        n = _check.integer("n", n, low=1, high=10_000)
        stranded = {k: s for k, s in self.table.items() if s >= n}
        if stranded:
            raise ValueError(f"{len(stranded)} directory keys live on shards ≥ {n}; "
                             f"assign them elsewhere first")
        return DirectoryShards(n, self.table, self.rule)

    def spec(self) -> dict:
        """The table as a list of [key, shard] pairs (a key may be a number or a string)."""
        return {**super().spec(), "rule": self.rule,
                "table": [[k, s] for k, s in self.table.items()]}


STRATEGIES = {"modulo": ModuloHash, "range": RangeShards, "directory": DirectoryShards,
              "consistent": ConsistentHash, "jump": JumpHash}


def strategy(name: str, n: int, **kw) -> Strategy:
    """The strategy called ``name`` over ``n`` shards (``kw``: ``vnodes`` for consistent,
    ``boundaries`` for range, ``table``/``rule`` for directory)."""
    strategy_name(name)
    _check.integer("n", n, low=1, high=10_000)
    return STRATEGIES[name](n, **kw)


def strategy_name(name, options=None) -> str:
    """``name`` if it names a strategy (one of ``options``, default all of
    :data:`STRATEGIES`); the error names the parameter ``name``."""
    options = tuple(STRATEGIES if options is None else options)
    listed = ", ".join(repr(o) for o in options)
    if not isinstance(name, str):
        raise TypeError(f"name must be a strategy name, one of {listed}; got {name!r}")
    if name not in options:
        raise ValueError(f"unknown strategy name {name!r}; choose one of {listed}")
    return name


def _directory_key(key) -> None:
    """A directory's key: what a layout file can hold and hash — a str, bytes or a whole
    number (not None, NaN, a list …)."""
    if isinstance(key, bool) or not isinstance(key, str | bytes | numbers.Integral):
        raise TypeError(f"key must be a str, bytes or int, got {key!r}")


def _bulk(keys, hashes) -> tuple[Sequence, np.ndarray | None]:
    """``keys`` (a list of shard keys) and ``hashes`` (None or one uint64 per key),
    checked."""
    if isinstance(keys, str | bytes) or not isinstance(keys, Sequence | np.ndarray):
        raise TypeError(f"keys must be a list of shard keys, got {type(keys).__name__}")
    if hashes is not None:
        if not isinstance(hashes, np.ndarray) or hashes.dtype != np.uint64:
            raise TypeError(f"hashes must be None or key_hashes(keys) (a uint64 array), got "
                            f"{type(hashes).__name__}")
        if hashes.shape != (len(keys),):
            raise ValueError(f"hashes must hold one hash per key ({len(keys)}), got shape "
                             f"{hashes.shape}")
    return keys, hashes


def key_hashes(keys: Sequence) -> np.ndarray:
    """:func:`scalekit.hashing.key_hash` of every key, as a uint64 array."""
    _bulk(keys, None)
    return np.fromiter((key_hash(k) for k in keys), dtype=np.uint64, count=len(keys))


def _jump_many(hashes: np.ndarray, n: int) -> np.ndarray:
    """:func:`scalekit.hashing.jump_hash` of many 64-bit keys at once: the same
    linear-congruential steps and float64 division, run for every key still jumping."""
    k = np.asarray(hashes, dtype=np.uint64).copy()
    b = np.full(k.shape, -1, dtype=np.int64)
    j = np.zeros(k.shape, dtype=np.int64)
    active = j < n
    with np.errstate(over="ignore"):
        while active.any():
            b[active] = j[active]
            k[active] = k[active] * np.uint64(2862933555777941757) + np.uint64(1)
            step = (b[active] + 1) * (float(1 << 31) / ((k[active] >> np.uint64(33)) + 1)
                                      .astype(np.float64))
            j[active] = step.astype(np.int64)
            active = j < n
    return b


def from_spec(spec: Mapping) -> Strategy:
    """The strategy that :meth:`Strategy.spec` described (a router's layout file)."""
    if not isinstance(spec, Mapping) or "name" not in spec or "n" not in spec:
        raise ValueError(f"a strategy spec is a mapping with a 'name' and an 'n', "
                         f"got {spec!r}")
    kw = {k: v for k, v in spec.items() if k not in ("name", "n")}
    if spec["name"] == "directory" and "table" in kw:
        kw["table"] = {key: shard for key, shard in kw["table"]}
    try:
        return strategy(spec["name"], spec["n"], **kw)
    except TypeError as exc:
        raise ValueError(f"cannot rebuild a strategy from {spec!r}: {exc}") from exc


def shard_load(rule: Strategy, keys: Iterable) -> np.ndarray:
    """How many of ``keys`` (one per row; repeats are a hot key's many rows) each shard
    gets under ``rule`` — the per-shard load of a skewed key set. Each distinct key is
    looked up once, in order of first appearance (a directory places new keys in that
    order)."""
    if not isinstance(rule, Strategy):
        raise TypeError(f"rule must be a strategy, got {type(rule).__name__}")
    if isinstance(keys, str | bytes | Mapping) or not isinstance(keys, Iterable):
        raise TypeError(f"keys must be a list of shard keys (one per row), got "
                        f"{type(keys).__name__}")
    load = np.zeros(rule.n, dtype=np.int64)
    for key, count in Counter(keys).items():
        load[rule.shard_for(key)] += count
    return load
