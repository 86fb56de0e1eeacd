"""Random schedules of writes, reads, failures, restarts, cuts and promotions on a
single-primary cluster, in every commit mode — checked from the outside, against what real
replication promises, by reading each node's SQLite tables directly.

Sources for what must hold:

* PostgreSQL, *High Availability* §27.2.8 "Synchronous Replication" and the
  ``synchronous_commit`` documentation: with ``remote_write``/``remote_apply`` a commit is
  acknowledged only once a standby has its WAL, so it survives the loss of the primary as
  long as a standby that has it is the one promoted — here: unless, at some promotion, no
  live replica held it (a double failure, which no single-standby setup survives either);
  in ``async`` an acknowledged write may be lost only through a promotion that lacks it.
* PostgreSQL §30.4 "WAL Internals"/crash recovery: a server that restarts replays its own
  WAL and keeps every committed change, so a restart with nobody promoted loses nothing, and
  the primary resumes as primary (fencing, after Kleppmann, *DDIA* ch. 8 "The leader and the
  lock", matters only once another node has been promoted).
* PostgreSQL's walreceiver (``src/backend/replication/walreceiver.c``): after a broken
  connection a standby reconnects and streams again from its own flush position — so no
  loss in flight stops replication, and after quiescence every live node holds the same
  data (the convergence the replication chapter of *DDIA*, ch. 5, calls eventual
  consistency).

Each schedule is up to 40 operations; "wait" advances simulated time by 0–150 ms, so
failures shorter than the network delay (10–100 ms) happen as often as longer ones, and
failures of replicas land before, during and after a failover. Hypothesis draws
``EXAMPLES`` schedules per commit mode (3 modes; see the module constants).
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scalekit.replication import COMMIT_MODES, READ_POLICIES, NotPrimaryError, SinglePrimary

#: Schedules per commit mode; the suite runs 3 × EXAMPLES of them.
EXAMPLES = 120
SYNC = ("remote_write", "remote_apply")

NODE = st.integers(0, 3)
OPERATION = st.one_of(
    st.tuples(st.just("write"), st.sampled_from("abcde")),
    st.tuples(st.just("write"), st.sampled_from("abcde")),
    st.tuples(st.just("wait"), st.floats(0.0, 0.15)),
    st.tuples(st.just("wait"), st.floats(0.0, 0.15)),
    st.tuples(st.just("fail"), NODE),
    st.tuples(st.just("fail_primary"), st.none()),
    st.tuples(st.just("recover"), NODE),
    st.tuples(st.just("promote"), st.none()),
    st.tuples(st.just("cut"), NODE),
    st.tuples(st.just("read"), st.sampled_from(READ_POLICIES)),
)


# ------------------------------------------------------------------ reading SQLite directly


def log_of(node) -> set[tuple[int, int]]:
    """(term, lsn) of every entry in the node's ``log`` table."""
    return set(node.db.execute("SELECT term, lsn FROM log"))


def held_by(node) -> set[tuple[int, int]]:
    """What the node has received: its log table and its entries waiting to be applied."""
    return log_of(node) | {(e.term, e.lsn) for e in node.pending}


def kv_digest(node) -> str:
    rows = node.db.execute("SELECT key, value, lsn FROM kv ORDER BY key").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def assert_kv_is_the_log_replayed(node) -> None:
    """Each key's row is the last log entry that wrote it (one transaction per entry)."""
    rows = node.db.execute("SELECT key, value, lsn FROM kv ORDER BY key").fetchall()
    replayed = node.db.execute(
        "SELECT key, value, lsn FROM log WHERE lsn IN (SELECT MAX(lsn) FROM log GROUP BY key) "
        "ORDER BY key").fetchall()
    assert rows == replayed, node.name


# ------------------------------------------------------------------ one schedule


class Schedule:
    """Drives a cluster through operations and keeps the evidence: acknowledged writes, the
    writes a promotion was allowed to lose, and what each node held when it went down."""

    def __init__(self, mode, replicas, delay_s, jitter_s, seed):
        self.mode = mode
        self.c = SinglePrimary(replicas, commit=mode, delay_s=delay_s, jitter_s=jitter_s,
                               seed=seed)
        self.acked: dict[tuple[int, int], object] = {}
        self.exempt: set[tuple[int, int]] = set()
        self.promotions = 0
        self.down: dict[str, tuple[int, bool, set]] = {}
        self.writes = 0

    def node(self, i):
        return self.c.nodes[i % len(self.c.nodes)]

    def run(self, operations, fail_over_at_the_end):
        for op, arg in operations:
            getattr(self, op)(arg)
        self.settle(fail_over_at_the_end)

    # -- operations
    def write(self, key):
        self.writes += 1
        if self.c.primary is None:
            with pytest.raises(NotPrimaryError):
                self.c.write(key, f"v{self.writes}")
            return
        self.c.write(key, f"v{self.writes}",
                     on_ack=lambda e, at: self.acked.setdefault((e.term, e.lsn), e))

    def wait(self, seconds):
        self.c.clock.run(self.c.clock.now + seconds)

    def fail(self, i):
        n = self.node(i)
        if n.up:
            self.down[n.name] = (self.promotions, n is self.c.primary, held_by(n),
                                 self.c.clock.now)
            self.c.fail(n.name)

    def fail_primary(self, _):
        if self.c.primary is not None:
            self.fail(self.c.nodes.index(self.c.primary))

    def recover(self, i):
        n = self.node(i)
        if n.up:
            return
        promotions, was_primary, held, failed_at = self.down.pop(n.name)
        if self.c.clock.now - failed_at < self.c.network.delay_s:
            event("a node came back within one network delay")
        self.c.recover(n.name)
        if promotions != self.promotions and was_primary:
            event("an old primary returned after a failover")
        if promotions == self.promotions:  # a restart: nobody was promoted meanwhile
            event(f"a {'primary' if was_primary else 'replica'} restarted, nobody promoted")
            if was_primary:
                assert self.c.primary is n, "a restarted primary resumes as the primary"
            primary = self.c.primary
            kept = held if primary in (None, n) else held & held_by(primary)
            assert kept <= held_by(n), f"{n.name} lost data over a restart"

    def promote(self, _):
        live = [n for n in self.c.nodes if n.up and n.role == "replica"]
        if self.c.primary is not None or not live:
            return
        owed = set(self.acked) - self.exempt
        if self.mode in SYNC:  # lost only if no live replica held it: a double failure
            self.exempt |= {k for k in owed if not any(k in held_by(n) for n in live)}
        event("a failover")
        if len(live) < len(self.c.nodes) - 1:
            event("a promotion while a replica was down")
        new = self.c.promote()
        self.promotions += 1
        if self.mode not in SYNC:  # async may lose what the promoted replica lacks
            self.exempt |= owed - held_by(new)
        assert set(self.acked) - self.exempt <= log_of(new)

    def cut(self, i):
        n = self.node(i)
        if n.up:
            event("a connection was cut")
            self.c.network.cut(n.name)

    def read(self, policy):
        primary = self.c.primary
        if primary is None:
            return
        followers = [n for n in self.c.followers() if n.up]
        target = primary if policy == "primary_after_write" or not followers else followers[0]
        for node in {primary, target}:
            assert_kv_is_the_log_replayed(node)
        for key, lsn in self.latest_owed().items():
            if policy == "wait_for_position" and target.applied_lsn < lsn:
                continue  # the read waits; it is not answered yet
            if target is primary or policy == "wait_for_position":
                row = target.read(key)
                assert row is not None and row[1] >= lsn, (key, row, lsn)

    def latest_owed(self) -> dict[str, int]:
        """Per key, the position of the latest acknowledged write nobody may lose."""
        latest: dict[str, int] = {}
        for k, e in self.acked.items():
            if k not in self.exempt:
                latest[e.key] = max(latest.get(e.key, 0), e.lsn)
        return latest

    # -- quiescence
    def settle(self, fail_over_first):
        """Bring everything back (after a failover, if asked and possible) and run the clock
        until nothing is left to deliver."""
        if fail_over_first:
            self.promote(None)
        for i, n in enumerate(self.c.nodes):
            if not n.up:
                self.recover(i)
        self.promote(None)
        self.c.clock.run()


@pytest.mark.parametrize("mode", COMMIT_MODES)
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(operations=st.lists(OPERATION, min_size=5, max_size=40), replicas=st.integers(1, 3),
       delay_s=st.floats(0.01, 0.1), jitter_s=st.floats(0.0, 0.05),
       seed=st.integers(0, 2**16), fail_over_at_the_end=st.booleans())
def test_random_schedules_lose_nothing_owed_and_converge(mode, operations, replicas, delay_s,
                                                        jitter_s, seed, fail_over_at_the_end):
    s = Schedule(mode, replicas, delay_s, jitter_s, seed)
    s.run(operations, fail_over_at_the_end)  # no exception may escape the simulation
    c = s.c
    assert c.primary is not None and all(n.up for n in c.nodes)
    owed = set(s.acked) - s.exempt
    assert owed <= log_of(c.primary), "an acknowledged write was lost"
    for n in c.nodes:
        assert_kv_is_the_log_replayed(n)
        assert log_of(n) == log_of(c.primary), f"{n.name}'s log differs from the primary's"
    assert len({kv_digest(n) for n in c.nodes}) == 1, "live nodes did not converge"
