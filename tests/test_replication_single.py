"""Single-primary replication on real SQLite: the log, the network, and the cluster's rules
for gaps, restarts, failover and fencing.

Sources. PostgreSQL documentation, §27.2 "Log-Shipping Standby Servers" (streaming
replication; a standby that loses its connection reconnects and streams from where it
stopped — ``src/backend/replication/walreceiver.c`` requests ``START_REPLICATION`` at its
flush position) and ``synchronous_commit`` (``remote_write``/``remote_apply``: a commit waits
until a standby has received/applied its WAL); §30 "Reliability and the Write-Ahead Log"
(a server that crashes replays its own WAL on restart and keeps every committed change);
§27.3 "Failover" and ``pg_rewind`` (a failed primary must not come back as a primary once a
standby has been promoted; it is rewound to where the timelines forked). Choosing the
standby whose log has the latest term first, then the highest position, is Raft's
election restriction (Ongaro & Ousterhout, *In Search of an Understandable Consensus
Algorithm*, 2014, §5.4.1).
"""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit.replication import (
    EVENTS,
    Clock,
    Network,
    Node,
    NodeDownError,
    NotPrimaryError,
    ReplicationError,
    SinglePrimary,
)

SYNC = ("remote_write", "remote_apply")
MODES = ("async", *SYNC)


def rows(node) -> list[tuple]:
    """The node's kv table, read directly."""
    return node.db.execute("SELECT key, value, lsn FROM kv ORDER BY key").fetchall()


def log(node) -> list[tuple]:
    """The node's log table, read directly: (term, lsn, key, value)."""
    return node.db.execute("SELECT term, lsn, key, value FROM log ORDER BY lsn").fetchall()


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


def test_an_entry_after_a_gap_is_dropped_not_raised():
    """walreceiver.c never applies WAL out of order: what it cannot place, it re-requests."""
    primary, replica = Node("p", "primary"), Node("r")
    first, second = primary.append("a", "1", 0.0), primary.append("b", "2", 0.0)
    assert replica.gap(second) and not replica.receive(second)
    assert replica.received_lsn == 0 and replica.pending == []
    assert replica.receive(first) and not replica.gap(second) and replica.receive(second)
    assert replica.received_term == 1 and replica.holds(1, 2) and not replica.holds(2, 2)


def test_last_common_lsn_is_where_two_logs_fork():
    old, new = Node("old", "primary"), Node("new", "primary")
    for value in "abc":
        entry = old.append("k", value, 0.0)
        new.receive(entry)
    new.apply_pending()
    new.term = 2
    new.append("k", "d", 0.0)  # (term 2, lsn 4)
    old.append("k", "x", 0.0)  # (term 1, lsn 4): the old primary wrote on after the fork
    old.append("k", "y", 0.0)
    assert old.last_common_lsn(new) == 3 and new.last_common_lsn(old) == 3
    assert Node("empty").last_common_lsn(new) == 0
    assert old.rewind(3) == 2 and old.applied_term == 1 and old.applied_lsn == 3


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


def test_a_cut_node_loses_what_was_in_flight_and_later_messages_arrive():
    clock = Clock()
    net = Network(clock, delay_s=0.1)
    got, cuts = [], []
    net.on_cut(cuts.append)
    before = net.link("a", "b")
    net.send("a", "b", lambda: got.append(1))
    net.cut("a")
    net.send("a", "b", lambda: got.append(2))
    clock.run()
    assert got == [2] and cuts == ["a"] and net.link("a", "b") != before


def test_a_message_to_a_node_that_is_down_is_lost_not_delivered_later():
    """A down node receives nothing: nothing on the way queues a packet for a host that is
    down until it comes back, and its TCP connections are gone (a new one starts empty)."""
    clock = Clock()
    net = Network(clock, delay_s=0.1)
    got = []
    net.take_down("b")
    assert net.send("a", "b", lambda: got.append("sent while down")) is None
    clock.run(0.05)
    net.bring_up("b")
    clock.run()
    assert got == [] and net.reachable("b")
    assert net.send("a", "b", lambda: got.append("after")) is not None
    clock.run()
    assert got == ["after"]


# --------------------------------------------------------------------------- errors


def test_writing_to_a_replica_raises_a_clear_error():
    cluster = SinglePrimary(2)
    with pytest.raises(NotPrimaryError, match="'n1' is a replica.*primary 'n0'"):
        cluster.write("k", "v", node="n1")
    cluster.fail("n0")
    with pytest.raises(NotPrimaryError, match="no primary is up"):
        cluster.write("k", "v")


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


def test_illegal_transitions_and_bad_hooks_are_refused():
    cluster = SinglePrimary(2)
    with pytest.raises(RuntimeError, match="'n1' is up already"):
        cluster.recover("n1")
    cluster.fail("n1")
    with pytest.raises(RuntimeError, match="'n1' is down already"):
        cluster.fail("n1")
    with pytest.raises(ValueError, match="unknown name 'n9'; choose one of 'n0', 'n1', 'n2'"):
        cluster.fail("n9")
    with pytest.raises(ValueError, match="event"):
        cluster.subscribe("sent", print)
    with pytest.raises(TypeError, match="callback"):
        cluster.subscribe("applied", None)
    with pytest.raises(TypeError, match="callback"):
        cluster.network.on_cut(42)


@pytest.mark.parametrize(("kwargs", "exc", "name"), [
    ({"delay_s": -0.1}, ValueError, "delay_s"),
    ({"jitter_s": -1}, ValueError, "jitter_s"),
    ({"apply_s": float("inf")}, ValueError, "apply_s"),
    ({"replicas": 0}, ValueError, "replicas"),
    ({"replicas": 10**7}, ValueError, "replicas"),
    ({"replicas": 1.5}, TypeError, "replicas"),
    ({"commit": "sync"}, ValueError, "commit"),
    ({"fencing": "no"}, TypeError, "fencing"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_bad_cluster_input_names_the_parameter(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        SinglePrimary(**kwargs)


def test_subscribers_see_each_entry_received_then_applied_in_order():
    cluster = SinglePrimary(2, commit="remote_apply", delay_s=0.05, jitter_s=0.0, apply_s=0.01)
    seen = {event: [] for event in EVENTS}
    for event in EVENTS:
        cluster.subscribe(event, lambda node, entry, event=event:
                          seen[event].append((node.name, entry.lsn, cluster.clock.now)))
    for value in "ab":
        cluster.write("k", value)
    cluster.quiesce()
    assert [(n, lsn) for n, lsn, _ in seen["received"]] == [("n1", 1), ("n2", 1),
                                                           ("n1", 2), ("n2", 2)]
    assert sorted(seen["applied"]) == sorted((n, lsn, at + 0.01)
                                             for n, lsn, at in seen["received"])


def test_a_recovered_replica_replays_what_it_received_before_going_down():
    """Entries received but not yet applied when a replica failed are applied when it
    comes back, so it converges even if no later write arrives."""
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
    sp = SinglePrimary(2, seed=0)
    with pytest.raises(RuntimeError, match="live primary"):
        sp.promote()


# --------------------------------------------------------------------------- issue 20 §1: gaps


@pytest.mark.parametrize("mode", MODES)
def test_a_replica_cut_mid_flight_and_back_within_the_delay_converges(mode):
    """Issue 20's reproduction: lsn 2 is lost with n2's connections, lsn 3 is sent while n2
    is down (and lost: not delivered later), n2 returns 10 ms later — and catches up."""
    c = SinglePrimary(2, commit=mode, delay_s=0.05, jitter_s=0.0, seed=0)
    acked = []
    c.write("a", "1", on_ack=lambda e, at: acked.append(e.lsn))
    c.clock.run()
    c.write("x", "0", on_ack=lambda e, at: acked.append(e.lsn))  # lsn 2, in flight to n2
    c.fail("n2")
    c.write("b", "2", on_ack=lambda e, at: acked.append(e.lsn))  # lsn 3, n2 is down
    c.clock.run(c.clock.now + 0.01)
    c.recover("n2")
    c.clock.run()  # raised ReplicationError ("the log has a gap") before the fix
    assert sorted(acked) == [1, 2, 3]
    assert rows(c.node("n2")) == rows(c.node("n0")) == [("a", "1", 1), ("b", "2", 3),
                                                        ("x", "0", 2)]
    assert len(set(c.live_checksums().values())) == 1


@pytest.mark.parametrize("cut", ["n0", "n1"])
def test_a_cut_connection_is_re_streamed_from_the_replicas_position(cut):
    """The network drops a connection with entries in flight and no write follows: the
    replica reconnects and asks from its position (walreceiver's START_REPLICATION)."""
    c = SinglePrimary(1, commit="remote_apply", delay_s=0.05, jitter_s=0.0)
    acked = []
    for value in "abc":
        c.write("k", value, on_ack=lambda e, at: acked.append(at))
    c.clock.run(0.02)
    c.network.cut(cut)  # the three entries in flight are lost; the node stays up
    c.quiesce()
    assert log(c.node("n1")) == log(c.node("n0")) and c.node("n1").applied_lsn == 3
    # The request takes one delay, the resend one more, the apply 5 ms, the report one more.
    assert acked == pytest.approx([0.02 + 3 * 0.05 + 0.005] * 3)


def test_entries_after_a_gap_ask_once_per_position_and_connection():
    """A burst of entries after one gap is dropped and asked for once, not once each."""
    c = SinglePrimary(1, commit="async", delay_s=0.05, jitter_s=0.0)
    asks = []
    send = c.network.send
    c.network.send = lambda src, dst, deliver: (asks.append(src) if src == "n1" else None,
                                                send(src, dst, deliver))[1]
    c.write("k", "lost")  # in flight when the link is cut
    c.network.cut("n0")
    for value in "abcdef":  # arrive after the gap, before the resend
        c.write("k", value)
    c.quiesce()
    assert asks == ["n1"]
    assert log(c.node("n1")) == log(c.node("n0")) and c.node("n1").applied_lsn == 7


# --------------------------------------------------------------------------- §2: restart


@pytest.mark.parametrize("mode", MODES)
def test_a_primary_restarted_without_failover_keeps_its_data_and_resumes(mode):
    """Crash recovery replays the primary's own WAL: a restart with nobody promoted loses
    nothing, keeps the term, and the primary takes writes again; the replicas catch up."""
    c = SinglePrimary(2, commit=mode, delay_s=0.05, jitter_s=0.0, seed=0)
    acked = []
    for i in range(5):
        c.write(f"k{i}", "v", on_ack=lambda e, at: acked.append(e))
    c.clock.run(0.02)  # in async all five are acknowledged and still in flight
    c.fail("n0")
    c.clock.run(0.5)
    c.recover("n0")
    assert c.primary is c.node("n0") and c.term == 1 and not c.node("n0").demoted
    assert len(rows(c.node("n0"))) == 5  # was 0: the restart emptied it
    c.write("k9", "after", on_ack=lambda e, at: acked.append(e))
    c.quiesce()
    assert all(c.primary.has_entry(e.term, e.lsn) for e in acked)
    # async acknowledged all six; in the sync modes the five waiting at the crash are never
    # acknowledged (their clients' connections broke) — but are kept all the same.
    assert len(acked) == (6 if mode == "async" else 1)
    assert log(c.node("n1")) == log(c.node("n2")) == log(c.node("n0"))


def test_a_restart_is_not_a_failover_even_without_fencing():
    c = SinglePrimary(1, commit="async", fencing=False)
    c.write("k", "v")
    c.fail("n0")
    c.recover("n0")
    c.write("k", "w")
    c.quiesce()
    assert c.primary.name == "n0" and len(set(c.live_checksums().values())) == 1


def test_after_a_failover_the_old_primary_is_fenced_and_rewound_to_the_fork():
    c = SinglePrimary(1, commit="async", delay_s=0.05, jitter_s=0.0)
    c.write("k", "shared")
    c.quiesce()
    c.write("k", "only on n0")  # acknowledged (async), in flight when n0 dies
    c.fail("n0")
    new = c.promote()
    c.write("k", "on n1")
    c.recover("n0")
    with pytest.raises(NotPrimaryError, match="demoted primary"):
        c.write("k", "stale client", node="n0")
    c.quiesce()
    assert (new.name, c.term, c.fork_lsn) == ("n1", 2, 1)
    assert log(c.node("n0")) == log(new) == [(1, 1, "k", "shared"), (2, 2, "k", "on n1")]


def test_the_replica_with_the_latest_term_is_promoted_over_a_longer_old_log():
    """An acknowledged term-2 write on n3 must survive although n2 holds more term-1
    entries (Raft §5.4.1: compare the last entry's term, then the length)."""
    c = SinglePrimary(3, commit="remote_write", delay_s=0.05, jitter_s=0.0)
    c.write("k", "a")
    c.quiesce()
    c.fail("n1"), c.fail("n3")
    c.write("k", "b"), c.write("k", "c")  # only n2 receives lsn 2 and 3 (term 1)
    c.quiesce()
    c.fail("n0"), c.fail("n2")
    c.recover("n1"), c.recover("n3")
    assert c.promote().name == "n1"  # term 2
    acked = []
    c.write("k", "d", on_ack=lambda e, at: acked.append(e))  # term 2, lsn 2, on n3
    c.quiesce()
    c.fail("n1")
    c.recover("n2")
    assert c.promote().name == "n3"
    c.quiesce()
    assert acked and all(c.primary.has_entry(e.term, e.lsn) for e in acked)
    assert log(c.node("n2")) == log(c.node("n3")) == [(1, 1, "k", "a"), (2, 2, "k", "d")]


# --------------------------------------------------------------------------- property


@settings(max_examples=15, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 99)), max_size=30),
       fail_after=st.integers(0, 30), mode=st.sampled_from(SYNC),
       delay=st.floats(0.0, 0.1), seed=st.integers(0, 999))
def test_random_failovers_keep_acknowledged_writes_and_no_duplicate_keys(
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
