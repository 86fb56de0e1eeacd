"""Notebook 06's panels and figures: the shared panel contract, then what each figure must
show a student — every mark is the model's number, not a redrawn guess — and that a student
can read it on a small screen (issue 19 §5)."""

import functools

import numpy as np
import pytest
from _panels import PanelContract, assert_labelled
from _screen import SMALLEST_TEXT_PX, SVG_PX_PER_IN, shown_text

from scalekit import caching
from scalekit.views import caching as view
from scalekit.views.style import PNG_DPI

PANELS = ["explore_browse", "explore_cache", "explore_ttl"]


class TestCachingPanels(PanelContract):
    @pytest.fixture(params=PANELS)
    def panel(self, request):
        return getattr(view, request.param)()


@pytest.fixture(scope="module")
def hour():
    return caching.browse(60, update_every_s=300, visit_every_s=20, seed=0)


def test_browse_timeline_has_one_mark_per_visit_and_a_cross_per_outdated_one(hour):
    fig = view.plot_browse(hour)
    assert_labelled(fig)
    ax = fig.named_axes["timeline"]
    by_label = {line.get_label(): line for line in ax.lines}
    assert len(by_label["from the cache"].get_xdata()) == hour.hits
    assert len(by_label["304 Not Modified"].get_xdata()) == hour.not_modified
    assert len(by_label["200 full page"].get_xdata()) == (hour.visits - hour.hits
                                                           - hour.not_modified)
    assert len(by_label["showed an outdated page"].get_xdata()) == hour.stale_visits > 0
    title = ax.get_title(loc="left")
    assert f"{hour.origin_requests} of {hour.visits}" in title
    assert f"{100 * hour.stale_share:.0f}% saw an old page" in title
    sent = fig.named_axes["bytes"].lines[1].get_ydata()
    assert sent[-1] == pytest.approx(hour.bytes_total / 1e6)


def test_max_age_figure_plots_each_runs_traffic_and_staleness():
    runs = [caching.browse(m, etag=e, seed=1) for m in (0, 60, 600) for e in (True, False)]
    fig = view.plot_max_age(runs)
    assert_labelled(fig)
    traffic = fig.named_axes["traffic"].lines
    with_etag = sorted((r for r in runs if r.etag), key=lambda r: r.max_age_s)
    np.testing.assert_allclose(traffic[0].get_ydata(),
                               [100 * r.bytes_total / r.bytes_without_cache for r in with_etag])
    stale = fig.named_axes["stale"].lines[1].get_ydata()
    no_etag = sorted((r for r in runs if not r.etag), key=lambda r: r.max_age_s)
    np.testing.assert_allclose(stale, [100 * r.stale_share for r in no_etag])


def test_hit_ratio_dots_are_the_simulation_and_lines_the_theory(tmp_path):
    db = caching.airline_db(tmp_path / "air.sqlite", 2000)
    r = caching.hit_ratio_curve([20, 200], keys=2000, requests=4000, db_path=db)
    fig = view.plot_hit_ratio(r)
    assert_labelled(fig)
    ax = fig.axes[0]
    dots = [line for line in ax.lines if line.get_label().endswith("simulated on SQLite")]
    assert len(dots) == len(r.policies)
    for policy, line in zip(r.policies, dots, strict=True):
        np.testing.assert_allclose(line.get_ydata(), 100 * r.curve(policy))
    lru = next(line for line in ax.lines if line.get_label().startswith("allkeys-lru: theory"))
    at = np.interp(np.log(200), np.log(lru.get_xdata()), lru.get_ydata())
    assert at == pytest.approx(100 * r.che_lru[1], abs=0.5)


def test_ttl_figure_plots_both_prices_of_a_ttl():
    r = caching.ttl_tradeoff([0.5, 5, 50], keys=100, duration_s=5.0, seed=0)
    fig = view.plot_ttl(r)
    assert_labelled(fig)
    left = fig.axes[0]
    np.testing.assert_allclose(left.lines[1].get_ydata(), r.db_reads_per_s)
    right = fig.twins[left]
    np.testing.assert_allclose(right.lines[1].get_ydata(), 100 * r.stale_share)


def test_herd_bars_are_queries_per_expiry_per_mode():
    runs = [caching.herd(mode=m, duration_s=30) for m in ("none", "coalesce", "lease")]
    fig = view.plot_herd(runs)
    assert_labelled(fig)
    bars = [b.get_height() for b in fig.named_axes["bars"].containers[0]]
    assert bars == pytest.approx([r.db_per_expiry_mean for r in runs])
    assert bars[0] > 10 * bars[2]
    assert "with none" in fig._suptitle.get_text()


@pytest.mark.parametrize("plot, bad, error", [
    (view.plot_browse, "hour", TypeError),
    (view.plot_max_age, [], ValueError),
    (view.plot_hit_ratio, None, TypeError),
    (view.plot_ttl, 3, TypeError),
    (view.plot_herd, [], ValueError),
    (view.plot_herd, ["x"], TypeError),
])
def test_plots_refuse_what_is_not_a_result(plot, bad, error):
    with pytest.raises(error, match="must"):
        plot(bad)


def test_revalidation_timeline_marks_every_visit_by_its_kind():
    r = caching.revalidation_timeline()
    fig = view.plot_revalidation(r)
    assert_labelled(fig)
    ax = fig.axes[0]
    counts = {line.get_label().split(" (")[0].split(":")[0]: len(line.get_xdata())
              for line in ax.lines if line.get_marker() not in (None, "None", "")}
    assert counts == {"fresh": r.fresh, "stale but served at once": r.stale_served,
                      "waited for the origin": r.waited}
    with pytest.raises(TypeError, match="result"):
        view.plot_revalidation(object())


# ------------------------------------------------------------------ readable on a small screen


@functools.cache
def _figures():
    runs = [caching.browse(max_age_s=m, etag=e, seed=0) for m in (0, 60, 3600)
            for e in (True, False)]
    herds = [caching.herd(mode=m, rate_rps=2000, db_ms=50, ttl_s=10, servers=4,
                          duration_s=60, seed=0) for m in ("none", "coalesce", "lease")]
    return {
        "browse": (view.plot_browse(runs[2]), PNG_DPI),
        "max-age": (view.plot_max_age(runs), PNG_DPI),
        "hit ratio": (view.plot_hit_ratio(caching.hit_ratio_curve(
            [10, 200, 1000], requests=4000, keys=5000, seed=0)), PNG_DPI),
        "ttl": (view.plot_ttl(caching.ttl_tradeoff([0.1, 1, 10, 100], keys=1000,
                                                   duration_s=5.0, seed=0)), PNG_DPI),
        "revalidation": (view.plot_revalidation(caching.revalidation_timeline(
            max_age_s=10, window_s=30)), PNG_DPI),
        "herd": (view.plot_herd(herds), PNG_DPI),
        **{f"panel {name}": (getattr(view, name)().figure, SVG_PX_PER_IN) for name in PANELS},
    }


@pytest.mark.parametrize("name", ["browse", "max-age", "hit ratio", "ttl", "revalidation",
                                  "herd", *(f"panel {p}" for p in PANELS)])
def test_figure_text_is_at_least_9_px_at_1024x768_and_inside(name):
    """Issue 19 §5 (the measure is notebook 05's: tests/test_views_replication.py)."""
    fig, dpi = _figures()[name]
    texts = list(shown_text(fig, dpi))
    small = [(t, round(px, 1)) for t, px, _ in texts if px < SMALLEST_TEXT_PX]
    cut = [t for t, _, inside in texts if not inside]
    assert not small, f"{name}: text under {SMALLEST_TEXT_PX} px at 1024×768: {small}"
    assert not cut, f"{name}: text cut off at the figure's edge: {cut}"


def test_no_policys_dots_hide_anothers():
    """Issue 19 §3: where the policies' hit ratios coincide, three same-size dots showed
    one. Each policy's dot is a different size, the larger open, drawn under the smaller."""
    fig, _ = _figures()["hit ratio"]
    dots = [line for line in fig.axes[0].lines if line.get_label().endswith("on SQLite")]
    assert len(dots) == 3
    sizes = [d.get_markersize() for d in dots]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 3
    assert all(d.get_markerfacecolor() == "none" for d in dots[:-1])
    assert [d.get_zorder() for d in dots] == sorted(d.get_zorder() for d in dots)
    inner = [d.get_markersize() + d.get_markeredgewidth() for d in dots[1:]]
    outer = [d.get_markersize() - d.get_markeredgewidth() for d in dots[:-1]]
    assert all(i < o for i, o in zip(inner, outer, strict=True))  # each fits inside the last

