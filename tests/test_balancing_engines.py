"""The balancing model held to real HAProxy: the same policies, the same backends of
unequal speed, the very requests HAProxy was sent — shares and percentiles agree within the
model's own spread over seeded replications; health checks detect a killed backend between
(fall − 1)·inter and fall·inter, as the model says.

Sources: HAProxy 2.8 Configuration Manual — §4.2 ``balance`` (``roundrobin``: in turns;
``leastconn``: "the server with the lowest number of connections receives the
connection"; ``random(<draws>)``: "the least loaded of the draws is picked"), §5.2
``inter``/``rise``/``fall``; Mitzenmacher (2001), the power of two choices. Tolerances: Z
standard deviations of the model over seeded replications (tests/_stats.py), plus the
measured round trip the engine adds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _readable import check_readable, crossed_legends

from scalekit import engines
from scalekit.balancing import engines as be
from scalekit.views.balancing import engines as view

from _stats import Z

SLOW = 2  # speeds (1, 1, 0.25): the third backend is four times slower


@pytest.fixture(scope="module")
def policies():
    try:
        return be.policies_on_haproxy(requests=300, load=0.45, mean_work_s=0.008,
                                      replications=12, seed=3)
    except engines.EngineUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def checks():
    try:
        return be.health_check_on_haproxy(inter_s=0.06, rise=2, fall=3, trials=5, seed=4)
    except engines.EngineUnavailable as exc:
        pytest.skip(str(exc))


def test_every_request_is_answered_by_one_of_the_backends(policies):
    for run in policies.runs.values():
        assert run.failed == 0 and run.requests == 300
        assert math.isclose(sum(run.engine_share), 1.0) and math.isclose(sum(run.model_share),
                                                                         1.0)


def test_round_robin_gives_each_backend_its_turn_on_both(policies):
    run = policies["round_robin"]
    assert all(abs(s - 1 / 3) <= 1 / 300 for s in run.engine_share)  # "in turns"
    assert run.model_share == pytest.approx((1 / 3,) * 3, abs=1 / 300)


@pytest.mark.parametrize("name", ["fewest_connections", "power_of_two"])
def test_load_aware_policies_spare_the_slow_backend_as_the_model_does(policies, name):
    run = policies[name]
    assert run.engine_share[SLOW] < 1 / 3 - 0.05  # fewer than round robin's 1/3
    for e, m, sd in zip(run.engine_share, run.model_share, run.model_share_sd, strict=True):
        assert abs(e - m) <= Z * math.sqrt(2) * sd, (name, run.engine_share, run.model_share)


def test_random_choice_shares_agree_within_the_models_spread(policies):
    run = policies["random"]
    for e, m, sd in zip(run.engine_share, run.model_share, run.model_share_sd, strict=True):
        assert abs(e - m) <= Z * math.sqrt(2) * sd


def test_median_latency_agrees_once_the_round_trip_is_counted(policies):
    """The model has no network: its latencies carry HAProxy's measured idle round trip,
    and the engine's overhead under load (a busy machine) may be a few round trips more —
    the round trip as measured just after the policy ran, when it grew with the load.

    Only where no backend is overloaded: round robin and random send the slow backend a
    third of the requests, more than it can serve (utilization 1.35 here), so its queue
    grows all run long and the median sits on the edge between the fast backends'
    latencies and the slow one's growing queue — a few requests more or less on the slow
    backend move it by tens of milliseconds, on the engine as in the model."""
    speeds = np.asarray(policies.speeds)
    checked = 0
    for name, run in policies.runs.items():
        utilization = (np.asarray(run.model_share) * policies.load * speeds.sum() / speeds)
        if utilization.max() >= 1.0:
            continue
        checked += 1
        overhead = max(policies.round_trip_s, run.round_trip_after_s)
        tolerance = Z * math.sqrt(2) * run.model_p50_sd + 4 * overhead
        assert abs(run.engine_p50_s - run.model_p50_s) <= tolerance, name
    assert checked >= 1  # fewest connections, power of two


def test_load_aware_policies_cut_the_tail_on_haproxy_and_in_the_model(policies):
    for side in ("engine", "model"):
        p95 = {n: getattr(r, f"{side}_p95_s") for n, r in policies.runs.items()}
        assert p95["fewest_connections"] < p95["round_robin"] / 3, (side, p95)
        assert p95["power_of_two"] < p95["round_robin"] / 2, (side, p95)


def test_each_detection_falls_where_the_model_puts_it(checks):
    slack = 0.02 * checks.fall  # HAProxy's timers wake a little late on a busy machine
    assert np.all(checks.detection_s >= checks.detection_low_s - 0.005)
    assert np.all(checks.detection_s <= checks.detection_high_s + slack)
    assert np.all(checks.model_detection_s >= checks.detection_low_s - 1e-9)
    assert np.all(checks.model_detection_s <= checks.detection_high_s + 1e-9)


def test_mean_detection_matches_the_model_and_the_closed_form(checks):
    """The check phase at the kill is uniform: detection is uniform on [(fall − 1)·inter,
    fall·inter], sd inter/√12."""
    se = checks.inter_s / math.sqrt(12 * checks.trials)
    assert abs(checks.model_mean_detection_s - checks.expected_detection_s) <= \
        Z * checks.inter_s / math.sqrt(12 * checks.model_runs)
    assert abs(checks.mean_detection_s - checks.expected_detection_s) <= \
        Z * se + 0.01 * checks.fall
    assert abs(checks.mean_rejoin_s - checks.expected_rejoin_s) <= Z * se + 0.01 * checks.rise
    downs = [e for e in checks.events if e.server == "s2" and e.state == "DOWN"]
    assert len(downs) == checks.trials


def test_views_draw_both_comparisons(policies, checks):
    fig = view.plot_policies_on_haproxy(policies)
    assert "beside the model" in fig._suptitle.get_text()
    check_readable(fig, "figure", "policies on HAProxy")  # issue 19: as notebook 02 shows it
    assert crossed_legends(fig) == []
    fig = view.plot_health_check_on_haproxy(checks)
    assert "inter 60 ms" in fig._suptitle.get_text()
    check_readable(fig, "figure", "health check on HAProxy")
    assert crossed_legends(fig) == []
    with pytest.raises(TypeError, match="HaproxyBalancing"):
        view.plot_policies_on_haproxy(checks)


def test_bad_input_is_refused_before_anything_starts():
    with pytest.raises(ValueError, match="policies"):
        be.policies_on_haproxy(["fastest"])
    with pytest.raises(ValueError, match="speeds must list at least two"):
        be.policies_on_haproxy(speeds=(1.0,))
    with pytest.raises(ValueError, match="requests"):
        be.policies_on_haproxy(requests=10**6)
    with pytest.raises(ValueError, match="inter_s"):
        be.health_check_on_haproxy(inter_s=0.0)


# ---------------------------------------------------------------- notebook 02's cells


def _unavailable(binary=None):
    raise engines.EngineUnavailable("no HAProxy for this platform (test)")


@pytest.mark.parametrize("run", [view.run_policies_on_haproxy, view.run_health_check_on_haproxy])
def test_a_cell_without_haproxy_says_so_in_one_sentence_and_starts_nothing(run, monkeypatch,
                                                                           capsys):
    monkeypatch.setattr(be, "find_haproxy", _unavailable)
    monkeypatch.setattr(view, "find_haproxy", _unavailable)
    assert run() is None
    printed = capsys.readouterr().out.strip()
    assert printed == "skipped: no HAProxy for this platform (test)"
    assert engines.owned_processes() == []


def test_the_policies_cell_shows_the_generated_config(policies, monkeypatch, capsys):
    """What notebook 02 prints before its figure: the haproxy.cfg HAProxy ran (indented),
    and the balance line of every policy — here from the module's own run."""
    monkeypatch.setattr(be, "policies_on_haproxy", lambda *a, **k: policies)
    assert view.run_policies_on_haproxy(requests=360) is policies
    out = capsys.readouterr().out
    first = next(iter(policies.runs.values()))
    assert "    backend app" in out and f"    balance {first.balance}" in out
    head = next(line for line in out.splitlines() if "the generated haproxy.cfg" in line)
    assert all(r.balance in head for r in policies.runs.values())
    assert out.count("    server s") == len(policies.speeds)


def test_nothing_is_left_running_after_the_experiments(policies, checks):
    """Every HAProxy and backend the experiments started (and the notebook's cells, which
    call them) is stopped when they return."""
    assert engines.owned_processes() == []
