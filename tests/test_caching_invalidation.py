"""Invalidation on write under concurrent readers and writers
(scalekit.caching.serverside.invalidation).

Source: "Scaling Memcache at Facebook" (Nishtala et al., NSDI 2013) for the stale-set race
and the leases that stop it."""

import pytest

from scalekit.caching.serverside import invalidation

SEEDS = range(6)
RACE = dict(readers=8, writers=3, duration_s=4.0)


def test_write_through_never_reads_stale():
    for seed in SEEDS:
        r = invalidation.invalidation_race("write-through", seed=seed, **RACE)
        assert r.reads > 1000 and r.writes > 50
        assert (r.stale_reads, r.stale_entry_s, r.stale_windows) == (0, 0.0, 0)


def test_delete_with_leases_leaves_no_stale_entry():
    failed = 0
    for seed in SEEDS:
        r = invalidation.invalidation_race("delete", leases=True, seed=seed, **RACE)
        assert (r.stale_reads, r.stale_entry_s, r.stale_windows) == (0, 0.0, 0)
        failed += r.failed_sets
    assert failed > 0  # the race happened, and the lease refused the late set


@pytest.mark.parametrize("strategy", ["delete", "update"])
def test_delete_and_update_without_leases_can_leave_stale_values(strategy):
    runs = [invalidation.invalidation_race(strategy, seed=seed, **RACE) for seed in SEEDS]
    assert sum(r.stale_reads for r in runs) > 0
    assert sum(r.stale_windows for r in runs) > 0
    for r in runs:
        assert 0 <= r.stale_share < 0.2 and r.longest_stale_s <= r.stale_entry_s + 1e-12


def test_a_ttl_bounds_how_long_a_stale_value_lasts():
    ttl = 0.03
    runs = [invalidation.invalidation_race("delete", ttl_s=ttl, seed=seed, write_think_ms=300,
                                    **RACE) for seed in SEEDS]
    assert sum(r.stale_windows for r in runs) > 0
    assert all(r.longest_stale_s <= ttl + 1e-12 for r in runs)


@pytest.mark.parametrize("kw, name", [
    ({"strategy": "invalidate"}, "strategy"), ({"strategy": "update", "leases": True}, "leases"),
    ({"readers": -1}, "readers"), ({"db_ms": 0}, "db_ms"), ({"ttl_s": 0}, "ttl_s"),
    ({"leases": 1}, "leases"), ({"duration_s": 1e6}, "duration_s"),
])
def test_invalidation_race_bad_input_names_the_parameter(kw, name):
    with pytest.raises((ValueError, TypeError), match=name):
        invalidation.invalidation_race(**kw)
