"""An autoscaler following a day of traffic, against a fixed pool — views of
:mod:`scalekit.servers.autoscaling`.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from scalekit import _check, sim
from scalekit.servers import autoscaling
from scalekit.views._common import expect
from scalekit.views.panel import Panel
from scalekit.views.style import LIMIT, MEASURED, figure, plain_numbers, styled

__all__ = ["day_trace", "plot_autoscaling", "explore_autoscaling"]


def day_trace(peak_rps: float = 400.0, spike_rps: float = 300.0) -> sim.TrafficTrace:
    """The notebook's day of traffic: a daily cycle peaking at 14:00 and a flash crowd at
    09:00 lasting 15 minutes."""
    peak_rps = _check.positive("peak_rps", peak_rps)
    spike_rps = _check.non_negative("spike_rps", spike_rps)
    return sim.TrafficTrace.daily(base_rps=peak_rps / 8, peak_rps=peak_rps,
                                  spike_at_s=9 * 3600, spike_rps=spike_rps, spike_s=900)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True stretches of ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return list(zip(edges[::2], edges[1::2], strict=True))


def _thin(n: int, max_points: int = 800) -> int:
    """Bin size that brings ``n`` time steps down to at most ``max_points`` on screen."""
    return max(1, -(-n // max_points))


def _binned(values: np.ndarray, size: int, how=np.max) -> np.ndarray:
    """Each bin of ``size`` steps as one value (its max by default: spikes stay visible)."""
    pad = (-values.size) % size
    padded = np.concatenate([values, np.repeat(values[-1:], pad)]) if pad else values
    return how(padded.reshape(-1, size), axis=1)


@styled
def plot_autoscaling(*results: autoscaling.AutoscaleResult, mean_service_s: float = 0.05,
                     latency: bool = True):
    """Servers over time against the work to do (top) and latency over time (bottom), for
    each provisioning run; shaded where a run was overloaded (its queue growing). With
    ``latency=False`` only the top plot, shaded where each run missed its SLO."""
    if not results:
        raise TypeError("plot_autoscaling needs at least one AutoscaleResult")
    for r in results:
        expect("results", r, autoscaling.AutoscaleResult)
    mean_service_s = _check.positive("mean_service_s", mean_service_s)
    latency = _check.boolean("latency", latency)
    if not latency:
        fig, top = figure(width=7.2, height=4.4, bottom=0.36)
        _draw_servers(top, results, mean_service_s, shade_slo=True)
        return fig
    fig, (top, bottom) = figure(1, 2, width=7.2, height=6.4, bottom=0.17)
    hours, size, colors = _draw_servers(top, results, mean_service_s, shade_slo=False)
    first = results[0]
    cap = first.slo_s * 1e3 * 20
    for r, color in zip(results, colors, strict=True):
        lat = np.minimum(np.where(np.isfinite(r.latency_s), r.latency_s * 1e3, cap), cap)
        bottom.step(hours, _binned(lat, size), where="post", lw=1.2, color=color,
                    label=f"{r.policy}: SLO missed {r.slo_violation_fraction:.1%}")
        _shade(bottom, r.times_s, r.overloaded, color)
    end = first.duration_s / 3600.0
    bottom.axhline(first.slo_s * 1e3, color=MEASURED, ls="--", label="SLO")
    bottom.set(yscale="log", xlabel="time of day (h)", ylabel="mean latency (ms)",
               xlim=(0, end), ylim=(mean_service_s * 1e3 * 0.8, cap * 2),
               title="Latency over the day (shaded: overloaded; capped at 20×SLO)")
    plain_numbers(bottom.yaxis)
    bottom.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)  # below: no data
    return fig


def _shade(ax, times_s: np.ndarray, mask: np.ndarray, color: str) -> None:
    hours = times_s / 3600.0
    for lo, hi in _runs(mask):
        ax.axvspan(hours[lo], hours[min(hi, hours.size - 1)], color=color, alpha=0.12, lw=0)


def _draw_servers(top, results, mean_service_s: float, shade_slo: bool):
    """Servers over time on ``top``; returns the binned hours, the bin size and each run's
    colour, so a latency plot below can use the same bins and colours."""
    first = results[0]
    size = _thin(first.times_s.size)  # a day of 15 s steps is 5,760: show ≤ 800 bins
    hours = first.times_s[::size] / 3600.0
    work = _binned(first.arrival_rps * mean_service_s, size)
    top.fill_between(hours, work, step="post", color=LIMIT, alpha=0.3, lw=0,
                     label="work: servers 100% busy (λ × service time)")
    colors = []
    for r in results:
        line, = top.step(hours, _binned(r.servers_ready, size), where="post", lw=1.6,
                         label=f"{r.policy}: {r.server_hours:.0f} server-hours"
                               + (f", SLO missed {r.slo_violation_fraction:.1%}"
                                  if shade_slo else ""))
        colors.append(line.get_color())
        if shade_slo:
            _shade(top, r.times_s, r.latency_s > r.slo_s, line.get_color())
    most = max(float(np.max(r.servers_ready)) for r in results)
    top.set(ylabel="servers", xlim=(0, first.duration_s / 3600.0),
            ylim=(0, most * (1.1 if shade_slo else 1.55)),
            xlabel="time of day (h)" if shade_slo else "",
            title="Servers over the day (shaded: SLO missed)" if shade_slo
            else "Autoscaling follows the work; a fixed pool is too small or too big")
    if shade_slo:  # the panel's figure: below the axes, where the long entries fit
        top.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17))
    else:
        top.legend(loc="upper left", ncols=2)
    return hours, size, colors


def explore_autoscaling() -> Panel:
    controls = {
        "target": widgets.FloatSlider(value=0.6, min=0.2, max=0.95, step=0.05,
                                      description="target utilisation"),
        "min_servers": widgets.IntSlider(value=2, min=1, max=20, description="min servers"),
        "max_servers": widgets.IntSlider(value=40, min=2, max=60, description="max servers"),
        "startup_s": widgets.IntSlider(value=60, min=0, max=600, step=30,
                                       description="start-up (s)"),
        "stabilisation_s": widgets.IntSlider(value=300, min=0, max=1200, step=60,
                                             description="scale-down window (s)"),
        "fixed": widgets.IntSlider(value=24, min=1, max=60, description="fixed pool"),
    }
    trace = day_trace()

    def compute(target, min_servers, max_servers, startup_s, stabilisation_s, fixed):
        auto = autoscaling.autoscale(trace, target_utilisation=target, min_servers=min_servers,
                                     max_servers=max_servers, startup_s=startup_s,
                                     stabilisation_s=stabilisation_s)
        return auto, autoscaling.fixed_servers(trace, fixed)

    def describe(out):
        auto, fixed = out
        return (f"autoscaled: {auto.server_hours:.0f} server-hours, SLO missed "
                f"{auto.slo_violation_fraction:.1%} · fixed {fixed.max_servers_used}: "
                f"{fixed.server_hours:.0f} server-hours, SLO missed "
                f"{fixed.slo_violation_fraction:.1%}")

    return Panel(controls, compute, lambda out: plot_autoscaling(*out, latency=False),
                 title="Autoscaling a day of traffic", describe=describe)
