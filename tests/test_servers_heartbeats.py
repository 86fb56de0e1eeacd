"""Tests for scalekit.servers.heartbeats: heartbeats, a timeout, and what it costs.

Sources the checks are held to:

* the fixed-timeout detector with beats every I seconds and timeout T declares a crash at
  the last beat + T, so for a crash at a uniformly random phase the detection time is
  uniform on [T − I, T) with mean T − I/2 and variance I²/12 (elementary; the same sum gives
  HAProxy's "fall × inter" rule of thumb, e.g. inter 2 s, fall 3);
* Poisson pause onsets are uniform over the beat cycle (PASTA — Wolff 1982, "Poisson
  arrivals see time averages"), which gives the false-suspicion rate in closed form;
* phi accrual: φ = −log10(1 − F(t)), F normal (Hayashibara et al. 2004; Akka's defaults:
  heartbeat 1 s, acceptable pause 3 s, threshold 8, min std 100 ms, 1000 samples);
* expected Poisson arrivals in a window of length d at rate λ: λ·d.

Statistical checks use a tolerance of 4 standard errors over seeded replications
(sim.estimate / sim.replicate), plus any bias the closed form leaves out, bounded explicitly;
with 30, 40 or 400 replications a correct model fails one such check with Student's t's
chance beyond ±4: about 1 in 2,500, 1 in 3,700 or 1 in 13,000 (tests/_stats.py).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit import sim
from scalekit.servers.heartbeats import (
    HeartbeatConfig,
    HeartbeatResult,
    TimeoutChoice,
    TimeoutTradeoff,
    choose_timeout,
    phi_timeout_s,
    simulate_heartbeats,
    timeout_for,
    timeout_tradeoff,
)

HOUR = 3600.0
# No jitter, no network delay, no pauses: beats leave and arrive exactly at i × interval.
QUIET = HeartbeatConfig(jitter_s=0.0, max_delay_s=0.0, pauses_per_hour=0.0, horizon_s=HOUR)


def quiet(**changes) -> HeartbeatConfig:
    fields = dict(interval_s=1.0, jitter_s=0.0, max_delay_s=0.0, pauses_per_hour=0.0,
                  horizon_s=HOUR)
    fields.update(changes)
    return HeartbeatConfig(**fields)


def within(mean: float, se: float, expected: float, bias: float = 0.0) -> bool:
    return abs(mean - expected) <= 4 * se + bias


# --------------------------------------------------------------------------- timeouts


def test_timeout_for_is_missed_beats_times_interval():
    # HAProxy `inter 2s fall 3`: three failed checks 2 s apart.
    assert timeout_for(3, 2.0) == 6.0
    assert timeout_for(2.5, 0.4) == pytest.approx(1.0)


def test_phi_timeout_solves_the_phi_equation():
    # Hayashibara et al. 2004: φ(t) = −log10(1 − F(t)); threshold 8 with N(1 s, 0.1 s).
    t = phi_timeout_s(1.0, 0.1, 8.0)
    tail = 0.5 * math.erfc((t - 1.0) / 0.1 / math.sqrt(2.0))
    assert -math.log10(tail) == pytest.approx(8.0, abs=1e-9)
    assert t == pytest.approx(1.0 + 0.1 * 5.612, abs=1e-3)
    assert phi_timeout_s(1.0, 0.1, 12.0) > t  # a higher threshold waits longer


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("interval", "timeout", "crash", "declared"),
    [
        (1.0, 3.0, 10.4, 13.0),  # last beat at 10, dead at 10 + 3
        (1.0, 3.0, 10.0, 12.0),  # the beat due at the crash instant never leaves
        (1.0, 3.0, 10.999, 13.0),
        (2.0, 6.0, 7.0, 12.0),  # HAProxy-like: inter 2 s, fall 3 -> timeout 6 s
    ],
)
def test_detection_time_is_exact_without_noise(interval, timeout, crash, declared):
    cfg = quiet(interval_s=interval, request_rate_rps=50.0)
    r = simulate_heartbeats(cfg, timeout_s=timeout, crashed_at=crash, seed=3)
    assert r.declared_dead_at == pytest.approx(declared, abs=1e-12)
    assert r.detection_s == pytest.approx(declared - crash, abs=1e-12)
    assert timeout - interval <= r.detection_s + 1e-12 and r.detection_s < timeout + 1e-12
    assert r.requests_to_dead == pytest.approx(50.0 * (declared - crash), abs=1e-9)
    assert r.false_suspicions == 0
    assert r.arrivals_at.max() < crash  # nothing heard from beats after the crash


def test_detection_time_of_random_crashes_is_uniform_on_timeout_minus_interval():
    # Uniform phase: detection ~ U[T − I, T), mean T − I/2, standard deviation I/√12.
    interval, timeout = 2.0, 5.0
    r = simulate_heartbeats(quiet(interval_s=interval), timeout_s=timeout, crashes=4000,
                            seed=11)
    d = r.detections_s
    assert d.min() >= timeout - interval - 1e-9 and d.max() < timeout
    mean, se = sim.estimate(d)
    assert within(mean, se, timeout - interval / 2)
    assert d.std() == pytest.approx(interval / math.sqrt(12), rel=0.05)

    def one_run(seed: int) -> float:
        return simulate_heartbeats(quiet(interval_s=interval), timeout_s=timeout,
                                   crashes=100, seed=seed).mean_detection_s

    mean, se = sim.replicate(one_run, 40, seed=5)
    assert within(mean, se, timeout - interval / 2)


def test_requests_to_dead_server_match_poisson_arrivals():
    # Expected Poisson arrivals in the detection window: rate × detection time.
    cfg = quiet(request_rate_rps=40.0)
    r = simulate_heartbeats(cfg, timeout_s=3.0, crashed_at=123.25, seed=1)
    assert r.requests_to_dead == 40.0 * r.detection_s
    assert r.mean_requests_to_dead == pytest.approx(40.0 * r.mean_detection_s)

    def arrivals(seed: int) -> float:
        return sim.poisson_arrivals(40.0, horizon_s=r.detection_s, seed=seed).size

    mean, se = sim.replicate(arrivals, 400, seed=2)
    assert within(mean, se, r.requests_to_dead)


# --------------------------------------------------------------------------- false suspicions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_false_suspicions_when_timeout_covers_interval_jitter_and_delay(seed):
    # Successive arrivals are at most interval + jitter + max delay apart.
    cfg = HeartbeatConfig(jitter_s=0.2, max_delay_s=0.3, pauses_per_hour=0.0,
                          horizon_s=6 * HOUR)
    assert simulate_heartbeats(cfg, timeout_s=1.5, seed=seed).false_suspicions == 0
    # ... and a timeout just above the interval is not enough: jitter and delay bite.
    assert simulate_heartbeats(cfg, timeout_s=1.1, seed=seed).false_suspicions > 0


def test_timeout_below_interval_suspects_after_every_beat():
    r = simulate_heartbeats(QUIET, timeout_s=0.5, seed=0)
    assert r.false_suspicions == 3600  # one per beat: the horizon holds 3600 beats
    assert r.false_suspicions_per_hour == pytest.approx(3600.0)
    assert np.allclose(np.diff(r.false_suspicions_at), 1.0)


def test_false_suspicions_are_counted_only_while_alive():
    r = simulate_heartbeats(QUIET, timeout_s=0.5, crashed_at=100.5, seed=0)
    assert r.false_suspicions == 100  # beats 0..99; the one from beat 100 is the detection
    assert r.alive_s == 100.5
    assert r.false_suspicions_per_hour == pytest.approx(100 / (100.5 / HOUR))
    assert r.detection_s == 0.0 and r.declared_dead_at == 100.5


def test_fixed_pauses_longer_than_timeout_each_cause_one_false_suspicion():
    # Every pause longer than timeout + max delay silences the server past the timeout.
    # Bias: a pause starting within (pause + interval + jitter + delay) of the previous one
    # merges with it; the chance is at most rate × 6.06 s per pause.
    rate, pause = 4.0, 5.0
    cfg = HeartbeatConfig(pauses_per_hour=rate, pause_s=pause, pause_distribution="fixed")

    def per_hour(seed: int) -> float:
        return simulate_heartbeats(cfg, timeout_s=3.0, crashes=10,
                                   seed=seed).false_suspicions_per_hour

    mean, se = sim.replicate(per_hour, 30, seed=7)
    assert within(mean, se, rate, bias=rate * rate / HOUR * 6.06)


def test_exponential_pauses_match_closed_form():
    # No jitter or delay, timeout T >= interval I, pause ~ Exp(mean m) starting a uniform
    # U ~ U(0, I) after the last beat (PASTA): the silence is U + pause, so
    # P(suspicion) = E[exp(−(T − U)/m)] = (m/I)(exp(−(T − I)/m) − exp(−T/m)).
    rate, m, interval, timeout = 6.0, 1.0, 1.0, 2.0
    cfg = quiet(pauses_per_hour=rate, pause_s=m, horizon_s=24 * HOUR)
    p = (m / interval) * (math.exp(-(timeout - interval) / m) - math.exp(-timeout / m))

    def per_hour(seed: int) -> float:
        return simulate_heartbeats(cfg, timeout_s=timeout, crashes=10,
                                   seed=seed).false_suspicions_per_hour

    mean, se = sim.replicate(per_hour, 30, seed=3)
    # Merged pauses (chance <= rate/h × (E[pause] + T + I) each) bias the count down.
    assert within(mean, se, rate * p, bias=rate * rate / HOUR * (m + timeout + interval))


def test_tradeoff_is_monotone_and_agrees_with_single_runs():
    cfg = HeartbeatConfig(pauses_per_hour=20.0, horizon_s=12 * HOUR)
    timeouts = np.arange(1, 25) * 0.5
    sweep = timeout_tradeoff(cfg, timeouts_s=timeouts, crashes=500, seed=4)
    assert isinstance(sweep, TimeoutTradeoff)
    assert np.all(np.diff(sweep.false_suspicions_per_hour) <= 0)
    assert np.all(np.diff(sweep.mean_detection_s) > 0)
    assert np.all(np.diff(sweep.max_detection_s) >= 0)
    assert sweep.false_suspicions_per_hour[0] > sweep.false_suspicions_per_hour[-1]
    assert np.array_equal(sweep.missed_beats, timeouts / cfg.interval_s)
    # The sweep and a single run on the same seed measure the same beats.
    one = simulate_heartbeats(cfg, timeout_s=timeouts[5], crashes=500, seed=4)
    assert one.false_suspicions_per_hour == sweep.false_suspicions_per_hour[5]
    assert one.mean_detection_s == pytest.approx(sweep.mean_detection_s[5], rel=1e-9)
    assert one.max_detection_s == pytest.approx(sweep.max_detection_s[5], rel=1e-9)
    assert "<table>" in sweep._repr_html_() and "24 timeouts" in repr(sweep)
    assert timeouts.flags.writeable  # the caller's array is left alone


# --------------------------------------------------------------------------- choosing


def test_choose_timeout_finds_the_smallest_that_meets_both_targets():
    cfg = HeartbeatConfig(pauses_per_hour=20.0, horizon_s=12 * HOUR)
    grid = np.arange(1, 41) * 0.25
    choice = choose_timeout(5.0, 0.5, cfg, timeouts_s=grid, crashes=500, seed=9)
    assert isinstance(choice, TimeoutChoice) and choice.found
    sweep = timeout_tradeoff(cfg, timeouts_s=grid, crashes=500, seed=9)
    j = int(np.flatnonzero(grid == choice.timeout_s)[0])
    assert sweep.false_suspicions_per_hour[j] <= 0.5 and sweep.mean_detection_s[j] <= 5.0
    assert sweep.false_suspicions_per_hour[j - 1] > 0.5  # one step shorter is too jumpy
    assert choice.false_suspicions_per_hour == sweep.false_suspicions_per_hour[j]
    # Judged by the worst crash instead of the mean, the same timeout is too slow for 4.4 s.
    by_mean = choose_timeout(4.4, 0.5, cfg, timeouts_s=grid, crashes=500, seed=9)
    by_max = choose_timeout(4.4, 0.5, cfg, statistic="max", timeouts_s=grid, crashes=500,
                            seed=9)
    assert by_mean.timeout_s == choice.timeout_s and choice.max_detection_s > 4.4
    assert not by_max.found and "max detection" in by_max.reason


def test_choose_timeout_says_when_no_timeout_meets_both():
    cfg = HeartbeatConfig(pauses_per_hour=20.0, pause_s=2.0, horizon_s=12 * HOUR)
    choice = choose_timeout(1.0, 0.01, cfg, seed=9)
    assert choice.timeout_s is None and not choice.found
    assert math.isnan(choice.mean_detection_s)
    assert "false suspicions" in choice.reason and "detection" in choice.reason
    assert "None" in repr(choice) and "reason" in choice._repr_html_()


# --------------------------------------------------------------------------- cluster, phi


def test_messages_per_second_is_servers_over_interval():
    cfg = HeartbeatConfig(servers=50, interval_s=0.5, horizon_s=HOUR)
    assert cfg.messages_per_s == 100.0
    r = simulate_heartbeats(cfg, seed=0)
    assert r.messages_per_s == 100.0
    assert r.cluster_false_suspicions_per_hour == 50 * r.false_suspicions_per_hour


def test_phi_detector_exact_without_noise():
    # After 1000 gaps of exactly 1 s: mean 1 s, std floored at 0.1 s, acceptable pause 3 s;
    # the server is suspected 1 + 3 + 0.1 × z(φ=8) s after its last beat (Akka defaults).
    r = simulate_heartbeats(QUIET, detector="phi", timeout_s=3.0, crashed_at=3000.5, seed=0)
    expected = 3000.0 + 3.0 + phi_timeout_s(1.0, 0.1, 8.0)
    assert r.declared_dead_at == pytest.approx(expected, abs=1e-9)
    assert r.false_suspicions == 0


def test_phi_higher_threshold_fewer_suspicions_slower_detection():
    cfg = HeartbeatConfig(pauses_per_hour=30.0, pause_s=2.0, horizon_s=6 * HOUR)
    low, high = (simulate_heartbeats(cfg, detector="phi", timeout_s=0.5, phi_threshold=phi,
                                     seed=2) for phi in (1.0, 12.0))
    assert low.false_suspicions > high.false_suspicions
    assert low.mean_detection_s < high.mean_detection_s


# --------------------------------------------------------------------------- results


def test_same_seed_same_result_different_seed_different():
    a, b, c = (simulate_heartbeats(crashed_at=5000.0, seed=s) for s in (42, 42, 43))
    assert repr(a) == repr(b)
    for name in ("arrivals_at", "false_suspicions_at", "detections_s"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.arrivals_at, c.arrivals_at)
    assert not np.array_equal(a.detections_s, c.detections_s)
    s1, s2 = (timeout_tradeoff(seed=8) for _ in range(2))
    assert np.array_equal(s1.false_suspicions_per_hour, s2.false_suspicions_per_hour)
    assert choose_timeout(4.0, 1.0, seed=8) == choose_timeout(4.0, 1.0, seed=8)


def test_result_is_a_readable_frozen_value():
    r = simulate_heartbeats(crashed_at=100.0, seed=0)
    assert isinstance(r, HeartbeatResult)
    with pytest.raises(AttributeError):
        r.timeout_s = 1.0
    text = repr(r)
    assert text.startswith("HeartbeatResult(") and "detection_s=" in text
    assert "arrivals_at" not in text  # arrays stay out of the repr
    html = r._repr_html_()
    assert "false_suspicions_per_hour" in html and html.startswith("<table>")
    no_crash = simulate_heartbeats(seed=0)
    assert math.isnan(no_crash.crashed_at) and math.isnan(no_crash.detection_s)


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(
    interval=st.floats(0.05, 5.0),
    jitter_frac=st.floats(0.0, 0.95),
    delay=st.floats(0.0, 2.0),
    pauses=st.floats(0.0, 500.0),
    pause=st.floats(0.01, 30.0),
    timeout_frac=st.floats(0.1, 10.0),
    crash_frac=st.floats(0.001, 1.0),
    seed=st.integers(0, 2**32),
)
def test_detection_is_bounded_and_counts_are_sane(
    interval, jitter_frac, delay, pauses, pause, timeout_frac, crash_frac, seed
):
    cfg = HeartbeatConfig(interval_s=interval, jitter_s=jitter_frac * interval,
                          max_delay_s=delay, pauses_per_hour=pauses, pause_s=pause,
                          horizon_s=300 * interval)
    timeout = timeout_frac * interval
    crash = crash_frac * cfg.horizon_s
    r = simulate_heartbeats(cfg, timeout_s=timeout, crashed_at=crash, crashes=50, seed=seed)
    eps = 1e-9 * (1 + cfg.horizon_s)
    # Detection: the last beat sent before the crash arrives at most max_delay later.
    assert -eps <= r.detection_s <= timeout + delay + eps
    assert np.all(r.detections_s >= 0) and np.all(r.detections_s <= timeout + delay + eps)
    assert r.false_suspicions >= 0 and r.false_suspicions_per_hour >= 0
    assert np.all(r.false_suspicions_at < crash) and np.all(np.diff(r.false_suspicions_at) >= 0)
    assert r.arrivals_at[0] == 0.0 and np.all(np.diff(r.arrivals_at) >= 0)


@settings(max_examples=60, deadline=None)
@given(
    interval=st.floats(0.1, 10.0),
    missed=st.integers(1, 8),
    crash_frac=st.floats(0.01, 0.99),
)
def test_quiet_detection_is_last_beat_plus_timeout(interval, missed, crash_frac):
    cfg = quiet(interval_s=interval, horizon_s=200 * interval)
    timeout = timeout_for(missed, interval)
    crash = crash_frac * cfg.horizon_s
    r = simulate_heartbeats(cfg, timeout_s=timeout, crashed_at=crash, crashes=10, seed=0)
    last = r.arrivals_at.max()
    assert 0 < crash - last <= interval * (1 + 1e-9)
    assert r.declared_dead_at == pytest.approx(last + timeout)
    assert r.false_suspicions == 0


# --------------------------------------------------------------------------- bad input


def _raises(exc, name, fn, *args, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert name in str(info.value), f"message {info.value!s} should name {name}"


@pytest.mark.parametrize(
    ("exc", "name", "kwargs"),
    [
        (ValueError, "interval_s", {"interval_s": 0.0}),
        (ValueError, "interval_s", {"interval_s": -1.0}),
        (ValueError, "interval_s", {"interval_s": math.nan}),
        (TypeError, "interval_s", {"interval_s": "1"}),
        (ValueError, "jitter_s", {"jitter_s": -0.1}),
        (ValueError, "jitter_s", {"jitter_s": 1.0}),  # must be < interval_s
        (ValueError, "max_delay_s", {"max_delay_s": -0.01}),
        (ValueError, "max_delay_s", {"max_delay_s": math.inf}),
        (ValueError, "pauses_per_hour", {"pauses_per_hour": -1.0}),
        (ValueError, "pauses_per_hour", {"pauses_per_hour": 1e9}),  # absurd size
        (ValueError, "pause_s", {"pause_s": 0.0}),
        (ValueError, "pause_distribution", {"pause_distribution": "gamma"}),
        (TypeError, "pause_distribution", {"pause_distribution": 3}),
        (ValueError, "servers", {"servers": 0}),
        (TypeError, "servers", {"servers": 2.5}),
        (TypeError, "servers", {"servers": True}),
        (ValueError, "request_rate_rps", {"request_rate_rps": -5.0}),
        (ValueError, "horizon_s", {"horizon_s": 0.5}),  # not longer than one interval
        (ValueError, "horizon_s", {"horizon_s": 1e9}),  # absurd size: refused, not run
    ],
)
def test_config_rejects_bad_input(exc, name, kwargs):
    _raises(exc, name, HeartbeatConfig, **kwargs)


@pytest.mark.parametrize(
    ("exc", "name", "kwargs"),
    [
        (ValueError, "timeout_s", {"timeout_s": 0.0}),
        (ValueError, "timeout_s", {"timeout_s": -3.0}),
        (ValueError, "timeout_s", {"timeout_s": math.nan}),
        (TypeError, "timeout_s", {"timeout_s": "3"}),
        (ValueError, "crashed_at", {"crashed_at": 0.0}),
        (ValueError, "crashed_at", {"crashed_at": -1.0}),
        (ValueError, "crashed_at", {"crashed_at": 86_401.0}),  # beyond the horizon
        (ValueError, "crashed_at", {"crashed_at": math.nan}),
        (ValueError, "crashes", {"crashes": 0}),
        (ValueError, "crashes", {"crashes": 10**9}),
        (TypeError, "crashes", {"crashes": 1.5}),
        (ValueError, "detector", {"detector": "gossip"}),
        (ValueError, "phi_threshold", {"phi_threshold": 0.0}),
        (ValueError, "seed", {"seed": -1}),
        (TypeError, "seed", {"seed": 1.5}),
        (TypeError, "config", {"config": {"interval_s": 1.0}}),
    ],
)
def test_simulate_rejects_bad_input(exc, name, kwargs):
    _raises(exc, name, simulate_heartbeats, **kwargs)


@pytest.mark.parametrize(
    ("exc", "name", "kwargs"),
    [
        (ValueError, "timeouts_s", {"timeouts_s": []}),
        (ValueError, "timeouts_s", {"timeouts_s": [0.0, 1.0]}),
        (ValueError, "timeouts_s", {"timeouts_s": [1.0, math.nan]}),
        (ValueError, "timeouts_s", {"timeouts_s": [[1.0, 2.0]]}),
        (ValueError, "timeouts_s", {"timeouts_s": np.ones(20_000)}),
        (TypeError, "timeouts_s", {"timeouts_s": "3"}),
        (ValueError, "crashes", {"crashes": 0}),
        (ValueError, "seed", {"seed": -2}),
        (TypeError, "config", {"config": "default"}),
    ],
)
def test_tradeoff_rejects_bad_input(exc, name, kwargs):
    _raises(exc, name, timeout_tradeoff, **kwargs)


@pytest.mark.parametrize(
    ("exc", "name", "args", "kwargs"),
    [
        (ValueError, "max_detection_s", (0.0, 1.0), {}),
        (ValueError, "max_detection_s", (math.nan, 1.0), {}),
        (TypeError, "max_detection_s", (None, 1.0), {}),
        (ValueError, "max_false_suspicions_per_hour", (5.0, -1.0), {}),
        (TypeError, "max_false_suspicions_per_hour", (5.0, "1"), {}),
        (ValueError, "statistic", (5.0, 1.0), {"statistic": "median"}),
        (ValueError, "timeouts_s", (5.0, 1.0), {"timeouts_s": [-1.0]}),
        (ValueError, "crashes", (5.0, 1.0), {"crashes": -1}),
        (TypeError, "config", (5.0, 1.0), {"config": 3}),
    ],
)
def test_choose_timeout_rejects_bad_input(exc, name, args, kwargs):
    _raises(exc, name, choose_timeout, *args, **kwargs)


@pytest.mark.parametrize(
    ("exc", "name", "fn", "args"),
    [
        (ValueError, "missed_beats", timeout_for, (0, 1.0)),
        (TypeError, "missed_beats", timeout_for, ("3", 1.0)),
        (ValueError, "interval_s", timeout_for, (3, -1.0)),
        (ValueError, "mean_s", phi_timeout_s, (0.0, 0.1)),
        (ValueError, "std_s", phi_timeout_s, (1.0, 0.0)),
        (ValueError, "threshold", phi_timeout_s, (1.0, 0.1, 0.0)),
        (ValueError, "threshold", phi_timeout_s, (1.0, 0.1, math.nan)),
    ],
)
def test_helpers_reject_bad_input(exc, name, fn, args):
    _raises(exc, name, fn, *args)


def test_z_of_phi_eight_matches_the_normal_quantile():
    # The 1 − 1e-8 quantile of the standard normal, as Akka's threshold 8 implies.
    assert phi_timeout_s(0.0 + 1.0, 1.0) - 1.0 == pytest.approx(
        NormalDist().inv_cdf(1 - 1e-8), rel=1e-6)
