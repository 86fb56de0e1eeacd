"""Sharding strategies side by side: where skewed keys land, and how many move when a shard
is added — views of :mod:`scalekit.partitioning.shards`.

Everything here is computed from the strategies' public rule, ``shard_for(key)`` and
``resized(n)``, over a list of keys (no SQLite): cheap enough for a live panel. The skewed key
set is the origin airport code of each flight from :func:`scalekit.partitioning.flights` —
a hub's code repeats once per flight, so a hub is a hot key that no hash can split.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from scalekit import _check
from scalekit.hashing import DEFAULT_VNODES
from scalekit.partitioning import data, shards
from scalekit.views.panel import Panel
from scalekit.views.style import CYCLE, LIMIT, THEORY, figure, styled

__all__ = ["plot_shard_load", "plot_resharding", "explore_sharding", "origin_keys",
           "STRATEGY_NAMES"]

#: The strategies the views compare, in the order they are drawn.
STRATEGY_NAMES = ("modulo", "range", "directory", "consistent", "jump")
_LABEL = {"modulo": "modulo hash", "range": "range (A–Z split)", "directory": "directory",
          "consistent": "consistent hash", "jump": "jump hash"}
_PANEL_ROWS = 20_000  # flights behind the panel's key set
_AIRPORTS = 200  # data.airports() default


@functools.lru_cache(maxsize=16)
def origin_keys(rows: int = _PANEL_ROWS, skew: float = 1.0, seed: int = 0) -> tuple:
    """The shard key of ``rows`` flights: each flight's origin airport code (a tuple of
    str, one per row; hubs repeat, ``skew`` as in :func:`scalekit.partitioning.flights`)."""
    ports = data.airports(_AIRPORTS, seed=seed)
    fl = data.flights(rows, ports, seed=seed, skew=skew)
    return tuple(ports.code[fl.origin].tolist())


@functools.lru_cache(maxsize=1)
def _all_codes() -> tuple:
    return tuple(sorted(data.airports(_AIRPORTS, seed=0).code.tolist()))


def _rule(name: str, n: int, vnodes: int = DEFAULT_VNODES, codes: Sequence | None = None):
    """A fresh strategy over ``n`` shards. Range splits the sorted airport codes into ``n``
    runs of equal length (A… to Z…); directory places each new key on the shard with the
    fewest keys so far."""
    if name == "range":
        codes = sorted(codes) if codes is not None else _all_codes()
        if len(codes) < n:
            raise ValueError(f"a range split into {n} shards needs at least {n} distinct keys, "
                             f"got {len(codes)}")
        return shards.strategy("range", n, boundaries=[codes[len(codes) * i // n]
                                                       for i in range(1, n)])
    if name == "consistent":
        return _ring(n, vnodes)
    return shards.strategy(name, n)


@functools.lru_cache(maxsize=64)
def _ring(n: int, vnodes: int) -> shards.ConsistentHash:
    return shards.strategy("consistent", n, vnodes=vnodes)  # immutable: safe to share


def _grown(rule, name: str, vnodes: int, codes: Sequence | None = None):
    """The same strategy with one more shard (range: the same A–Z rule over n + 1)."""
    if name == "range":
        return _rule("range", rule.n + 1, vnodes, codes)
    if name == "consistent":
        return _ring(rule.n + 1, vnodes)
    return rule.resized(rule.n + 1)


# --------------------------------------------------------------------------- the panel


@dataclass(frozen=True, eq=False)
class _Snapshot:
    """Rows per shard under one setting, and what adding a shard does to them."""

    strategy: str
    shards: int
    skew: float
    vnodes: int
    rows: int
    load: np.ndarray  # rows per shard, n
    moving: np.ndarray  # of those, rows that move when shard n+1 is added
    new_shard_rows: int  # rows the added shard ends up with

    @property
    def moved(self) -> float:
        return float(self.moving.sum()) / self.rows

    @property
    def hottest(self) -> int:
        return int(self.load.argmax())

    @property
    def hottest_share(self) -> float:
        return float(self.load.max()) / self.rows


def _snapshot(name: str, n: int, skew: float, vnodes: int) -> _Snapshot:
    keys = origin_keys(_PANEL_ROWS, skew)
    distinct, counts = np.unique(np.asarray(keys), return_counts=True)  # a hot key: one lookup
    rule = _rule(name, n, vnodes)
    before = np.array([rule.shard_for(k) for k in distinct.tolist()])
    after_rule = _grown(rule, name, vnodes)
    after = np.array([after_rule.shard_for(k) for k in distinct.tolist()])
    load = np.bincount(before, weights=counts, minlength=n)
    moving = np.bincount(before, weights=counts * (after != before), minlength=n)
    return _Snapshot(strategy=name, shards=n, skew=skew, vnodes=vnodes, rows=len(keys),
                     load=load, moving=moving, new_shard_rows=int(counts[after == n].sum()))


@styled
def _draw_snapshot(s: _Snapshot):
    fig, ax = figure(height=3.8, left=0.08, right=0.98, top=0.83, bottom=0.14)
    n = s.shards
    x = np.arange(n)
    scale = 100.0 / s.rows  # % of all rows
    stays = (s.load - s.moving) * scale
    ax.bar(x, stays, width=0.8, color=CYCLE[0], label="rows that stay")
    ax.bar(x, s.moving * scale, width=0.8, bottom=stays, color=CYCLE[1],
           label=f"rows that move when shard {n} is added")
    ax.bar([n], [s.new_shard_rows * scale], width=0.8, color="white", edgecolor=CYCLE[2],
           hatch="//", lw=1.5, label=f"new shard {n}: rows it receives")
    ax.axhline(100.0 / n, color=THEORY, ls="--", lw=1, label=f"even share (1/{n})")
    ax.set_xlim(-0.7, n + 0.7)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    ax.set(xlabel="shard", ylabel="rows on the shard (% of all rows)",
           ylim=(0, max(100.0 / n, float(s.load.max()) * scale) * 1.12))
    ax.legend(loc="upper right", ncols=2)
    theory = n / (n + 1) if s.strategy == "modulo" else 1 / (n + 1)
    ref = "n/(n+1)" if s.strategy == "modulo" else "1/(n+1)"
    ax.set_title(f"{_LABEL[s.strategy]}, {n} shards: shard {s.hottest} holds "
                 f"{s.hottest_share:.0%} of the rows (even share {1 / n:.0%})\n"
                 f"Adding shard {n} moves {s.moved:.0%} of the rows (theory {ref} = "
                 f"{theory:.0%})")
    return fig


def _describe(s: _Snapshot) -> str:
    return (f"{s.rows:,} flights keyed by origin airport (skew {s.skew:g}) · hottest shard "
            f"{s.hottest}: {s.hottest_share:.1%} of rows · adding shard {s.shards} moves "
            f"{s.moved:.1%} of rows; {s.new_shard_rows / s.rows:.1%} land on the new shard")


def explore_sharding() -> Panel:
    """Pick a strategy, a shard count, the hub skew and (for consistent hashing) the
    virtual nodes: see each shard's rows, and which of them move when one shard is added."""
    controls = {
        "strategy": widgets.Dropdown(options=[(_LABEL[k], k) for k in STRATEGY_NAMES],
                                     value="consistent", description="strategy"),
        "shards": widgets.IntSlider(value=8, min=2, max=32, description="shards"),
        "skew": widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.25,
                                    description="hub skew"),
        "vnodes": widgets.IntSlider(value=DEFAULT_VNODES, min=1, max=500,
                                    description="virtual nodes (consistent)"),
    }

    def compute(strategy, shards, skew, vnodes):
        return _snapshot(strategy, shards, skew, vnodes)

    return Panel(controls, compute, _draw_snapshot, title="Sharding flights by origin airport",
                 describe=_describe, columns=2)


# --------------------------------------------------------------------------- static figures


def _keys(keys) -> list:
    if isinstance(keys, str | bytes) or not isinstance(keys, Sequence | np.ndarray):
        raise TypeError(f"keys must be a list of shard keys (one per row), got "
                        f"{type(keys).__name__}")
    keys = list(keys.tolist() if isinstance(keys, np.ndarray) else keys)
    if not keys:
        raise ValueError("keys must hold at least one shard key, got an empty list")
    return keys


def _names(strategies) -> tuple:
    if isinstance(strategies, str):
        strategies = (strategies,)
    return tuple(_check.choice("strategy", s, STRATEGY_NAMES) for s in strategies)


@styled
def plot_shard_load(keys: Sequence | None = None, shards: int = 8,
                    strategies: Sequence[str] = STRATEGY_NAMES, *,
                    vnodes: int = DEFAULT_VNODES):
    """Rows per shard under each strategy, for ``keys`` — one shard key per row (default:
    :func:`origin_keys`, 20,000 flights keyed by origin airport, hub skew 1). The dashed line
    is an even share; the title names the hottest shard's share."""
    keys = _keys(origin_keys() if keys is None else keys)
    n = _check.integer("shards", shards, low=2, high=64)
    names = _names(strategies)
    distinct, counts = np.unique(np.asarray(keys, dtype=object), return_counts=True)
    distinct = distinct.tolist()
    fig, ax = figure(height=4.0, left=0.08, top=0.83, bottom=0.14)
    width = 0.84 / len(names)
    worst = (0.0, "", 0)
    for i, name in enumerate(names):
        rule = _rule(name, n, vnodes, distinct if name == "range" else None)
        where = np.array([rule.shard_for(k) for k in distinct])
        share = np.bincount(where, weights=counts, minlength=n) / len(keys)
        ax.bar(np.arange(n) + (i - (len(names) - 1) / 2) * width, share * 100, width=width,
               color=CYCLE[i % len(CYCLE)], label=_LABEL[name])
        if share.max() > worst[0]:
            worst = (float(share.max()), name, int(share.argmax()))
    ax.axhline(100 / n, color=THEORY, ls="--", lw=1, label=f"even share (1/{n})")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=n, integer=True))
    ax.set(xlabel="shard", ylabel="rows on the shard (% of all rows)")
    ax.legend(loc="upper right", ncols=2)
    ax.set_title(f"A hot key beats every strategy: the hottest shard holds {worst[0]:.0%} of "
                 f"the rows\n(shard {worst[2]} under {_LABEL[worst[1]]}; an even share is "
                 f"{1 / n:.0%} of {len(keys):,} rows)")
    return fig


@styled
def plot_resharding(keys: Sequence | None = None, max_shards: int = 16,
                    strategies: Sequence[str] = ("modulo", "consistent", "jump"), *,
                    vnodes: int = DEFAULT_VNODES):
    """Fraction of ``keys`` that change shard going from n to n + 1 shards, for
    n = 1 .. ``max_shards``, measured with each strategy's ``shard_for`` and ``resized``,
    against the theory n/(n+1) (modulo hash) and 1/(n+1) (consistent and jump hash).
    Default keys: 20,000 distinct flight ids."""
    keys = _keys(list(range(1, 20_001)) if keys is None else keys)
    top = _check.integer("max_shards", max_shards, low=1, high=64)
    names = _names(strategies)
    if "range" in names or "directory" in names:
        raise ValueError("plot_resharding compares hash strategies (modulo, consistent, "
                         "jump); range and directory move only what the operator moves")
    ns = np.arange(1, top + 1)
    fig, ax = figure(height=4.0, left=0.08, top=0.83, bottom=0.14)
    grid = np.linspace(1, top, 200)
    ax.plot(grid, grid / (grid + 1), color=THEORY, lw=1.5, ls="--",
            label="theory, modulo: n/(n+1)")
    ax.plot(grid, 1 / (grid + 1), color=LIMIT, lw=1.5, ls="--",
            label="theory, consistent/jump: 1/(n+1)")
    measured = {}
    for i, name in enumerate(names):
        rule = _rule(name, 1, vnodes)
        now = np.array([rule.shard_for(k) for k in keys])
        fractions = []
        for _n in ns:
            rule = _grown(rule, name, vnodes)
            nxt = np.array([rule.shard_for(k) for k in keys])
            fractions.append(float(np.mean(nxt != now)))
            now = nxt
        measured[name] = fractions
        ax.plot(ns, fractions, "os^D"[i % 4], color=CYCLE[i % len(CYCLE)], ms=7,
                mec="white", mew=0.6,
                label=f"{_LABEL[name]} (measured)", gid=f"measured-{name}")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=top, integer=True))
    ax.set(xlabel="shards before adding one (n)", ylabel="fraction of keys that move",
           ylim=(0, 1.02), xlim=(0.5, top + 0.5))
    ax.legend(loc="center right")
    k = min(8, top)
    parts = [f"{nm} {measured[nm][k - 1]:.0%}" for nm in names]
    ax.set_title(f"Adding a shard: modulo moves n/(n+1) of the keys, consistent and jump "
                 f"hashing 1/(n+1)\n{k} → {k + 1} shards moves " + ", ".join(parts)
                 + f" of {len(keys):,} keys")
    return fig

