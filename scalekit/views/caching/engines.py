"""The caching models beside real nginx and real Valkey, drawn: the status of each step
of a request sequence on nginx and on the kit's proxy, and the hit ratio of each
``maxmemory-policy`` on Valkey beside the model and the closed forms. Views of
:mod:`scalekit.caching.engines` (they only draw)."""

from __future__ import annotations

import numpy as np

from scalekit.caching import engines as ce
from scalekit.views._common import expect
from scalekit.views.style import COLORS, LIMIT, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["plot_proxy_cache", "plot_eviction_on_valkey"]

_CLASS_COLOUR = {"hit": COLORS["green"], "miss": COLORS["orange"],
                 "refreshed": COLORS["sky"], "stale": COLORS["purple"],
                 "error": COLORS["vermillion"], "other": COLORS["grey"]}


@styled
def plot_proxy_cache(result: ce.ProxyCacheComparison):
    """One column per step, one row per cache (nginx, the kit's proxy): the cache status,
    coloured by what it means (hit, miss, refreshed), with what the origin answered below;
    a red frame where a user was served someone else's page."""
    expect("result", result, ce.ProxyCacheComparison)
    n = len(result.steps)
    fig, ax = figure(width=9.5, height=3.2, top=0.78, bottom=0.32, left=0.07)
    for row, side in ((1, "nginx"), (0, "kit")):
        for i, s in enumerate(result.steps):
            cls = getattr(s, f"{side}_class")
            leaked = getattr(s, f"{side}_leaked")
            ax.add_patch(_box(i, row, _CLASS_COLOUR.get(cls, LIMIT), leaked))
            ax.text(i, row + 0.08, getattr(s, side), ha="center", va="center", fontsize=6.5)
            origin = " ".join(map(str, getattr(s, f"{side}_origin"))) or "–"
            ax.text(i, row - 0.22, origin, ha="center", va="center", fontsize=6, color="#333")
    ax.set(xlim=(-0.6, n - 0.4), ylim=(-0.6, 1.6))
    ax.set_yticks([0, 1], ["kit", "nginx"])
    labels = [s.path.replace("/static/", "/s/") + (f"\n{s.user}" if s.user else "")
              for s in result.steps]
    ax.set_xticks(range(n), labels, fontsize=6.5, rotation=35, ha="right")
    ax.grid(False)
    handles = [_box(0, 0, c, False) for c in _CLASS_COLOUR.values()][:3]
    ax.legend(handles, ["hit", "miss", "refreshed (stale copy)"], loc="upper center",
              bbox_to_anchor=(0.5, 1.2), ncols=3, fontsize=8)
    same = sum(s.agree for s in result.steps)
    fig.suptitle(f"{result.engine.split(' (')[0]} and the kit's proxy agree on {same} of "
                 f"{n} steps; origin requests {result.nginx_origin_requests} vs "
                 f"{result.kit_origin_requests}; neither stores /profile (private)",
                 fontsize=10, fontweight="bold", y=0.99)
    return fig


def _box(x, y, colour, leaked):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.45, y - 0.38), 0.9, 0.76, facecolor=colour, alpha=0.45,
                     edgecolor=COLORS["vermillion"] if leaked else "white",
                     lw=2.5 if leaked else 0.5)


@styled
def plot_eviction_on_valkey(result: ce.EvictionComparison):
    """Hit ratio per ``maxmemory-policy``: Valkey, the model (± one standard deviation over
    fresh traces) and the policy's closed form, with Che's random-eviction value across."""
    expect("result", result, ce.EvictionComparison)
    runs = list(result.runs.values())
    fig, ax = figure(width=9.5, height=3.6, top=0.82, bottom=0.18)
    x = np.arange(len(runs))
    ax.bar(x - 0.2, [r.engine_hit_ratio for r in runs], 0.4, color=MEASURED, label="Valkey")
    ax.bar(x + 0.2, [r.model_hit_ratio for r in runs], 0.4, color=SIMULATED,
           yerr=[r.model_sd for r in runs], capsize=3, label="model ± sd")
    ax.plot(x, [r.theory for r in runs], "_", ms=30, mew=2.5, color=THEORY,
            label="closed form (Che LRU / random, LFU top-C)")
    ax.plot(x, [r.che_random for r in runs], ":", color=LIMIT, lw=1.5,
            label="Che, random eviction")
    ax.set_xticks(x, [r.policy for r in runs])
    top = max(max(r.engine_hit_ratio, r.model_hit_ratio, r.theory) for r in runs)
    ax.set(ylabel="hit ratio", ylim=(0, min(1.0, 1.35 * top)))
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    lru = result.runs.get("allkeys-lru")
    tail = (f"; allkeys-lru {lru.engine_hit_ratio:.2f} on Valkey vs {lru.model_hit_ratio:.2f}"
            f" in the model: its LRU clock ticks once a second, the replay took "
            f"{lru.replay_s:.1f} s" if lru is not None else "")
    fig.suptitle(f"{result.engine.split(' (')[0]}, {result.requests:,} Zipf({result.skew:g}) "
                 f"reads, ~{runs[0].held_keys:.0f} keys held{tail}", fontsize=9.5,
                 fontweight="bold")
    return fig
