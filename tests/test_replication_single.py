"""Single-primary replication on real SQLite: commit modes, lag, read-your-writes, failover.

Source for the commit modes: PostgreSQL's ``synchronous_commit`` (REFERENCES.md,
Replication): with ``remote_write``/``remote_apply`` a commit is acknowledged only once a
standby has the WAL, so promoting the most advanced standby never loses an acknowledged
commit; asynchronous standbys lag and lose unreplicated commits on failover.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit.replication import (
    COMMIT_MODES,
    Clock,
    Network,
    Node,
    NodeDownError,
    NotPrimaryError,
    ReplicationError,
    SinglePrimary,
    SinglePrimaryResult,
    compare_commit_modes,
    run_single_primary,
)

SYNC = ("remote_write", "remote_apply")


# --------------------------------------------------------------------------- log machinery


def test_node_is_a_real_sqlite_database_with_an_ordered_log():
    node = Node("n0", "primary")
    a = node.append("x", "1", 0.0)
    b = node.append("x", "2", 0.1)
    assert (a.lsn, b.lsn) == (1, 2)
    assert node.read("x") == ("2", 2)
    assert [e.lsn for e in node.entries_after(0)] == [1, 2]
    assert node.db.execute("SELECT COUNT(*) FROM kv").fetchone() == (1,)


def test_replica_replaying_the_log_has_the_same_checksum():
    primary, replica = Node("p", "primary"), Node("r")
    for i in range(5):
        primary.append(f"k{i % 3}", str(i), float(i))
    assert replica.checksum() != primary.checksum()
    for entry in primary.entries_after(0):
        assert replica.receive(entry)
    assert replica.applied_lsn == 0 and replica.received_lsn == 5
    replica.apply_pending()
    assert replica.applied_lsn == 5 and replica.checksum() == primary.checksum()
    assert not replica.receive(primary.entries_after(0)[0])  # a duplicate is ignored


def test_a_gap_in_the_log_is_refused():
    primary, replica = Node("p", "primary"), Node("r")
    primary.append("a", "1", 0.0)
    primary.append("b", "2", 0.0)
    with pytest.raises(ReplicationError, match="gap"):
        replica.receive(primary.entries_after(1)[0])


def test_a_failed_apply_leaves_the_node_as_it_was_and_chains_the_cause():
    node = Node("n0", "primary")
    node.append("a", "1", 0.0)
    before = node.checksum()
    node.db.execute("CREATE TRIGGER boom BEFORE INSERT ON kv BEGIN "
                    "SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(ReplicationError, match="disk full") as info:
        node.append("b", "2", 0.0)
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert node.checksum() == before and node.applied_lsn == 1
    assert len(node.entries_after(0)) == 1  # the log row was rolled back too


def test_rewind_drops_entries_after_the_fork_and_rebuilds_the_table():
    node = Node("n0", "primary")
    for value in "123":
        node.append("k", value, 0.0)
    assert node.rewind(1) == 2
    assert node.read("k") == ("1", 1) and node.applied_lsn == 1


def test_network_delivers_in_order_per_link_after_the_delay():
    clock = Clock()
    net = Network(clock, delay_s=0.1, jitter_s=0.5, seed=3)
    got = []
    for i in range(50):
        net.send("a", "b", lambda i=i: got.append((i, clock.now)))
    clock.run()
    assert [i for i, _ in got] == list(range(50))
    assert min(at for _, at in got) >= 0.1


def test_a_cut_node_loses_what_was_in_flight():
    clock = Clock()
    net = Network(clock, delay_s=0.1)
    got = []
    net.send("a", "b", lambda: got.append(1))
    net.cut("a")
    clock.run()
    assert got == []


# --------------------------------------------------------------------------- errors


def test_writing_to_a_replica_raises_a_clear_error():
    cluster = SinglePrimary(2)
    with pytest.raises(NotPrimaryError, match="'n1' is a replica.*primary 'n0'"):
        cluster.write("k", "v", node="n1")


def test_writing_to_a_demoted_primary_raises_a_clear_error():
    cluster = SinglePrimary(2, commit="remote_apply")
    cluster.write("k", "v")
    cluster.quiesce()
    cluster.fail("n0")
    new = cluster.promote()
    cluster.recover("n0")
    with pytest.raises(NotPrimaryError, match="demoted primary") as info:
        cluster.write("k", "v2", node="n0")
    assert info.value.node == "n0"
    cluster.write("k", "v3", node=new.name)


def test_without_fencing_the_old_primary_accepts_writes_and_diverges():
    cluster = SinglePrimary(1, fencing=False)
    cluster.fail("n0")
    cluster.promote()
    cluster.recover("n0")
    cluster.write("k", "split", node="n0")  # accepted: split brain
    cluster.quiesce()
    assert len(set(cluster.live_checksums().values())) == 2


def test_reading_a_node_that_is_down_names_the_node():
    cluster = SinglePrimary(2)
    cluster.fail("n2")
    with pytest.raises(NodeDownError, match="'n2' is down"):
        cluster.node("n2").read("k")
    assert issubclass(NodeDownError, ValueError)


@pytest.mark.parametrize(("kwargs", "exc", "name"), [
    ({"delay_s": -0.1}, ValueError, "delay_s"),
    ({"jitter_s": -1}, ValueError, "jitter_s"),
    ({"replicas": 0}, ValueError, "replicas"),
    ({"replicas": 1.5}, TypeError, "replicas"),
    ({"commit": "sync"}, ValueError, "commit"),
    ({"commit": 1}, TypeError, "commit"),
    ({"read_policy": "nearest"}, ValueError, "read_policy"),
    ({"read_share": 1.5}, ValueError, "read_share"),
    ({"writes_per_s": 0}, ValueError, "writes_per_s"),
    ({"fail_at": float("nan")}, ValueError, "fail_at"),
    ({"fencing": "no"}, TypeError, "fencing"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_bad_input_names_the_parameter(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        run_single_primary(duration_s=0.5, **kwargs)


# --------------------------------------------------------------------------- measurements


def test_async_lags_and_stale_reads_grow_with_the_delay():
    rates = [run_single_primary(delay_s=d, jitter_s=0.02, think_s=0.05).stale_read_rate
             for d in (0.0, 0.03, 0.1)]
    assert rates[0] < rates[1] < rates[2]
    res = run_single_primary(delay_s=0.1)
    assert res.mean_lag > 0 and res.max_lag > 0 and res.lag.size == res.lag_at.size


def test_stale_reads_grow_with_the_read_share_sent_to_replicas():
    rates = [run_single_primary(read_share=s).stale_read_rate for s in (0.0, 0.5, 1.0)]
    assert rates[0] == 0 and rates[0] < rates[1] < rates[2]


@pytest.mark.parametrize("policy", ["primary_after_write", "wait_for_position"])
def test_the_two_fixes_leave_no_read_your_writes_violation(policy):
    plain = run_single_primary(delay_s=0.1)
    fixed = run_single_primary(delay_s=0.1, read_policy=policy)
    assert plain.stale_reads > 0
    assert fixed.stale_reads == 0 and fixed.reads == fixed.acknowledged
    if policy == "wait_for_position":
        assert fixed.replica_reads == fixed.reads and fixed.mean_read_wait_s > 0


def test_commit_latency_is_zero_for_async_and_at_least_one_delay_for_sync():
    delay = 0.05
    results = {r.commit: r for r in compare_commit_modes(delay_s=delay, jitter_s=0.02)}
    assert results["async"].max_commit_s == 0.0
    for mode in SYNC:
        assert results[mode].commit_s.min() >= delay
    assert results["remote_apply"].mean_commit_s > results["remote_write"].mean_commit_s


def test_async_failover_loses_acknowledged_writes():
    res = run_single_primary(commit="async", fail_at=2.0, seed=0)
    assert res.lost_writes > 0 and res.converged


@pytest.mark.parametrize("mode", SYNC)
def test_sync_failover_loses_nothing_and_fencing_refuses_the_old_primary(mode):
    res = run_single_primary(commit=mode, fail_at=2.0)
    assert res.lost_writes == 0 and res.converged
    assert res.refused_writes > 0 and res.divergent_writes == 0


def test_without_fencing_the_run_counts_divergent_writes():
    res = run_single_primary(commit="remote_apply", fail_at=2.0, fencing=False)
    assert res.divergent_writes > 0 and res.refused_writes == 0 and not res.converged


def test_same_seed_same_result():
    a = run_single_primary(fail_at=1.0, seed=7)
    b = run_single_primary(fail_at=1.0, seed=7)
    assert repr(a) == repr(b) and np.array_equal(a.lag, b.lag)
    assert np.array_equal(a.commit_s, b.commit_s)


def test_result_is_frozen_with_an_html_table():
    res = run_single_primary(duration_s=0.5)
    assert isinstance(res, SinglePrimaryResult)
    assert "lost_writes" in res._repr_html_() and "lag_at" not in repr(res)
    with pytest.raises(AttributeError):
        res.lost_writes = 1


# --------------------------------------------------------------------------- property


@settings(max_examples=25, deadline=None)
@given(mode=st.sampled_from(COMMIT_MODES), replicas=st.integers(1, 3),
       delay=st.floats(0.0, 0.2), jitter=st.floats(0.0, 0.1),
       fail_at=st.one_of(st.none(), st.floats(0.0, 1.5)),
       rate=st.floats(5.0, 60.0), seed=st.integers(0, 2**16))
def test_sync_modes_never_lose_and_live_nodes_converge(mode, replicas, delay, jitter,
                                                        fail_at, rate, seed):
    res = run_single_primary(commit=mode, replicas=replicas, delay_s=delay, jitter_s=jitter,
                             fail_at=fail_at, writes_per_s=rate, duration_s=1.5, keys=10,
                             down_s=0.3, seed=seed)
    if mode in SYNC:
        assert res.lost_writes == 0
    assert res.converged


@settings(max_examples=15, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 99)), max_size=30),
       fail_after=st.integers(0, 30), mode=st.sampled_from(SYNC),
       delay=st.floats(0.0, 0.1), seed=st.integers(0, 999))
def test_random_schedules_keep_acknowledged_writes_and_no_duplicate_keys(
        ops, fail_after, mode, delay, seed):
    cluster = SinglePrimary(2, commit=mode, delay_s=delay, jitter_s=0.05, seed=seed)
    acked = []
    for i, (key, value) in enumerate(ops):
        if i == fail_after:
            cluster.fail("n0")
            cluster.promote()
            cluster.recover("n0")
        cluster.write(key, str(value), on_ack=lambda e, at: acked.append(e))
        cluster.clock.run(cluster.clock.now + 0.01)
    cluster.quiesce()
    assert all(cluster.primary.has_entry(e.term, e.lsn) for e in acked)
    assert len(set(cluster.live_checksums().values())) == 1
    for node in cluster.nodes:
        total, distinct = node.db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT key) FROM kv").fetchone()
        assert total == distinct


def test_a_recovered_replica_replays_what_it_received_before_going_down():
    """Entries received but not yet applied when a replica failed are applied when it
    comes back, so it converges even if no later write arrives."""
    from scalekit.replication.single import SinglePrimary

    sp = SinglePrimary(1, commit="async", apply_s=0.1, seed=0)
    sp.write("k", "v1")
    sp.clock.run(until=sp.clock.now + 0.07)  # received (50–70 ms), not yet applied
    sp.fail("n1")
    sp.recover("n1")
    sp.quiesce()
    sums = sp.live_checksums()
    assert len(set(sums.values())) == 1, sums


def test_a_replica_down_during_a_failover_is_rewound_to_the_new_primary():
    """A replica that missed a promotion may hold an old term's entry at a position the
    new primary reused: it must be rewound (as pg_rewind does), not skipped past."""
    from scalekit.replication.single import SinglePrimary

    sp = SinglePrimary(2, commit="remote_write", delay_s=0.05, jitter_s=0.0, seed=0)
    sp.write("k", "v1")
    sp.clock.run(until=sp.clock.now + 0.06)  # both replicas received v1
    sp.fail("n2")
    sp.fail("n0")
    n1 = sp.promote()
    n1.rewind(0)  # make n1's log differ from n2's at lsn 1, as a lost entry would
    sp.write("k", "v2")
    sp.recover("n2")
    sp.recover("n0")
    sp.quiesce()
    sums = sp.live_checksums()
    assert len(set(sums.values())) == 1, sums
    assert sp.node("n2").read("k")[0] == "v2"


def test_promoting_while_a_primary_lives_is_refused():
    from scalekit.replication.single import SinglePrimary

    sp = SinglePrimary(2, seed=0)
    with pytest.raises(RuntimeError, match="live primary"):
        sp.promote()


@pytest.mark.parametrize("kw, name", [({"replicas": 10**7}, "replicas"),
                                      ({"writes_per_s": 1e12}, "duration_s"),
                                      ({"duration_s": 1e12}, "duration_s")])
def test_runaway_sizes_are_refused_at_once(kw, name):
    with pytest.raises(ValueError, match=name):
        run_single_primary(**kw)
