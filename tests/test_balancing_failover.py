"""Tests for scalekit.balancing.failover: an active–passive balancer pair (keepalived/VRRP).

Sources the checks are held to:

* RFC 5798 (VRRP version 3), §6.1: Skew_Time = ((256 − Priority) × Master_Adver_Interval)
  / 256; Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time; §5.2.4: a backup's
  default priority is 100, 255 belongs to the address owner; §5.2.7: the default
  Advertisement_Interval is 100 centiseconds. §6.4.3: a Master hearing an advertisement of
  higher priority steps down — so after a false failover the passive (lower priority) gives
  the VIP back when it next hears the active;
* the fixed-timeout detector of scalekit.servers.heartbeats (tested there): with adverts
  every I seconds and no jitter, delay or pauses, a crash is declared at the last advert
  + T, so detection lies in [T − I, T]; a network delay of at most δ adds at most δ;
* Poisson arrivals at rate λ in a window of length D: a count with mean and variance λD;
* a pause of the active starting U ~ U(0, I) after its last advert (PASTA, Wolff 1982)
  and lasting P > T silences it past the timeout once; the passive hears it again when the
  overdue advert leaves at the pause's end, U + P − T after declaring it down.

Statistical checks use Z = 4 standard errors over 20 seeded replications (sim.replicate:
a correct model fails with Student's t's chance beyond ±4, about 1 in 1,300 — tests/_stats.py),
plus any bias the closed form leaves out, bounded explicitly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalekit import sim
from scalekit.balancing.failover import (
    DEFAULT_PRIORITY,
    FailoverResult,
    FailoverTradeoff,
    failover_tradeoff,
    master_down_interval_s,
    pair_config,
    simulate_failover,
    skew_time_s,
)
from scalekit.servers import heartbeats
from scalekit.servers.heartbeats import HeartbeatConfig

Z = 4.0
HOUR, DAY = 3600.0, 86_400.0


def quiet(**changes) -> HeartbeatConfig:
    """Adverts leave and arrive exactly every interval: no jitter, delay or pauses."""
    fields = dict(interval_s=1.0, jitter_s=0.0, max_delay_s=0.0, pauses_per_hour=0.0,
                  horizon_s=HOUR)
    fields.update(changes)
    return pair_config(**fields)


# --------------------------------------------------------------------------- RFC 5798 timers


def test_master_down_interval_is_rfc_5798_arithmetic():
    # The RFC's defaults: interval 1 s (100 cs), backup priority 100.
    assert skew_time_s(1.0, 100) == 156 / 256 == 0.609375
    assert master_down_interval_s(1.0, 100) == 3.609375
    assert master_down_interval_s(1.0) == 3.609375 and DEFAULT_PRIORITY == 100
    # VRRPv3 scales the skew with the interval (VRRPv2 did not).
    assert master_down_interval_s(0.5, 100) == pytest.approx(1.8046875)
    assert master_down_interval_s(2.0, 200) == pytest.approx(6.0 + 56 * 2.0 / 256)
    # The best backup waits least: priority 254 vs 1.
    assert master_down_interval_s(1.0, 254) == pytest.approx(3 + 2 / 256)
    assert master_down_interval_s(1.0, 1) == pytest.approx(3 + 255 / 256)
    assert master_down_interval_s(1.0, 100, missed=5) == pytest.approx(5.609375)


def test_defaults_follow_the_rfc():
    r = simulate_failover(seed=0)
    assert (r.interval_s, r.priority, r.missed) == (1.0, 100, 3.0)
    assert r.timeout_s == 3.609375 and r.skew_s == 0.609375
    assert r.crashed_at == DAY / 2


# --------------------------------------------------------------------------- a crash


@pytest.mark.parametrize(("crash", "last"), [(100.4, 100.0), (100.0, 99.0), (100.999, 100.0),
                                             (2500.25, 2500.0)])
def test_detection_is_last_advert_plus_master_down_interval(crash, last):
    r = simulate_failover(quiet(), takeover_s=0.3, crashed_at=crash, seed=1)
    t = 3.609375
    assert r.declared_down_at == pytest.approx(last + t, abs=1e-9)
    assert r.detection_s == pytest.approx(last + t - crash, abs=1e-9)
    assert t - 1.0 - 1e-9 <= r.detection_s <= t + 1e-9
    assert r.back_at == pytest.approx(r.declared_down_at + 0.3)
    assert r.downtime_s == pytest.approx(r.detection_s + 0.3)
    assert r.false_failovers == 0 and r.adverts_at.max() < crash


@pytest.mark.parametrize(("takeover", "downtime"), [(0.3, 0.1), (0.1, 0.0)])
def test_a_passive_that_already_took_over_is_back_sooner(takeover, downtime):
    """Timeout 0.5 s < interval 1 s: the passive declares the active down half-way through
    every interval. A crash at 100.7 finds it declared at 100.5: the VIP answers again at
    100.5 + takeover, or at once if that is already past."""
    r = simulate_failover(quiet(), timeout_s=0.5, takeover_s=takeover, crashed_at=100.7,
                          seed=0)
    assert r.declared_down_at == pytest.approx(100.5) and r.detection_s == 0.0
    assert r.downtime_s == pytest.approx(downtime)
    assert r.back_at == pytest.approx(100.7 + downtime)
    assert r.false_failovers == 101  # after each advert at 0, 1, ..., 100 s: alive then
    assert r.split_brain_s.size == 100  # the last one never hears the active again


def test_false_failover_cost_never_exceeds_a_day_of_traffic():
    """Timeout below the interval: a false failover every second, each costing two 1 s
    takeovers — more downtime than the day holds, so the cost stops at every request."""
    t = failover_tradeoff(quiet(rate_rps=10.0, horizon_s=DAY), missed=[0.25, 3.0],
                          takeover_s=1.0, seed=0)
    assert t.false_failovers_per_day[0] == pytest.approx(86_400)
    assert t.false_failover_requests_per_day[0] == pytest.approx(10.0 * DAY)
    assert t.false_failover_requests_per_day[1] == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_delay_and_jitter_widen_detection_by_at_most_themselves(seed):
    """A network delay δ makes the last advert arrive up to δ later; a timer that fires up
    to j late makes the last advert before the crash up to I + j old. So detection lies in
    [T − I − j, T + δ]."""
    cfg = quiet(max_delay_s=0.25, jitter_s=0.1)
    for crash in (333.03, 1000.91, 2222.05):
        r = simulate_failover(cfg, crashed_at=crash, seed=seed)
        assert r.timeout_s - 1.1 - 1e-9 <= r.detection_s <= r.timeout_s + 0.25 + 1e-9


def test_random_crashes_wait_timeout_minus_half_an_interval():
    """Crash phase uniform over the interval: mean detection T − I/2, at most T."""
    r = simulate_failover(quiet(interval_s=2.0), priority=128, crashes=4000, takeover_s=1.0,
                          seed=3)
    t = 3 * 2.0 + 128 * 2.0 / 256
    se = 2.0 / math.sqrt(12 * 4000)
    assert abs(r.mean_detection_s - (t - 1.0)) <= Z * se
    assert r.max_downtime_s <= t + 1.0 + 1e-9
    assert r.mean_downtime_s == pytest.approx(r.mean_detection_s + 1.0)
    assert r.mean_requests_failed == pytest.approx(r.rate_rps * r.mean_downtime_s)


def test_failed_requests_are_poisson_with_mean_rate_times_downtime():
    cfg = quiet(rate_rps=400.0)

    def failed(seed: int) -> float:
        r = simulate_failover(cfg, crashed_at=1234.5, takeover_s=0.5, seed=seed)
        assert r.requests_failed == r.failed_requests_at.size
        assert np.all(r.failed_requests_at >= r.crashed_at)
        assert np.all(r.failed_requests_at < r.back_at)
        assert np.all(np.diff(r.failed_requests_at) >= 0)
        return r.requests_failed

    one = simulate_failover(cfg, crashed_at=1234.5, takeover_s=0.5, seed=0)
    expected = 400.0 * one.downtime_s
    assert one.expected_requests_failed == pytest.approx(expected)
    counts = [failed(int(s)) for s in np.random.SeedSequence(4).generate_state(200)]
    mean, se = sim.estimate(counts)
    assert abs(mean - expected) <= Z * se
    # Poisson: variance = mean (the sample variance's SE is ≈ mean·√(2/199)).
    assert abs(np.var(counts, ddof=1) / expected - 1.0) <= Z * math.sqrt(2 / 199)


def test_request_rate_does_not_change_the_adverts():
    """Requests and adverts draw from separate streams of one seed."""
    a = simulate_failover(pair_config(rate_rps=10.0), seed=7)
    b = simulate_failover(pair_config(rate_rps=5000.0), seed=7)
    np.testing.assert_array_equal(a.adverts_at, b.adverts_at)
    assert a.declared_down_at == b.declared_down_at
    assert b.requests_failed > 100 * a.requests_failed


def test_higher_priority_backup_takes_over_sooner():
    low, high = (simulate_failover(quiet(), priority=p, crashed_at=500.5, seed=0)
                 for p in (1, 254))
    assert high.timeout_s < low.timeout_s
    assert low.detection_s - high.detection_s == pytest.approx((254 - 1) / 256)


# --------------------------------------------------------------------------- false failovers


def test_each_pause_longer_than_the_timeout_is_one_false_failover():
    """Fixed 6 s pauses, 4 an hour, timeout 3.61 s: each pause is one false failover.
    The passive hears the active again U + P − T after declaring it down, U ~ U(0, I):
    mean I/2 + P − T. Merged pauses (chance <= rate × (P + I + T) each) bias the count
    down."""
    rate, pause = 4.0, 6.0
    cfg = pair_config(jitter_s=0.0, max_delay_s=0.0, pauses_per_hour=rate, pause_s=pause,
                      pause_distribution="fixed", rate_rps=200.0)

    def per_day(seed: int) -> float:
        r = simulate_failover(cfg, takeover_s=0.4, crashed_at=DAY, crashes=10, seed=seed)
        assert r.false_failover_downtime_s == pytest.approx(0.8)
        assert r.false_failover_requests_per_day == pytest.approx(
            r.false_failovers_per_day * 200.0 * 0.8)
        assert r.split_brain_s.size == r.false_failovers == r.false_failovers_at.size
        return r.false_failovers_per_day

    mean, se = sim.replicate(per_day, 20, seed=2)
    assert abs(mean - 24 * rate) <= Z * se + 24 * rate * rate / HOUR * (pause + 1.0 + 3.61)
    r = simulate_failover(cfg, crashed_at=DAY, seed=5)
    t = r.timeout_s
    assert np.all(r.split_brain_s > pause - t - 1e-9)
    single = r.split_brain_s[r.split_brain_s <= pause + 1.0 - t + 1e-9]  # not merged pauses
    assert single.size >= 0.9 * r.split_brain_s.size
    se = 1.0 / math.sqrt(12 * single.size)
    assert abs(single.mean() - (0.5 + pause - t)) <= Z * se
    assert r.mean_split_brain_s >= single.mean()


def test_no_pauses_no_false_failovers():
    r = simulate_failover(pair_config(pauses_per_hour=0.0), seed=3)
    assert r.false_failovers == 0 and r.false_failovers_per_day == 0.0
    assert math.isnan(r.mean_split_brain_s) and r.false_failover_requests_per_day == 0.0


def test_shorter_timeouts_never_have_fewer_false_failovers():
    """Common random numbers: every timeout judged on the same adverts, so false failovers
    never rise and downtime never falls as the timeout grows."""
    cfg = pair_config(pauses_per_hour=30.0, pause_s=2.0)
    t = failover_tradeoff(cfg, missed=np.arange(1, 33) / 4.0, takeover_s=0.5, seed=4)
    assert isinstance(t, FailoverTradeoff)
    assert np.all(np.diff(t.false_failovers_per_day) <= 0)
    assert t.false_failovers_per_day[0] > 10 * max(t.false_failovers_per_day[-1], 0.1)
    assert np.all(np.diff(t.mean_downtime_s) > 0)
    assert np.all(np.diff(t.max_downtime_s) >= 0)
    np.testing.assert_allclose(t.timeouts_s, t.missed * 1.0 + 0.609375)
    np.testing.assert_allclose(t.mean_downtime_s, t.mean_detection_s + 0.5)
    np.testing.assert_allclose(t.requests_failed_per_crash, 1000.0 * t.mean_downtime_s)
    np.testing.assert_allclose(t.false_failover_requests_per_day,
                               t.false_failovers_per_day * 1000.0 * 2 * 0.5)
    assert t.rfc_timeout_s == 3.609375


def test_tradeoff_and_single_run_see_the_same_adverts():
    cfg = pair_config(pauses_per_hour=20.0, pause_s=2.0, horizon_s=12 * HOUR)
    t = failover_tradeoff(cfg, missed=[2.0, 3.0, 4.0], crashes=500, seed=9)
    one = simulate_failover(cfg, missed=3.0, crashed_at=cfg.horizon_s, crashes=500, seed=9)
    assert one.false_failovers_per_day == t.false_failovers_per_day[1]
    assert one.mean_downtime_s == pytest.approx(t.mean_downtime_s[1], rel=1e-9)
    # ... and both are the heartbeat model with the passive as monitor.
    hb = heartbeats.simulate_heartbeats(cfg, timeout_s=one.timeout_s, crashes=500, seed=9)
    assert one.false_failovers_per_day == pytest.approx(24 * hb.false_suspicions_per_hour)


def test_interval_and_rate_replace_the_configs():
    cfg = pair_config(interval_s=1.0, rate_rps=100.0, horizon_s=HOUR)
    r = simulate_failover(cfg, interval_s=0.5, rate_rps=50.0, crashed_at=1000.2, seed=1)
    assert r.interval_s == 0.5 and r.rate_rps == 50.0
    assert r.timeout_s == pytest.approx(master_down_interval_s(0.5, 100))
    t = simulate_failover(cfg, timeout_s=2.0, crashed_at=1000.2, seed=1)
    assert t.timeout_s == 2.0 and t.missed == pytest.approx((2.0 - 0.609375) / 1.0)


# --------------------------------------------------------------------------- results


def test_same_seed_same_result():
    a, b, c = (simulate_failover(seed=s) for s in (3, 3, 4))
    assert repr(a) == repr(b)
    np.testing.assert_array_equal(a.failed_requests_at, b.failed_requests_at)
    assert not np.array_equal(a.adverts_at, c.adverts_at)


def test_results_are_readable_frozen_values():
    r = simulate_failover(seed=0)
    assert isinstance(r, FailoverResult)
    with pytest.raises(AttributeError):
        r.timeout_s = 1.0
    text = repr(r)
    assert text.startswith("FailoverResult(") and "downtime_s=" in text
    assert "adverts_at" not in text
    assert r._repr_html_().startswith("<table>")
    t = failover_tradeoff(seed=0)
    assert "timeouts" in repr(t) and "false_failovers_per_day" in t._repr_html_()
    with pytest.raises(ValueError):
        t.timeouts_s[0] = 0.0


# --------------------------------------------------------------------------- bad input


def _raises(exc, name, fn, *args, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert name in str(info.value), f"message {info.value!s} should name {name}"


SMALL = pair_config(horizon_s=HOUR)


@pytest.mark.parametrize(("exc", "name", "kwargs"), [
    (ValueError, "priority", {"priority": 0}),
    (ValueError, "priority", {"priority": 255}),  # the address owner's
    (TypeError, "priority", {"priority": 100.5}),
    (TypeError, "priority", {"priority": True}),
    (ValueError, "missed", {"missed": 0.0}),
    (ValueError, "missed", {"missed": math.nan}),
    (ValueError, "timeout_s", {"timeout_s": 0.0}),
    (ValueError, "not both", {"timeout_s": 3.0, "missed": 3.0}),
    (ValueError, "takeover_s", {"takeover_s": -0.1}),
    (ValueError, "rate_rps", {"rate_rps": -1.0}),
    (ValueError, "interval_s", {"interval_s": 0.0}),
    (ValueError, "crashed_at", {"crashed_at": 0.0}),
    (ValueError, "crashed_at", {"crashed_at": 2 * HOUR}),
    (ValueError, "crashes", {"crashes": 0}),
    (ValueError, "seed", {"seed": -1}),
])
def test_simulate_rejects_bad_input(exc, name, kwargs):
    _raises(exc, name, simulate_failover, SMALL, **kwargs)


def test_config_must_be_a_heartbeat_config():
    _raises(TypeError, "config", simulate_failover, {"interval_s": 1.0})
    _raises(TypeError, "config", failover_tradeoff, "default")
    _raises(TypeError, "servers", pair_config, servers=3)
    _raises(ValueError, "jitter_s", simulate_failover, pair_config(jitter_s=0.5),
            interval_s=0.2)  # the new interval no longer covers the jitter


@pytest.mark.parametrize(("exc", "name", "kwargs"), [
    (ValueError, "missed", {"missed": []}),
    (ValueError, "missed", {"missed": [1.0, 0.0]}),
    (TypeError, "missed", {"missed": "3"}),
    (ValueError, "priority", {"priority": 300}),
    (ValueError, "takeover_s", {"takeover_s": math.inf}),
    (ValueError, "crashes", {"crashes": -5}),
])
def test_tradeoff_rejects_bad_input(exc, name, kwargs):
    _raises(exc, name, failover_tradeoff, SMALL, **kwargs)


@pytest.mark.parametrize(("exc", "name", "fn", "args"), [
    (ValueError, "interval_s", skew_time_s, (0.0, 100)),
    (ValueError, "priority", skew_time_s, (1.0, 0)),
    (ValueError, "missed", master_down_interval_s, (1.0, 100, -3)),
    (TypeError, "interval_s", master_down_interval_s, ("1", 100)),
])
def test_timer_helpers_reject_bad_input(exc, name, fn, args):
    _raises(exc, name, fn, *args)
