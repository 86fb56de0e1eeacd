"""The notebook tables (``_repr_html_``): one helper, every result type.

Source: the HTML Living Standard, §13.1.2 — in text, ``<`` and ``&`` must be written as
``&lt;`` and ``&amp;``, or the browser reads a tag or an entity where the user meant a value.
"""

import math

import numpy as np
import pytest

from scalekit import _html, sim
from scalekit.servers import autoscaling, capacity, heartbeats, httpbench, scaling

# ------------------------------------------------------------------ the helper


@pytest.mark.parametrize(("value", "shown"), [
    (math.pi, "3.142"),
    (1234567.0, "1,234,567.0"),  # an instant or a count of seconds: every digit matters
    (40_000.5, "40,000.5"),
    (9999.5, "1e+04"),
    (2.5e12, "2.5e+12"),
    (0.000123456, "0.0001235"),
    (np.float64(2.0) / 3, "0.6667"),
    (np.float32(0.5), "0.5"),
    (math.nan, "nan"),
    (1234567, "1234567"),  # integers are counts: every digit stays
    (np.int64(42), "42"),
    (True, "True"),  # a bool is not a number to round
    (None, "None"),
    ("a<b & c", "a&lt;b &amp; c"),
])
def test_cell_rounds_reals_to_four_digits_and_escapes_text(value, shown):
    assert _html.cell(value) == shown


def test_key_value_table_has_a_row_per_key_escaped():
    out = _html.key_value_table({"<script>": "x<y", "rate_rps": 12.34567, "n": 3})
    assert out.startswith("<table>") and out.endswith("</table>")
    assert out.count("<tr>") == 3
    assert "<script>" not in out and "&lt;script&gt;" in out and "x&lt;y" in out
    assert "<td>12.35</td>" in out and "<td>3</td>" in out


def test_a_note_follows_the_table_as_an_escaped_paragraph():
    out = _html.key_value_table({"a": 1.0}, note="load <= 1 & stable")
    assert out.endswith("</table><p>load &lt;= 1 &amp; stable</p>")
    rows = _html.rows_table([{"a": 1}], note="done")
    assert rows.endswith("</table><p>done</p>")
    assert "<p>" not in _html.rows_table([{"a": 1}])  # no note, no empty paragraph


def test_rows_table_from_dicts_takes_the_header_from_the_first():
    out = _html.rows_table([{"users": 1, "x<": 0.123456}, {"users": 2, "x<": 10.0}])
    assert out.startswith("<table><tr><th>users</th><th>x&lt;</th></tr>")
    assert "<tr><td>1</td><td>0.1235</td></tr><tr><td>2</td><td>10</td></tr>" in out


def test_rows_table_from_sequences_needs_columns():
    out = _html.rows_table(zip([1.5, 2.5], ["a", "<b>"], strict=True), ["t", "name"])
    assert "<th>t</th><th>name</th>" in out
    assert "<tr><td>1.5</td><td>a</td></tr><tr><td>2.5</td><td>&lt;b&gt;</td></tr>" in out
    with pytest.raises(TypeError, match="columns"):
        _html.rows_table([(1, 2)])
    assert _html.rows_table([], ["t"]) == "<table><tr><th>t</th></tr></table>"


# ------------------------------------------------------------------ every result type uses it


def g(x: float) -> str:
    return f"{x:.4g}"


def test_sim_results_table_and_the_unstable_note():
    stable = sim.run(sim.Workload.poisson(0.5, sim.Exponential(1.0), n=2000, seed=1))
    out = stable._repr_html_()
    assert out.startswith("<table>") and f"<td>{g(stable.mean_s)}</td>" in out
    assert "unstable:" not in out
    unstable = sim.run(sim.Workload.poisson(2.0, sim.Exponential(1.0), n=2000, seed=1))
    out = unstable._repr_html_()
    assert f"<td>{unstable.completed}</td>" in out
    assert out.endswith("latencies depend on how long the run is.</p>")
    assert "<p>unstable: offered load ≥ capacity" in out


def test_capacity_table_keeps_its_sentence():
    res = capacity.ramp(sim.Exponential(0.01), rates_rps=[20.0, 60.0], slo_s=1.0,
                        step_s=200.0, seed=2)
    out = res._repr_html_()
    assert out.count("<tr>") == 1 + len(res.steps) and "<th>met SLO</th>" in out
    assert f"<td>{g(res.steps[1].p95_s * 1e3)}</td>" in out
    assert f"<td>{res.steps[0].utilisation:.2f}</td>" in out and "<td>yes</td>" in out
    assert f"<p>capacity ≈ {g(res.capacity_rps)} req/s under a p95 SLO" in out


def test_scaling_comparison_table():
    res = scaling.compare_scaling(4, 0.8, requests=4000, seed=1)
    out = res._repr_html_()
    assert "<th>simulated mean (s)</th>" in out and out.count("<tr>") == 4
    for name, simulated, theory in res.rows():
        assert f"<tr><td>{name}</td><td>{g(simulated)}</td><td>{g(theory)}</td></tr>" in out
    assert out.endswith("<p>load ρ = 0.80 on every design</p>")


def test_autoscale_table():
    trace = sim.TrafficTrace.daily(base_rps=50, peak_rps=400)
    res = autoscaling.autoscale(trace)
    out = res._repr_html_()
    assert out.startswith("<table>") and out.count("<tr>") == len(res.summary())
    assert f"<td>{g(res.server_hours)}</td>" in out
    assert f"<td>{res.max_servers_used}</td>" in out


def test_heartbeat_tables():
    run = heartbeats.simulate_heartbeats(
        heartbeats.HeartbeatConfig(horizon_s=3600.0), crashed_at=100.0, seed=0)
    out = run._repr_html_()
    assert out.startswith("<table>") and f"<td>{g(run.detection_s)}</td>" in out
    cfg = heartbeats.HeartbeatConfig(horizon_s=3600.0)
    sweep = heartbeats.timeout_tradeoff(cfg, timeouts_s=np.array([1.5, 3.0]), crashes=20,
                                        seed=4)
    out = sweep._repr_html_()
    assert out.count("<tr>") == 3 and "<th>false_suspicions_per_hour</th>" in out
    assert f"<tr><td>1.5</td><td>1.5</td><td>{g(sweep.mean_detection_s[0])}</td>" in out
    choice = heartbeats.choose_timeout(1.0, 0.01, heartbeats.HeartbeatConfig(
        pauses_per_hour=20.0, pause_s=2.0, horizon_s=3600.0), seed=9)
    out = choice._repr_html_()
    assert "<= " in choice.reason and "&lt;= " in out and "<= " not in out  # escaped


def test_httpbench_tables_without_a_server():
    step = httpbench.BenchStep(
        users=2, throughput_rps=123.456, mean_s=0.0123, p50_s=0.011, p95_s=0.02, p99_s=0.03,
        errors=0, predicted_throughput_rps=120.0, predicted_mean_s=0.0125,
        bound_throughput_rps=130.0, service_demand_s=0.0075, utilisation=0.91, completed=123,
        late=1, duration_s=1.0, error_kinds={"timeout": 1})
    single = httpbench.SingleRequest(
        requests=200, service_demand_s=0.0075, overhead_s=0.0011, handler_s=0.0061,
        mean_s=0.0086, p50_s=0.0084, errors=0, latencies_s=np.zeros(3))
    out = step._repr_html_()
    assert "<th>throughput_rps</th>" in out and "<td>123.5</td>" in out
    assert "error_kinds" not in out and "latencies_s" not in out  # scalars only
    assert "<td>0.0075</td>" in single._repr_html_()
    result = httpbench.BenchmarkResult(steps=(step, step), single=single, work_ms=5.0,
                                       step_s=1.0, started_at=0.0, duration_s=2.0)
    out = result._repr_html_()
    assert out.startswith("<table>") and out.count("<tr>") == 3
    assert "<th>mean ms</th>" in out and "<td>12.3</td>" in out  # 0.0123 s shown in ms
    assert out.count("<th>") == 8  # the columns a student compares, not all 15 fields
    assert "D = 7.500 ms, Z = 1.100 ms; saturation at N* = 1.15 users" in out
