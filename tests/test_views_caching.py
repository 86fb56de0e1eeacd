"""Notebook 06's panels and figures: the shared panel contract, then what each figure must
show a student — every mark is the model's number, not a redrawn guess."""

import numpy as np
import pytest
from _panels import PanelContract, assert_labelled

from scalekit import caching
from scalekit.views import caching as view

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
