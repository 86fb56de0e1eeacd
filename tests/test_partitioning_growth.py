"""What adding a shard moves, against closed forms — and why a skewed key misses them.

Sources:
* modulo: a key with a uniform hash h keeps its shard from n to n + 1 iff h mod n = h mod
  (n+1), which holds for n of every n(n+1) consecutive hashes: it moves with probability
  n/(n+1);
* jump hash: Lamping & Veach, *A Fast, Minimal Memory, Consistent Hash Algorithm* (2014),
  §2 — going to n+1 buckets each key moves with probability 1/(n+1), only to the new one;
* ketama ring: Karger et al., *Consistent Hashing and Random Trees* (STOC 1997) — the new
  node takes the keys on the arcs its points capture, its share of the ring (measured here
  with :meth:`scalekit.hashing.HashRing.shares`), 1/(n+1) on average;
* rows move with their key, so the moved fraction of rows is a weighted sum of independent
  Bernoulli(p) variables with weights w_k: mean p, variance p(1−p)Σw_k² (Kish's effective
  sample size, *Survey Sampling*, 1965: n_eff = 1/Σw_k²).

Tolerances: Z = 4 standard errors (a correct model fails about 1 run in 16,000).
"""

import math

import numpy as np
import pytest

from scalekit.partitioning import data
from scalekit.partitioning.growth import (
    add_shard,
    effective_keys,
    expected_moved,
    origin_keys,
    resharding_curve,
    shard_growth,
    strategy_for_keys,
)
from scalekit.partitioning.shards import ConsistentHash, RangeShards

Z = 4.0
IDS = list(range(1, 20_001))


@pytest.mark.parametrize("n", [4, 9])
def test_id_keyed_modulo_and_jump_move_their_closed_forms(n):
    """Unique ids: K_eff is the number of rows, so the moved fraction sits within a
    binomial standard error of n/(n+1) (modulo) and 1/(n+1) (jump)."""
    for name, p in (("modulo", n / (n + 1)), ("jump", 1 / (n + 1))):
        g = shard_growth(name, n, IDS)
        assert g.effective_keys == pytest.approx(len(IDS))
        assert g.expected == pytest.approx(p)
        assert g.spread == pytest.approx(math.sqrt(p * (1 - p) / len(IDS)))
        assert abs(g.moved - p) <= Z * math.sqrt(p * (1 - p) / len(IDS)), (name, g.moved)
        assert g.moved == pytest.approx(g.keys_moved)  # one row per key
    jump = shard_growth("jump", n, IDS)
    assert jump.new_shard_rows == round(jump.moved * len(IDS))  # only to the new shard
    assert list(jump.moving) == list(jump.load - (jump.load - jump.moving))


def test_id_keyed_ring_moves_the_new_shards_arc_share():
    """A ring's new shard takes exactly the keys hashing onto its arcs: with uniform ids the
    moved fraction is within a binomial error of its arc share (0.215 for this 4 → 5 ring,
    not the textbook 0.200: 160 points per shard leave the arcs ±1/√160 uneven)."""
    g = shard_growth("consistent", 4, IDS)
    arc = ConsistentHash(5).ring.shares()[4]
    assert g.arc_share == pytest.approx(arc)
    assert abs(g.moved - arc) <= Z * math.sqrt(arc * (1 - arc) / len(IDS))
    assert g.new_shard_rows == int(g.moving.sum())  # every move goes to the new shard
    assert abs(arc - 0.2) <= Z * 0.2 / math.sqrt(160)


def test_effective_keys_closed_form():
    assert effective_keys(list(range(50))) == pytest.approx(50)
    assert effective_keys(["a"] * 10) == pytest.approx(1)
    # shares 1/2, 1/4, 1/4: 1 / (1/4 + 1/16 + 1/16) = 8/3
    assert effective_keys(["a", "a", "b", "c"]) == pytest.approx(8 / 3)


def test_origin_keys_are_few_and_skewed():
    keys = origin_keys(20_000)
    assert len(keys) == 20_000 and len(set(keys)) <= 200
    assert effective_keys(keys) < 40  # hubs: 200 airports behave like ~20 equal keys


def test_a_skewed_key_scatters_by_its_effective_number_of_keys():
    """Over 40 independently seeded airport sets (each its own codes, so its own hashes),
    jump hash 4 → 5 on origin-keyed flights: z = (moved − 1/5) / spread has mean 0 and
    variance 1 — the moved fraction of rows scatters exactly as √(p(1−p)/K_eff) says.
    Mean within Z/√40; variance within the chi-square(39) 99.99% interval [0.38, 1.94]."""
    z = []
    for seed in range(40):
        ports = data.airports(seed=seed)
        fl = data.flights(4_000, ports, seed=seed)
        g = shard_growth("jump", 4, ports.code[fl.origin].tolist())
        z.append((g.moved - g.expected) / g.spread)
    z = np.asarray(z)
    assert abs(z.mean()) <= Z / math.sqrt(len(z))
    assert 0.38 <= z.var(ddof=1) <= 1.94, z.var(ddof=1)


def test_the_curve_is_the_growth_step_by_step():
    curve = resharding_curve("consistent", IDS[:5_000], 6)
    assert curve.shards == (1, 2, 3, 4, 5, 6)
    for n, moved in zip(curve.shards, curve.moved, strict=True):
        assert moved == pytest.approx(shard_growth("consistent", n, IDS[:5_000]).moved)
    assert curve.expected == tuple(1 / (n + 1) for n in curve.shards)
    modulo = resharding_curve("modulo", IDS[:5_000], 3)
    assert modulo.expected == (1 / 2, 2 / 3, 3 / 4)


def test_range_and_directory_strategies_for_keys():
    keys = [f"K{i:03d}" for i in range(100)] * 3
    rule = strategy_for_keys("range", 4, keys)
    assert isinstance(rule, RangeShards) and rule.boundaries == ("K025", "K050", "K075")
    assert add_shard(rule, keys).boundaries == ("K020", "K040", "K060", "K080")
    directory = shard_growth("directory", 4, keys)
    assert directory.moved == 0.0 and directory.expected == 0.0  # its table keeps them
    assert list(directory.load) == [75, 75, 75, 75]  # least-loaded placement
    assert expected_moved("range", 4) is None and shard_growth("range", 4, keys).spread is None


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="keys must be a list"):
        shard_growth("modulo", 4, "ATL")
    with pytest.raises(ValueError, match="at least one"):
        shard_growth("modulo", 4, [])
    with pytest.raises(ValueError, match="strategy"):
        shard_growth("rendezvous", 4, [1])
    with pytest.raises(ValueError, match="needs the keys"):
        strategy_for_keys("range", 4)
    with pytest.raises(ValueError, match="at least 5 distinct"):
        strategy_for_keys("range", 5, ["a", "b"])
    with pytest.raises(ValueError, match="hash strategies"):
        resharding_curve("range", [1, 2, 3])
    with pytest.raises(ValueError, match="max_shards"):
        resharding_curve("jump", [1, 2, 3], 0)
    with pytest.raises(TypeError, match="strategy"):
        add_shard("modulo")
