"""The replication model held to real PostgreSQL: the same experiment on the same
parameters, and the two agree where they should, within tolerances from repeated runs.

Sources: PostgreSQL 18 documentation — §19.5.1 ``synchronous_commit`` (off, local,
remote_write, on, remote_apply: what a commit waits for), §27.2.8 synchronous replication
("the transaction commit ... waits until the standby has confirmed"), §27.2.5.2
``pg_stat_replication`` (write_lag, flush_lag, replay_lag: the time from the primary's
flush to the standby's report), §9.28.4 ``pg_last_wal_replay_lsn()``, §27.3 failover and
``pg_promote()``, and ``pg_rewind`` (timelines diverge at a failover; rewinding lets the old
primary follow). Little's law (L = λW) for the writes in flight.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scalekit.engines import EngineUnavailable
from scalekit.replication import postgres as rp
from scalekit.replication import run_single_primary

Z = 4.0  # standard errors: see tests/_stats.py


def _engine_or_skip(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except EngineUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def lag(pg_cluster):
    return rp.measure_lag(writes_per_s=200, delay_s=0.02, duration_s=2.0, cluster=pg_cluster)


@pytest.fixture(scope="module")
def ryw(pg_cluster):
    return rp.read_your_writes(delays_s=(0.0, 0.015, 0.04), think_s=0.02, jitter_s=0.01,
                               reads=25, model_reads=400, cluster=pg_cluster)


@pytest.fixture(scope="module")
def commits(pg_cluster):
    return rp.commit_latency(delay_s=0.01, commits=30, cluster=pg_cluster)


@pytest.fixture(scope="module")
def failovers():
    """One failover per mode (each on a cluster of its own); the async one also rejoins."""
    kw = dict(writes_per_s=200, delay_s=0.05, fail_after_s=0.6)
    return {"local": _engine_or_skip(rp.failover, "local", rejoin=True, **kw),
            "on": _engine_or_skip(rp.failover, "on", **kw),
            "remote_apply": _engine_or_skip(rp.failover, "remote_apply", **kw)}


# --------------------------------------------------------------------------- 1. lag


def _batch_se(x: np.ndarray, batches: int = 8) -> float:
    """Standard error of a time series' mean from the means of ``batches`` blocks (the
    samples are correlated; block means nearly are not)."""
    means = np.array([b.mean() for b in np.array_split(x, batches)])
    return float(means.std(ddof=1) / np.sqrt(batches))


def test_postgres_lag_in_writes_matches_the_model_and_littles_law(lag):
    """L = λW: at 200 writes/s over a 20 ms link about 4 writes are in flight, on both (the
    model at the rate the client achieved, replaying in PostgreSQL's measured time)."""
    model = np.array([run_single_primary(replicas=1, delay_s=0.02, jitter_s=0.0,
                                         apply_s=lag.replay_latency_s,
                                         writes_per_s=lag.achieved_writes_per_s,
                                         duration_s=2.0, read_share=0.0, seed=s).mean_lag
                      for s in range(8)])
    se = np.hypot(_batch_se(lag.writes_behind), model.std(ddof=1) / np.sqrt(model.size))
    assert abs(lag.mean_writes_behind - model.mean()) <= Z * se, \
        (lag.mean_writes_behind, model.mean(), se)
    assert lag.writes > 50 and lag.mean_writes_behind > 0.5  # (a busy machine writes less)
    assert lag.achieved_writes_per_s <= 200 * 1.2


def test_postgres_lag_columns_include_the_round_trip(lag):
    """pg_stat_replication's lags run from the primary's flush to the standby's reply."""
    settled = lag.at_s > 0.25  # before the first replies under the delay: older values
    for column in (lag.write_lag_s, lag.flush_lag_s, lag.replay_lag_s):
        seen = column[settled & np.isfinite(column)]
        assert seen.size > 10
        # a reply reported before the delay took hold can linger on a busy machine: the
        # typical value, not every one, carries the round trip
        assert np.median(seen) >= 2 * lag.delay_s * 0.99
    assert np.nanmean(lag.write_lag_s) <= np.nanmean(lag.replay_lag_s) + 1e-3
    assert lag.mean_lsn_distance > 0 and 50 < lag.bytes_per_write < 2000
    assert np.corrcoef(lag.lsn_distance, lag.writes_behind)[0, 1] > 0.5


# --------------------------------------------------------------------------- 2. read-your-writes


def test_postgres_stale_reads_follow_the_model_against_delay(ryw):
    """At each delay PostgreSQL's stale-read share lies within binomial error of the model
    run with PostgreSQL's replay time between its 10th and 90th percentile (it varies, the
    model's is fixed); the curve rises from none to all on both."""
    for d, pe, lo, hi, ne in zip(ryw.delays_s, ryw.stale_rate, ryw.model_stale_low,
                                 ryw.model_stale_high, ryw.reads, strict=True):
        p = np.clip(pe, 0.5 / ne, 1 - 0.5 / ne)
        se = np.sqrt(p * (1 - p) / ne)
        assert min(lo, hi) - Z * se <= pe <= max(lo, hi) + Z * se, \
            f"delay {d}: PostgreSQL {pe:.2f}, model {lo:.2f}–{hi:.2f}"
    # the shape: both rise from (almost) none to all — 40 ms of delay always outlasts a
    # 20 ms think time; how stale a 0 ms link reads depends on how busy the machine is
    for curve in (ryw.stale_rate, ryw.model_stale_rate):
        assert curve[-1] >= 0.9 and curve[-1] - curve[0] >= 0.5, curve
    assert np.all(np.diff(ryw.model_stale_rate) >= 0)


def test_postgres_both_fixes_never_read_stale(ryw):
    """Reading the primary, or waiting for pg_last_wal_replay_lsn() ≥ the commit's LSN."""
    assert np.all(ryw.primary_stale_rate == 0)
    assert np.all(ryw.wait_stale_rate == 0)


def test_postgres_wait_for_lsn_costs_what_the_model_says(ryw):
    """Past the think time the wait is the rest of the trip: delay + jitter/2 + replay −
    think (the model replays in PostgreSQL's measured time). 1 ms allows the polling step
    (0.2 ms) and the stale read made before the wait starts."""
    late = ryw.delays_s > ryw.think_s
    assert late.any()
    gap = ryw.mean_wait_s[late] - ryw.model_wait_s[late]
    assert np.all(np.abs(gap) <= Z * ryw.wait_se_s[late] + 0.001), (gap, ryw.wait_se_s)
    assert np.all(ryw.mean_think_s >= ryw.think_s)
    assert 0 < ryw.replay_latency_s < ryw.think_s


# --------------------------------------------------------------------------- 3. commit modes


def test_postgres_synchronous_modes_cost_local_commit_plus_one_round_trip(commits):
    """A synchronous commit waits for its local flush and for the standby's answer, one
    round trip away: the delay adds exactly the round trip it adds to any request, and the
    rest — local flush, the standby's write/flush/replay — is what the commit costs with no
    delay (both measured in the same run, alternating)."""
    for mode in ("remote_write", "on", "remote_apply"):
        i = commits.modes.index(mode)
        se = np.sqrt(commits.median_se_s[i] ** 2 + commits.zero_delay_se_s[i] ** 2
                     + commits.relay_rtt_se_s ** 2)
        gap = commits.median_s[i] - commits.expected_s[i]
        # 0.5 ms: timer granularity; and the relay's own lateness, measured in the run,
        # once each way (on a loaded 2-core machine its thread wakes late)
        slack = 0.0005 + 2 * commits.relay_late_s
        assert abs(gap) <= Z * se + slack, (mode, gap, se, commits.relay_late_s)
        assert commits.samples_s[i].min() >= 2 * commits.delay_s  # never before the reply
        # the rule of thumb, local commit + one round trip, misses only the standby's part
        assert commits.median_s[i] >= commits.expected_sync_s - Z * se
    assert commits.relay_rtt_s >= 2 * commits.delay_s - Z * commits.relay_rtt_se_s


def test_postgres_asynchronous_modes_wait_for_no_standby(commits):
    for mode in ("off", "local"):
        assert commits.of(mode) < commits.delay_s
    assert commits.of("off") <= commits.of("local") + commits.median_se_s[1] * Z


def test_postgres_model_commit_latency_is_the_round_trip_without_a_disk(commits):
    """The model's synchronous modes cost exactly the round trip (+ apply); PostgreSQL's
    cost that and its local flush: never less than the model."""
    for mode, engine, model in zip(commits.modes, commits.median_s, commits.model_mean_s,
                                   strict=True):
        if mode in ("remote_write", "on"):
            assert model == pytest.approx(2 * commits.delay_s)
        assert engine >= model - 1e-4


# --------------------------------------------------------------------------- 4. failover


def test_postgres_synchronous_modes_lose_no_acknowledged_write(failovers):
    for mode in ("on", "remote_apply"):
        f = failovers[mode]
        assert f.acknowledged > 0 and f.lost_writes == 0 and f.model_lost_writes == 0, f
        assert f.timelines == (1, 2)


def test_postgres_async_loses_the_last_writes_as_the_model_does(failovers):
    """The writes lost are those still on the link: a suffix of the acknowledged ones
    (WAL ships in order), about rate × delay of them — as many as the model loses at the
    client's achieved rate, within the spread of repeated model runs."""
    f = failovers["local"]
    assert f.lost_writes > 0
    assert min(f.lost_ids) > f.acknowledged - f.lost_writes - f.unacknowledged_present - 1
    rate = f.acknowledged / f.failed_at_s
    model = np.array([run_single_primary(replicas=1, commit="async", delay_s=f.delay_s,
                                         jitter_s=0.0, apply_s=0.0005, writes_per_s=rate,
                                         duration_s=f.failed_at_s + 0.5, read_share=0.0,
                                         fail_at=f.failed_at_s, failover_s=0.1, down_s=10.0,
                                         stale_client_share=0.0, seed=s).lost_writes
                      for s in range(12)])
    spread = model.std(ddof=1) * np.sqrt(1 + 1 / model.size)
    assert abs(f.lost_writes - model.mean()) <= Z * spread, (f.lost_writes, model)


def test_postgres_old_primary_cannot_rejoin_until_rewound(failovers):
    f = failovers["local"]
    assert f.rejoin is not None and not f.rejoin.rejoined
    assert f.rejoin.timelines == (1, 2)
    assert "forked off" in f.rejoin.evidence
    assert f.rewind is not None and f.rewind.streaming and "Done" in f.rewind.output
    assert f.rewound_rows_match is True


def test_postgres_failover_counts_come_from_the_client(failovers):
    for f in failovers.values():
        assert f.sent >= f.acknowledged >= f.lost_writes
        assert f.lost_writes == len(f.lost_ids)


# --------------------------------------------------------------------------- results, input


def test_postgres_results_are_frozen_and_render(lag, ryw, commits, failovers):
    for r in (lag, ryw, commits, failovers["local"]):
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.engine = "x"
        html = r._repr_html_()
        assert "PostgreSQL" in html and "<table>" in html
    assert "forked off" in failovers["local"]._repr_html_()


@pytest.mark.parametrize("call, error, match", [
    (lambda: rp.measure_lag(writes_per_s=0), ValueError, "writes_per_s"),
    (lambda: rp.measure_lag(writes_per_s=1e4, duration_s=60), ValueError, "writes"),
    (lambda: rp.measure_lag(cluster="db"), TypeError, "cluster"),
    (lambda: rp.read_your_writes(delays_s=[]), ValueError, "delays_s"),
    (lambda: rp.read_your_writes(think_s=-1), ValueError, "think_s"),
    (lambda: rp.commit_latency(modes=("fast",)), ValueError, "mode"),
    (lambda: rp.commit_latency(commits=1), ValueError, "commits"),
    (lambda: rp.failover("sync"), ValueError, "commit"),
    (lambda: rp.failover(rejoin=1), TypeError, "rejoin")])
def test_postgres_experiments_refuse_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------- views


def test_postgres_replication_views_draw_both_sides(lag, ryw, commits, failovers):
    from scalekit.views.replication import postgres as view

    figs = [view.plot_lag(lag), view.plot_read_your_writes(ryw),
            view.plot_commit_latency(commits), view.plot_failover(list(failovers.values()))]
    for fig in figs:
        labels = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()
                  if ax.get_legend() is not None]
        assert any("PostgreSQL" in t for t in labels) and any("model" in t for t in labels)
        assert all(ax.get_xlabel() or ax.get_xticklabels() for ax in fig.axes)
        assert fig._repr_png_()[:4] == b"\x89PNG"
    with pytest.raises(TypeError, match="LagComparison"):
        view.plot_lag(ryw)


def test_postgres_replication_views_are_readable_at_1024_by_768(lag, ryw, commits, failovers):
    """Issue 19 §5: every text at least 9 px, none cut off, in JupyterLab at 1024×768."""
    from _screen import unreadable

    from scalekit.views.replication import postgres as view
    from scalekit.views.style import PNG_DPI

    for fig in (view.plot_lag(lag), view.plot_read_your_writes(ryw),
                view.plot_commit_latency(commits), view.plot_failover(list(failovers.values()))):
        small, cut = unreadable(fig, PNG_DPI)
        assert not small and not cut, (fig.axes[0].get_title(), small, cut)
