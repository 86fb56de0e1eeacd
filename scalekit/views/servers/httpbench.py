"""A real benchmark: closed-loop users against an HTTP server on 127.0.0.1, next to the
model's prediction — views of :mod:`scalekit.servers.httpbench`.
"""

from __future__ import annotations

import numpy as np

from scalekit import theory
from scalekit.servers import httpbench
from scalekit.views._common import expect
from scalekit.views.panel import Progress
from scalekit.views.style import LIMIT, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["run_benchmark", "plot_benchmark"]


def run_benchmark(work_ms: float = 5.0, users=(1, 2, 4, 8, 16), step_s: float = 1.0
                  ) -> httpbench.BenchmarkResult:
    """Start a real single-worker HTTP server on 127.0.0.1, ramp closed-loop users against
    it with a progress bar, stop the server, return the measurements."""
    users, step_s = httpbench.ramp_steps(users, step_s)  # refused before a server starts
    httpbench.BenchServer(work_ms=work_ms)  # work_ms checked likewise
    bar = Progress("benchmark").show()
    with httpbench.BenchServer(work_ms=work_ms) as server:
        return httpbench.benchmark(server, users=users, step_s=step_s, progress=bar)


@styled
def plot_benchmark(result: httpbench.BenchmarkResult):
    """Measured throughput and latency against users, next to the MVA prediction made from
    one request at a time."""
    expect("result", result, httpbench.BenchmarkResult)
    fig, (left, right) = figure(2, width=7.2, height=4.0, bottom=0.34, wspace=0.3)
    n = result.users
    z = result.single.overhead_s
    # The same model fed with the service demand the server measured during each step: on a
    # shared machine the CPU's speed drifts, and this line shows the model itself still holds.
    step_model = [theory.mva_closed(int(s.users), s.service_demand_s, z) for s in result.steps]
    left.plot(n, result.throughput_rps, "o-", color=MEASURED, label="measured")
    left.plot(n, result.predicted_throughput_rps, "s--", color=THEORY,
              label="model from 1 request (MVA)")
    left.plot(n, [x for x, _ in step_model], ":", color=SIMULATED,
              label="model with each step's measured D")
    left.axhline(result.max_throughput_rps, color=LIMIT, ls=":", label="1/D from 1 request")
    top = max(float(np.max(result.throughput_rps)), result.max_throughput_rps) * 1.15
    left.set(xlabel="concurrent users", ylabel="throughput (req/s)", ylim=(0, top),
             title=f"Throughput levels off at ≈{np.median(result.throughput_rps[1:]):.0f}/s")
    right.plot(n, result.mean_s * 1e3, "o-", color=MEASURED, label="measured mean")
    right.plot(n, result.p95_s * 1e3, "^:", color=MEASURED, alpha=0.6, label="measured p95")
    right.plot(n, result.predicted_mean_s * 1e3, "s--", color=THEORY,
               label="model from 1 request")
    right.plot(n, [(r + z) * 1e3 for _, r in step_model], ":", color=SIMULATED,
               label="model, each step's D")
    right.set(xlabel="concurrent users", ylabel="latency (ms)", ylim=(0, None),
              title="Past saturation, +D per user")
    # One legend for both panels, below them: the same four lines, and no data crossed.
    handles, labels = left.get_legend_handles_labels()
    handles.insert(1, right.lines[1])
    labels.insert(1, "measured p95 (right)")
    left.legend(handles, labels, loc="upper center", bbox_to_anchor=(1.1, -0.2), ncols=3)
    return fig
