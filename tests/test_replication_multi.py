"""Multi-primary replication on real SQLite: key collisions and conflict-resolution rules.

Sources: SQLite's own UNIQUE constraint (the error is real, not modelled); MySQL
auto_increment_increment/offset; Cassandra's last-write-wins reconciliation (higher timestamp,
ties to the greater value); MySQL Group Replication certification (first committer wins);
the G-Counter CRDT (Shapiro et al. 2011).
"""

from __future__ import annotations

import functools
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit.replication import multi
from scalekit.replication.multi import (
    CounterMerge,
    FirstCommitterWins,
    KeyCollisionError,
    LastWriterWins,
    Primary,
    Transaction,
    Write,
)


# ------------------------------------------------------------------ keys
@pytest.mark.parametrize("n", [2, 3])
def test_autoincrement_merge_raises_the_real_unique_failure_and_rolls_back(n):
    primaries = [Primary(f"p{i}", multi.key_scheme("autoincrement", i, n)) for i in range(n)]
    for p in primaries:
        for k in range(3):
            p.insert(f"{p.name}-{k}")
    before = [p.rows() for p in primaries]
    with pytest.raises(KeyCollisionError) as info:
        multi.exchange_orders(primaries)
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    assert "UNIQUE constraint failed: orders.id" in str(info.value.__cause__)
    assert info.value.ids == (1, 2, 3)
    assert [p.rows() for p in primaries] == before  # all or nothing


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("scheme", ["offset", "uuid"])
def test_offsets_and_uuids_merge_without_collision(n, scheme):
    result = multi.collide_keys(n, 4, scheme, seed=1)
    assert not result.collided and result.error == ""
    assert result.ids_disjoint
    assert result.rows_per_node == (n * 4,) * n
    assert result.identical_nodes


@pytest.mark.parametrize("n", [2, 3])
def test_collide_keys_reports_the_collision_without_the_fix(n):
    result = multi.collide_keys(n, 3, "autoincrement")
    assert result.collided and "UNIQUE constraint failed" in result.error
    assert not result.ids_disjoint
    assert result.colliding_ids == (1, 2, 3)
    assert result.rows_per_node == (3,) * n  # rolled back


def test_offsets_for_three_primaries_are_mysql_series():
    result = multi.collide_keys(3, 3, "offset")
    assert result.ids_by_primary == ((1, 4, 7), (2, 5, 8), (3, 6, 9))


def test_offset_continues_above_merged_rows_and_stays_disjoint():
    primaries = [Primary(f"p{i}", multi.IncrementOffset(3, i + 1)) for i in range(3)]
    for p in primaries:
        p.insert("a")
    multi.exchange_orders(primaries)  # everyone now holds 1, 2, 3
    assert [p.insert("b") for p in primaries] == [4, 5, 6]


def test_uuid_keys_are_seeded_version_4():
    a = multi.collide_keys(2, 3, "uuid", seed=7).ids_by_primary
    assert a == multi.collide_keys(2, 3, "uuid", seed=7).ids_by_primary
    assert all(key[14] == "4" for node in a for key in node)


# ------------------------------------------------------------------ last writer wins
writes = st.builds(Write, value=st.integers(0, 3), written_at=st.integers(0, 3),
                   node=st.integers(0, 2))


@settings(max_examples=300, deadline=None)
@given(writes, writes, writes)
def test_lww_is_commutative_associative_idempotent(a, b, c):
    lww = LastWriterWins()
    assert lww.resolve(a, b) == lww.resolve(b, a)
    assert lww.resolve(lww.resolve(a, b), c) == lww.resolve(a, lww.resolve(b, c))
    assert lww.resolve(a, a) == a
    assert lww.resolve(a, b) in (a, b)


def test_lww_higher_timestamp_wins_and_ties_go_to_the_greater_value():
    lww = LastWriterWins()
    assert lww.resolve(Write(1, 10, 0), Write(9, 5, 1)) == Write(1, 10, 0)
    assert lww.resolve(Write(3, 7, 0), Write(8, 7, 1)) == Write(8, 7, 1)
    assert lww.resolve(Write(8, 7, 0), Write(3, 7, 1)) == Write(8, 7, 0)


# ------------------------------------------------------------------ first committer wins
def test_fcw_rejects_exactly_the_stale_writers():
    # all read v0; t1 (A) commits first, t3 (A) read t1 and follows; t2 (B), t4 (C) are stale
    txns = [Transaction("t1", 0, "v0", 1), Transaction("t2", 1, "v0", 1),
            Transaction("t3", 0, "t1", 2), Transaction("t4", 2, "v0", 1),
            Transaction("t5", 1, "t2", 2)]  # built on an aborted write: stale too
    cert = FirstCommitterWins().certify(txns, "v0")
    assert cert.committed == ("t1", "t3")
    assert cert.aborted == ("t2", "t4", "t5")
    assert (cert.version, cert.value) == ("t3", 2)


def test_fcw_commits_everything_without_concurrency():
    txns = [Transaction(f"t{i}", i % 2, f"t{i - 1}" if i else "v0", i + 1) for i in range(4)]
    assert FirstCommitterWins().certify(txns, "v0").aborted == ()


# ------------------------------------------------------------------ counter CRDT
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(0, 40), st.integers(1, 12), st.integers(0, 2**16))
def test_counter_merge_equals_the_true_total_for_any_schedule(n, updates, window, seed):
    result = multi.simulate_conflicts(n, updates, window, seed)
    assert result.final_value["counter"] == result.true_total == updates
    assert result.discarded["counter"] == 0
    assert result.identical_nodes  # every rule: identical nodes after exchange
    for name in multi.RULES:
        assert len(set(result.checksums[name])) == 1
        assert result.final_value[name] + result.discarded[name] == updates
        assert 0 <= result.discarded[name] <= updates


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=2, max_size=2).map(tuple),
       st.lists(st.integers(0, 9), min_size=2, max_size=2).map(tuple),
       st.lists(st.integers(0, 9), min_size=2, max_size=2).map(tuple))
def test_counter_merge_is_a_semilattice(a, b, c):
    m = CounterMerge()
    assert m.resolve(a, b) == m.resolve(b, a)
    assert m.resolve(m.resolve(a, b), c) == m.resolve(a, m.resolve(b, c))
    assert m.resolve(a, a) == a


def test_lww_and_fcw_lose_increments_when_writes_are_concurrent():
    result = multi.simulate_conflicts(3, 60, 10, seed=0)
    assert result.discarded["lww"] > 0 and result.discarded["fcw"] > 0
    assert result.discarded["counter"] == 0
    assert result.identical_nodes


def test_no_concurrency_no_loss():
    result = multi.simulate_conflicts(3, 30, 1, seed=0)
    assert dict(result.discarded) == {"lww": 0, "fcw": 0, "counter": 0}


def test_simulation_is_deterministic_and_renders():
    a, b = multi.simulate_conflicts(seed=3), multi.simulate_conflicts(seed=3)
    assert dict(a.final_value) == dict(b.final_value) and a.checksums == b.checksums
    assert "discarded" in a._repr_html_() and "true_total=60" in repr(a)


def test_one_node_never_conflicts():
    lww = functools.reduce(LastWriterWins().resolve, [Write(1, 1), Write(2, 2)])
    assert lww == Write(2, 2)
    assert dict(multi.simulate_conflicts(1, 20, 20).discarded)["lww"] == 0


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs, exc, word", [
    ({"n_nodes": 0}, ValueError, "n_nodes"),
    ({"n_nodes": 2.0}, TypeError, "n_nodes"),
    ({"updates": -1}, ValueError, "updates"),
    ({"window": 0}, ValueError, "window"),
    ({"seed": -1}, ValueError, "seed"),
    ({"rules": ("lww", "paxos")}, ValueError, "rules"),
    ({"rules": "lww"}, TypeError, "rules"),
])
def test_simulate_conflicts_rejects_bad_input(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        multi.simulate_conflicts(**kwargs)


@pytest.mark.parametrize("args, exc, word", [
    ((0, 3, "offset"), ValueError, "n_primaries"),
    ((2, -1, "offset"), ValueError, "rows_per_primary"),
    ((2, 3, "serial"), ValueError, "scheme"),
    ((2, True, "uuid"), TypeError, "rows_per_primary"),
])
def test_collide_keys_rejects_bad_input(args, exc, word):
    with pytest.raises(exc, match=word):
        multi.collide_keys(*args)


def test_rule_factory_and_offset_bounds():
    assert isinstance(multi.rule("counter"), CounterMerge)
    with pytest.raises(ValueError, match="rule"):
        multi.rule("newest")
    with pytest.raises(ValueError, match="offset"):
        multi.IncrementOffset(3, 4)
    with pytest.raises(ValueError, match="one count per node"):
        CounterMerge().resolve((1, 2), (1, 2, 3))


def test_a_failed_exchange_leaves_every_database_as_it_was():
    # p0 first receives p1's rows without trouble, then p2's collide: p0 must lose p1's too
    schemes = [multi.IncrementOffset(2, 1), multi.IncrementOffset(2, 2), multi.AutoIncrement()]
    primaries = [Primary(f"p{i}", keys) for i, keys in enumerate(schemes)]
    for p in primaries:
        for k in range(3):
            p.insert(f"{p.name}-{k}")
    before = [p.rows() for p in primaries]
    with pytest.raises(KeyCollisionError):
        multi.exchange_orders(primaries)
    assert [p.rows() for p in primaries] == before


def test_runaway_sizes_are_refused_at_once():
    from scalekit.replication import multi

    for call, name in ((lambda: multi.collide_keys(10**7), "n_primaries"),
                       (lambda: multi.collide_keys(2, 10**9), "rows_per_primary"),
                       (lambda: multi.simulate_conflicts(n_nodes=10**7), "n_nodes"),
                       (lambda: multi.simulate_conflicts(updates=10**10), "updates")):
        with pytest.raises(ValueError, match=name):
            call()
