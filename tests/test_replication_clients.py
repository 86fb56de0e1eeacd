"""Clients on a single-primary cluster: lag, read-your-writes, commit modes, a failover or a
restart, and the settings a run takes.

Sources. PostgreSQL documentation, ``synchronous_commit``: with ``remote_write`` /
``remote_apply`` a commit is acknowledged only once a standby has received / applied its WAL,
so promoting the most advanced standby never loses an acknowledged commit, while
asynchronous standbys lag and lose the commits not yet shipped when the primary fails
(§27.2.8 "Synchronous Replication"); §30 "Reliability and the Write-Ahead Log": a server
restarted after a crash replays its WAL and keeps every committed change. Read-your-writes
and its two fixes (read the leader after a write; wait for the replica to reach the
client's position, ``pg_last_wal_replay_lsn()``): Kleppmann, *Designing Data-Intensive
Applications*, ch. 5 "Reading Your Own Writes".
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit.replication import (
    COMMIT_MODES,
    READ_POLICIES,
    SinglePrimaryResult,
    SinglePrimarySettings,
    compare_commit_modes,
    run_single_primary,
)

SYNC = ("remote_write", "remote_apply")


# --------------------------------------------------------------------------- settings


def test_settings_hold_the_documented_defaults_and_are_frozen():
    s = SinglePrimarySettings()
    assert (s.replicas, s.commit, s.delay_s, s.writes_per_s, s.duration_s, s.failover_s,
            s.down_s, s.seed) == (2, "async", 0.05, 50.0, 5.0, 0.2, 1.0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.delay_s = 1.0
    assert "stale_client_share" in s._repr_html_()


def test_overrides_apply_to_given_settings_and_keywords_alone_still_work():
    base = SinglePrimarySettings(commit="remote_apply", duration_s=1.0)
    a = run_single_primary(base, delay_s=0.02)
    b = run_single_primary(commit="remote_apply", duration_s=1.0, delay_s=0.02)
    assert a.settings == b.settings == dataclasses.replace(base, delay_s=0.02)
    assert repr(a) == repr(b) and np.array_equal(a.commit_s, b.commit_s)
    assert base.delay_s == 0.05  # the settings given are not changed
    modes = compare_commit_modes(base, seed=3)  # the commit of ``base`` is replaced
    assert [r.commit for r in modes] == list(COMMIT_MODES)
    assert {r.settings.seed for r in modes} == {3}
    with pytest.raises(TypeError, match="commit='async': compare_commit_modes runs every"):
        compare_commit_modes(commit="async")  # one mode asked of a comparison of all


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: run_single_primary(delays=0.1), TypeError, "unknown setting.*'delays'"),
    (lambda: run_single_primary({"delay_s": 0.1}), TypeError, "settings must be"),
    (lambda: compare_commit_modes(fail_now=True), TypeError, "'fail_now'"),
])
def test_a_wrong_setting_name_or_type_is_named(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


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
    ({"keys": 0}, ValueError, "keys"),
    ({"think_s": -1}, ValueError, "think_s"),
    ({"fail_at": float("nan")}, ValueError, "fail_at"),
    ({"failover_s": -0.1}, ValueError, "failover_s"),
    ({"down_s": "1"}, TypeError, "down_s"),
    ({"stale_client_share": 2}, ValueError, "stale_client_share"),
    ({"fencing": "no"}, TypeError, "fencing"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_bad_input_names_the_parameter(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        SinglePrimarySettings(duration_s=0.5, **kwargs)
    with pytest.raises(exc, match=name):
        run_single_primary(duration_s=0.5, **kwargs)


@pytest.mark.parametrize("kw, name", [({"replicas": 10**7}, "replicas"),
                                      ({"writes_per_s": 1e12}, "duration_s"),
                                      ({"duration_s": 1e12}, "duration_s")])
def test_runaway_sizes_are_refused_at_once(kw, name):
    with pytest.raises(ValueError, match=name):
        run_single_primary(**kw)


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
    assert "lag_at" not in repr(res)
    with pytest.raises(AttributeError):
        res.lost_writes = 1


def test_a_result_shows_a_short_summary_and_its_full_table_on_request():
    """Issue 19 §5: a notebook shows six readable lines, not 21 internal fields; every field
    is one call away (``table()``), and the summary's figures are the result's own."""
    res = run_single_primary(fail_at=1.0, duration_s=3.0, seed=1)  # old primary back at 2.2 s
    shown = res._repr_html_()
    assert shown.count("<tr>") == 6 and "mean_read_wait_s" not in shown
    lines = res.headline()
    assert lines["reads of one's own write"].startswith(f"{res.stale_reads} of {res.reads} ")
    assert lines["acknowledged writes lost"] == str(res.lost_writes)
    assert lines["writes acknowledged"].startswith(f"{res.acknowledged} of {res.writes} (")
    assert f"{res.refused_writes} refused by the fenced old primary" in lines[
        "writes acknowledged"]
    assert "a failover" in lines["run"] and "restart" in run_single_primary(
        fail_at=1.0, failover_s=None, duration_s=2.0).headline()["run"]
    table = res.table()
    assert table.mapping == res.summary() and len(table.mapping) == 21
    assert "mean_read_wait_s" in table._repr_html_() and "lost_writes" in repr(table)


# --------------------------------------------------------------------------- property


@settings(max_examples=25, deadline=None)
@given(mode=st.sampled_from(COMMIT_MODES), replicas=st.integers(1, 3),
       delay=st.floats(0.0, 0.2), jitter=st.floats(0.0, 0.1),
       fail_at=st.one_of(st.none(), st.floats(0.0, 1.5)),
       failover_s=st.one_of(st.none(), st.floats(0.0, 0.5)),
       policy=st.sampled_from(READ_POLICIES), rate=st.floats(5.0, 60.0),
       seed=st.integers(0, 2**16))
def test_sync_modes_never_lose_restarts_never_lose_and_live_nodes_converge(
        mode, replicas, delay, jitter, fail_at, failover_s, policy, rate, seed):
    res = run_single_primary(commit=mode, replicas=replicas, delay_s=delay, jitter_s=jitter,
                             fail_at=fail_at, failover_s=failover_s, read_policy=policy,
                             writes_per_s=rate, duration_s=1.5, keys=10, down_s=0.3,
                             seed=seed)
    if mode in SYNC or failover_s is None:  # a restart loses nothing in any mode
        assert res.lost_writes == 0
    if policy != "any" and res.lost_writes == 0:
        assert res.stale_reads == 0
    assert res.converged


# --------------------------------------------------------------------------- restart


@pytest.mark.parametrize("mode", COMMIT_MODES)
def test_a_primary_restart_loses_nothing_but_refuses_writes_while_it_is_down(mode):
    """No failover: the primary is down ``down_s`` and comes back with its WAL. Writes in
    between are refused; none acknowledged is lost, in async too (a failover at the same
    instant loses some in async)."""
    restart = run_single_primary(commit=mode, fail_at=2.0, failover_s=None, down_s=1.0)
    assert restart.lost_writes == 0 and restart.converged
    assert restart.refused_writes == restart.divergent_writes == 0
    # Poisson arrivals at 50/s for the 1 s it is down: 50 expected, sd about 7.
    assert 50 - 4 * 7 < restart.unavailable < 50 + 4 * 7
    # Every write is acknowledged or refused, except, in the sync modes, the few waiting for
    # their replica's report when the primary died: their clients never hear back.
    in_flight = restart.writes - restart.acknowledged - restart.unavailable
    assert in_flight == 0 if mode == "async" else 0 <= in_flight <= 10
    failover = run_single_primary(commit=mode, fail_at=2.0)
    assert (failover.lost_writes > 0) == (mode == "async")
