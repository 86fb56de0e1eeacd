"""stale-while-revalidate on a timeline: each visit fresh, stale-but-served or waited for.
A view of :mod:`scalekit.caching.http.timeline`."""

from __future__ import annotations

from scalekit.caching.http import timeline as model
from scalekit.views._common import expect
from scalekit.views.style import COLORS, figure, styled

KIND_STYLE = {"fresh": (COLORS["green"], "o", "fresh: served from the cache"),
              "stale-served": (COLORS["orange"], "s", "stale but served at once "
                                                      "(revalidated in the background)"),
              "waited": (COLORS["vermillion"], "v", "waited for the origin")}


@styled
def plot_revalidation(result):
    """The served copy's age at each visit (markers by kind), against the fresh band
    (age < max-age) and the stale-while-revalidate band; ticks where the origin was asked."""
    expect("result", result, model.Revalidation)
    r = result
    fig, ax = figure(width=7.0, height=4.4, top=0.85)
    top = max(float(r.ages_s.max(initial=0.0)), r.max_age_s + r.window_s) * 1.15 + 1
    ax.axhspan(0, r.max_age_s, color=COLORS["green"], alpha=0.10, lw=0)
    ax.axhspan(r.max_age_s, r.max_age_s + r.window_s, color=COLORS["orange"], alpha=0.10,
               lw=0)
    ax.text(0.5, r.max_age_s / 2, f"fresh: age < max-age={r.max_age_s:g} s", va="center",
            fontsize=8.5, color=COLORS["green"])
    ax.text(0.5, r.max_age_s + r.window_s / 2,
            f"stale-while-revalidate={r.window_s:g} s: served stale", va="center",
            fontsize=8.5, color=COLORS["orange"])
    for kind, (colour, marker, label) in KIND_STYLE.items():
        keep = r.kinds == kind
        ax.plot(r.times_s[keep], r.ages_s[keep], marker, color=colour, ms=8, ls="none",
                label=f"{label} ({int(keep.sum())})")
    for t in r.origin_times_s:
        ax.axvline(t, color=COLORS["grey"], lw=0.8, ls=":", zorder=0)
    ax.set(xlabel="time of the visit (s)", ylabel="age of the copy served (s)",
           ylim=(0, top))
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"stale-while-revalidate: {r.visits - r.waited} of {r.visits} visits "
                 f"answered at once,\n{r.waited} waited for the origin "
                 f"({r.origin_requests} origin requests, dotted)", fontsize=10.5,
                 fontweight="bold")
    return fig
