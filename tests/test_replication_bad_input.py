"""Issue 18 for scalekit.replication, beyond the walk (tests/test_api_replication.py):

* **Any value, one parameter at a time** (hypothesis): each numeric parameter of the main
  runners — ``run_single_primary``, ``read_scaling``, ``collide_keys``,
  ``simulate_conflicts``, ``trace_write`` — gets whatever hypothesis draws (ints of any size,
  every float including NaN and infinities, None, bools, short strings, empty containers).
  The call either succeeds or raises TypeError/ValueError naming that parameter; nothing
  else (no OverflowError, no MemoryError, no numpy warning turned error).
* **A refused write leaves every database as it was**: for each writer (``Node.append``,
  ``Node.apply_pending``, ``Node.rewind``, ``SinglePrimary.write`` and the failure calls,
  ``Primary.insert``, ``exchange_orders``) a refused call — bad input, a node that may not
  take it, or SQLite itself failing half-way (a trigger that aborts, as a full disk would) —
  leaves every node's database byte-for-byte the same. The digest is taken from SQLite's own
  dump of the whole database (``Connection.iterdump``: every table, ``sqlite_sequence``
  included), not from the package's ``checksum``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scalekit import replication
from scalekit.replication import LogEntry, Node, NotPrimaryError, ReplicationError, multi
from scalekit.replication.clients import MAX_WRITES
from scalekit.replication.log import MAX_TEXT
from scalekit.views import replication as view

import _walk

# Whatever a student might type, and what a bug upstream might hand over.
EXTREMES = [1e308, -1e308, 5e-324, 2.2250738585072014e-308, 2**53 + 1, 2**63, 2**64, 10**400,
            float("inf"), float("-inf"), float("nan"), 0, 0.0, -0.0, 1, -1]
ANYTHING = st.one_of(
    st.sampled_from(EXTREMES), st.integers(), st.floats(), st.none(), st.booleans(),
    st.text(max_size=3), st.just([]), st.just({}), st.just(()))
ALLOWED = (TypeError, ValueError)
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def clear_or_ok(call, name: str) -> None:
    """``call()`` succeeds, or refuses with TypeError/ValueError naming ``name``; a numpy
    floating-point warning is an error here (NaN must not reach arithmetic)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            call()
        except ALLOWED as exc:
            assert _walk.names(str(exc), name), f"{name}: {type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- hypothesis

RUN = {"duration_s": 0.5, "writes_per_s": 20.0, "fail_at": 0.2, "seed": 0}
RUN_NUMBERS = ["replicas", "delay_s", "jitter_s", "apply_s", "writes_per_s", "duration_s",
               "keys", "think_s", "read_share", "fail_at", "failover_s", "down_s",
               "stale_client_share", "seed"]


def _writes(kwargs: dict) -> float:
    try:
        return float(kwargs["writes_per_s"]) * float(kwargs["duration_s"])
    except (TypeError, ValueError, OverflowError):
        return 0.0


@FAST
@given(name=st.sampled_from(RUN_NUMBERS), value=ANYTHING)
def test_run_single_primary_takes_any_value_or_names_the_setting(name, value):
    kwargs = {**RUN, name: value}
    # A valid run of thousands of writes takes seconds; its bound (MAX_WRITES) is tested
    # at the boundary below, so hypothesis spends its time elsewhere.
    assume(not 1_000 < _writes(kwargs) <= MAX_WRITES)
    clear_or_ok(lambda: replication.run_single_primary(**kwargs), name)


def test_every_extreme_for_every_setting_is_run_or_named():
    """The extremes hypothesis may or may not draw, each tried on every setting: the float
    maximum, the smallest normal and subnormal floats, 2**64, 10**400, the infinities, NaN."""
    for name in RUN_NUMBERS:
        for value in EXTREMES:
            kwargs = {**RUN, name: value}
            if not 1_000 < _writes(kwargs) <= MAX_WRITES:
                clear_or_ok(lambda kwargs=kwargs: replication.run_single_primary(**kwargs), name)


def test_the_write_bound_is_checked_before_anything_runs():
    just_over = MAX_WRITES + 1
    with pytest.raises(ValueError, match=f"{just_over:,} writes, more than the {MAX_WRITES:,}"):
        replication.run_single_primary(writes_per_s=float(just_over), duration_s=1.0)


@FAST
@given(name=st.sampled_from(["max_replicas", "write_share", "node_capacity_rps",
                             "apply_cost"]), value=ANYTHING)
def test_read_scaling_takes_any_value_or_names_it(name, value):
    clear_or_ok(lambda: replication.read_scaling(**{name: value}), name)


@FAST
@given(name=st.sampled_from(["n_primaries", "rows_per_primary", "seed"]), value=ANYTHING)
def test_collide_keys_takes_any_value_or_names_it(name, value):
    kwargs = {"n_primaries": 2, "rows_per_primary": 3, "scheme": "offset", name: value}
    if isinstance(value, int) and not isinstance(value, bool):
        assume(not (name == "rows_per_primary" and 200 < value <= multi.MAX_ROWS))
    clear_or_ok(lambda: replication.collide_keys(**kwargs), name)


@FAST
@given(name=st.sampled_from(["n_nodes", "updates", "window", "seed"]), value=ANYTHING)
def test_simulate_conflicts_takes_any_value_or_names_it(name, value):
    if isinstance(value, int) and not isinstance(value, bool):
        assume(not (name == "updates" and 500 < value <= multi.MAX_UPDATES))
    kwargs = {"n_nodes": 3, "updates": 20, "window": 5, name: value}
    clear_or_ok(lambda: replication.simulate_conflicts(**kwargs), name)


@FAST
@given(name=st.sampled_from(["replicas", "delay_s", "jitter_s", "apply_s", "seed"]),
       value=ANYTHING)
def test_trace_write_takes_any_value_or_names_it(name, value):
    clear_or_ok(lambda: view.trace_write(**{name: value}), name)


# --------------------------------------------------------------------------- databases


def digest(conn: sqlite3.Connection) -> str:
    """SHA-256 of SQLite's own SQL dump of the whole database."""
    return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def digests(cluster) -> dict[str, str]:
    return {n.name: digest(n.db) for n in cluster.nodes}


def abort_on(conn: sqlite3.Connection, table: str, event: str = "INSERT") -> None:
    """Make SQLite fail inside the next ``event`` on ``table``, half-way through the
    transaction that contains it (what a full disk or an I/O error does)."""
    conn.execute(f"CREATE TEMP TRIGGER fail_{table} BEFORE {event} ON main.{table} "
                 f"BEGIN SELECT RAISE(ABORT, 'simulated failure'); END")


def written_cluster():
    """A cluster that has taken and replicated some writes, one replica down."""
    cluster = replication.SinglePrimary(2, commit="remote_apply", seed=1)
    for i in range(5):
        cluster.write(f"k{i % 3}", f"v{i}")
    cluster.quiesce()
    cluster.fail("n2")
    return cluster


@pytest.mark.parametrize(("call", "exc"), [
    (lambda c: c.write(None, "v"), TypeError),
    (lambda c: c.write("k", 3), TypeError),
    (lambda c: c.write("k", "x" * (MAX_TEXT + 1)), ValueError),
    (lambda c: c.write("k", "v", node="n9"), ValueError),
    (lambda c: c.write("k", "v", on_ack="later"), TypeError),
    (lambda c: c.write("k", "v", node="n1"), NotPrimaryError),  # a replica
    (lambda c: c.fail("n9"), ValueError),
    (lambda c: c.recover("n1"), RuntimeError),                # up already
    (lambda c: c.promote(), RuntimeError),                    # a live primary
])
def test_a_refused_cluster_call_leaves_every_node_as_it_was(call, exc):
    cluster = written_cluster()
    before = digests(cluster)
    with pytest.raises(exc):
        call(cluster)
    cluster.quiesce()
    assert digests(cluster) == before


def test_a_write_with_no_primary_up_changes_no_node():
    cluster = written_cluster()
    cluster.fail("n0")
    before = digests(cluster)
    with pytest.raises(NotPrimaryError, match="no primary is up"):
        cluster.write("k", "v")
    assert digests(cluster) == before


@settings(max_examples=40, deadline=None)
@given(key=ANYTHING | st.text(max_size=5), value=ANYTHING | st.text(max_size=5))
def test_any_write_is_taken_whole_everywhere_or_refused_leaving_every_node(key, value):
    cluster = written_cluster()
    before = digests(cluster)
    try:
        cluster.write(key, value)
    except ALLOWED as exc:
        assert _walk.names(str(exc), "key") or _walk.names(str(exc), "value"), str(exc)
        cluster.quiesce()
        assert digests(cluster) == before
        return
    cluster.quiesce()
    assert all(n.read(key)[0] == value for n in cluster.nodes if n.up)


@pytest.mark.parametrize(("call", "exc"), [
    (lambda n: n.append(None, "v", 0.0), TypeError),
    (lambda n: n.append("k", "v", float("nan")), ValueError),
    (lambda n: n.append("k", "v", -1.0), ValueError),
    (lambda n: n.rewind(-1), ValueError),
    (lambda n: n.rewind("1"), TypeError),
])
def test_a_refused_node_call_leaves_its_database_as_it_was(call, exc):
    node = Node("n0", "primary")
    for i in range(3):
        node.append(f"k{i}", f"v{i}", float(i))
    before, position = digest(node.db), node.applied_lsn
    with pytest.raises(exc):
        call(node)
    assert digest(node.db) == before and node.applied_lsn == position


def test_sqlite_failing_half_way_through_an_append_rolls_the_entry_back():
    node = Node("n0", "primary")
    node.append("k", "v1", 0.0)
    before = digest(node.db)
    abort_on(node.db, "kv")  # the log row is inserted, then the kv upsert fails
    with pytest.raises(ReplicationError, match="simulated failure") as info:
        node.append("k", "v2", 1.0)
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert digest(node.db) == before and node.applied_lsn == 1
    assert node.entries_after(0) == [LogEntry(1, 1, "k", "v1", 0.0)]


def test_a_replay_that_fails_keeps_what_was_applied_and_the_failed_entry_pending():
    """apply_pending: one transaction per entry — the entries before the failure stay
    applied (each committed), the failing one leaves no trace and waits to be replayed."""
    replica = Node("n1")
    entries = [LogEntry(1, i, f"k{i}", f"v{i}", 0.0) for i in (1, 2, 3)]
    for e in entries:
        assert replica.receive(e)
    replica.apply_pending()
    assert replica.applied_lsn == 3
    replica.receive(LogEntry(1, 4, "k4", "v4", 0.0))
    replica.receive(LogEntry(1, 5, "k5", "v5", 0.0))
    before = digest(replica.db)
    abort_on(replica.db, "log")
    with pytest.raises(ReplicationError):
        replica.apply_pending()
    assert digest(replica.db) == before and replica.applied_lsn == 3
    assert [e.lsn for e in replica.pending] == [4, 5]


def test_sqlite_failing_half_way_through_a_rewind_leaves_the_log_and_the_rows():
    node = Node("n0", "primary")
    for i in range(5):
        node.append(f"k{i % 2}", f"v{i}", float(i))
    before = digest(node.db)
    abort_on(node.db, "kv")  # the log is cut and kv emptied, then rebuilding kv fails
    with pytest.raises(ReplicationError, match="rewinding to lsn 2"):
        node.rewind(2)
    assert digest(node.db) == before and node.applied_lsn == 5


# ------------------------------------------------------------------ multi-primary writers


def on_disk(tmp_path, n=2, scheme="offset"):
    return [multi.Primary(f"p{i}", multi.key_scheme(scheme, i, n), str(tmp_path / f"p{i}.db"))
            for i in range(n)]


def file_digests(tmp_path, n=2) -> list[str]:
    """The databases as another process would find them on disk."""
    out = []
    for i in range(n):
        conn = sqlite3.connect(tmp_path / f"p{i}.db")
        try:
            out.append(digest(conn))
        finally:
            conn.close()
    return out


@pytest.mark.parametrize(("call", "exc"), [
    (lambda ps: ps[0].insert(None), TypeError),
    (lambda ps: ps[0].insert("x" * 10_001), ValueError),
    (lambda ps: multi.exchange_orders([ps[0], "p1"]), TypeError),  # a stray element, last
    (lambda ps: multi.exchange_orders(ps[0]), TypeError),
])
def test_a_refused_multi_primary_write_leaves_every_database_on_disk(tmp_path, call, exc):
    primaries = on_disk(tmp_path)
    for p in primaries:
        p.insert(f"first on {p.name}")
    before = file_digests(tmp_path)
    with pytest.raises(exc):
        call(primaries)
    assert file_digests(tmp_path) == before
    for p in primaries:
        p.close()


def test_a_colliding_exchange_rolls_back_every_database_on_disk(tmp_path):
    primaries = on_disk(tmp_path, n=3, scheme="autoincrement")
    for p in primaries:
        p.insert(f"first on {p.name}")
    before = file_digests(tmp_path, 3)
    with pytest.raises(multi.KeyCollisionError):
        multi.exchange_orders(primaries)
    assert file_digests(tmp_path, 3) == before
    for p in primaries:
        p.close()


def test_sqlite_failing_inside_the_exchange_rolls_back_the_primaries_already_written(tmp_path):
    """The third primary fails after the first two took the others' rows in the same
    exchange: all three are rolled back."""
    primaries = on_disk(tmp_path, n=3)
    for p in primaries:
        p.insert(f"first on {p.name}")
    before = file_digests(tmp_path, 3)
    abort_on(primaries[2].conn, "orders")
    with pytest.raises(ReplicationError, match="simulated failure") as info:
        multi.exchange_orders(primaries)
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert file_digests(tmp_path, 3) == before
    for p in primaries:
        p.close()


def test_a_failed_insert_leaves_the_primary_and_its_key_series(tmp_path):
    (p, _) = on_disk(tmp_path)
    p.insert("one")
    before = file_digests(tmp_path)[0]
    abort_on(p.conn, "orders")
    with pytest.raises(ReplicationError, match="inserting on primary 'p0' failed"):
        p.insert("two")
    assert file_digests(tmp_path)[0] == before
