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
    """One row per step (the request, top to bottom), one column per cache (nginx, the kit's
    proxy): the cache status, coloured by what it means (hit, miss, refreshed), with what
    the origin answered beside it; a red frame where a user was served someone else's page.
    7 in wide and a row per step, so every word stays at least 9 px on a small screen."""
    expect("result", result, ce.ProxyCacheComparison)
    n = len(result.steps)
    fig, ax = figure(width=7.0, height=1.6 + 0.32 * n, top=1 - 1.05 / (1.6 + 0.32 * n),
                     bottom=0.35 / (1.6 + 0.32 * n), left=0.3, right=0.98)
    for col, side in ((0, "nginx"), (1, "kit")):
        for i, s in enumerate(result.steps):
            row = n - 1 - i
            cls = getattr(s, f"{side}_class")
            leaked = getattr(s, f"{side}_leaked")
            ax.add_patch(_box(col, row, _CLASS_COLOUR.get(cls, LIMIT), leaked))
            origin = " ".join(map(str, getattr(s, f"{side}_origin"))) or "not asked"
            ax.text(col, row, f"{getattr(s, side) or '–'}  ·  origin: {origin}"
                    + ("  · LEAK" if leaked else ""), ha="center", va="center", fontsize=8.5)
    ax.set(xlim=(-0.5, 1.5), ylim=(-0.55, n - 0.45))
    ax.xaxis.tick_top()
    ax.set_xticks([0, 1], [result.engine.split(" (")[0].split()[0] + " proxy_cache",
                           "the kit's CachingProxy"])
    ax.set_yticks(range(n), [f"{i + 1}. {s.path}" + (f" as {s.user}" if s.user else "")
                             for i, s in reversed(list(enumerate(result.steps)))])
    ax.tick_params(axis="both", length=0)
    ax.grid(False)
    ax.spines[["left", "bottom"]].set_visible(False)
    handles = [_box(0, 0, c, False) for c in _CLASS_COLOUR.values()][:3]
    ax.legend(handles, ["hit", "miss (forwarded)", "refreshed (stale copy)"],
              loc="upper center", bbox_to_anchor=(0.35, -0.005), ncols=3, fontsize=8.5,
              frameon=False)
    same = sum(s.agree for s in result.steps)
    fig.suptitle(f"{result.engine.split(' (')[0]} and the kit's proxy agree on {same} of "
                 f"{n} steps;\norigin requests {result.nginx_origin_requests} vs "
                 f"{result.kit_origin_requests}; neither stores /profile (private)",
                 fontsize=10.5, fontweight="bold", y=0.995)
    return fig


def _box(x, y, colour, leaked):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.47, y - 0.42), 0.94, 0.84, facecolor=colour, alpha=0.45,
                     edgecolor=COLORS["vermillion"] if leaked else "white",
                     lw=2.5 if leaked else 0.5)


@styled
def plot_eviction_on_valkey(result: ce.EvictionComparison):
    """Hit ratio per ``maxmemory-policy``: Valkey, the model (± one standard deviation over
    fresh traces) and the policy's closed form, with Che's random-eviction value across."""
    expect("result", result, ce.EvictionComparison)
    runs = list(result.runs.values())
    fig, ax = figure(width=7.0, height=4.4, top=0.8, bottom=0.12)
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
    ax.legend(loc="upper left", fontsize=8.5, ncols=2)
    lru = result.runs.get("allkeys-lru")
    tail = (f";\nallkeys-lru {lru.engine_hit_ratio:.2f} on Valkey vs {lru.model_hit_ratio:.2f}"
            f" in the model: its LRU clock\nticks once a second, the replay took "
            f"{lru.replay_s:.1f} s" if lru is not None else "")
    fig.suptitle(f"{result.engine.split(' (')[0]}, {result.requests:,} Zipf({result.skew:g}) "
                 f"reads, ~{runs[0].held_keys:.0f} keys held{tail}", fontsize=10,
                 fontweight="bold")
    return fig
