"""Notebook 03's sessions panel and figure: the shared panel contract, then what the figure
must show a student — every strategy's lost sessions and failed requests where the model
counted them, each server's load after the failure, and a title stating the finding."""

import math

import numpy as np
import pytest
from _panels import PanelContract, assert_labelled
from _screen import SMALLEST_TEXT_PX, SVG_PX_PER_IN, shown_text

from scalekit import sessions
from scalekit.views.sessions import sessions as view
from scalekit.views.style import PNG_DPI, drawing_into, to_png


class TestSessionsPanel(PanelContract):
    @pytest.fixture
    def panel(self):
        return view.explore_sessions()


@pytest.fixture(scope="module")
def failure():
    return sessions.compare_strategies(server_fails_at=60.0, seed=1)


def test_panel_runs_every_strategy_with_a_failure_at_its_defaults():
    p = view.explore_sessions()
    comp = p.result
    assert list(comp.results) == list(sessions.STRATEGIES)
    assert comp["none"].server_fails_at == 60.0 and comp["none"].servers == 4
    assert "a fixed default for the SQLite read + write" in p.status.value  # not "measured"
    times = []
    for _ in range(3):  # measured, not asserted tightly: a shared 2-core machine is noisy
        p.refresh()
        times.append(p.refresh_ms)
    assert all(math.isfinite(t) and t > 0 for t in times)  # measured by make bench


def test_the_figure_is_labelled_and_states_the_finding(failure):
    fig = view.plot_sessions(failure)
    assert_labelled(fig)
    title = fig._suptitle.get_text()
    assert title.startswith("Server 0 died at 60 s: database and client kept every session")
    for name in ("sticky_cookie", "sticky_ip", "none"):
        assert f"{failure[name].lost:,}" in title


def test_each_band_is_labelled_with_the_models_counts(failure):
    ax = view.plot_sessions(failure).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    for label, (name, r) in zip(labels, failure.results.items(), strict=True):
        assert label == f"{view._label(name)}\n{r.lost:,} lost · {r.failed:,} failed"


def test_the_bands_show_the_timeline_the_model_counted(failure):
    """Every band shares one scale: 0.8 of a row is the highest lost + failed rate of any
    strategy in any 2 s bin, so each lost band's height is its peak lost rate on that scale."""
    ax = view.plot_sessions(failure).axes[0]
    lines = [failure[k].timeline(2.0) for k in failure.results]
    top = max((tl.lost_per_s + tl.failed_per_s).max() for tl in lines)
    for poly, tl in zip(ax.collections[0].get_paths(), lines, strict=True):
        height = np.ptp(poly.vertices[:, 1])
        assert height == pytest.approx(0.8 * tl.lost_per_s.max() / top)
    assert f"a full band = {top:.3g}/s" in ax.get_ylabel()


def test_the_load_bars_are_each_servers_share_after_the_mark_down(failure):
    ax = view.plot_sessions(failure).axes[1]
    bars = ax.collections[0].get_paths()
    heights = np.array([b.vertices[:, 1].max() for b in bars]).reshape(5, 4)
    for row, r in zip(heights, failure.results.values(), strict=True):
        load = np.array(r.load_after, dtype=float)
        np.testing.assert_allclose(row, load / load[[1, 2, 3]].mean())
        assert row.max() == pytest.approx(r.imbalance_after)
    assert "after the mark-down" in ax.get_title()


def test_without_a_failure_the_figure_says_so():
    comp = sessions.compare_strategies(["none", "sticky_ip", "client"], nat_share=0.3,
                                       session_bytes=4000, users=100, seed=2)
    fig = view.plot_sessions(comp)
    assert_labelled(fig)
    title = fig._suptitle.get_text()
    assert title.startswith("No server failure: sticky IP")
    assert "cookies over 4,093 bytes failed" in title
    assert "over the run" in fig.axes[1].get_title()


def test_a_reused_figure_equals_a_fresh_one(failure):
    other = sessions.compare_strategies(servers=6, nat_share=0.4, seed=3)
    fig = view.plot_sessions(other)
    with drawing_into(fig):
        again = view.plot_sessions(failure)
    assert again is fig
    assert to_png(again) == to_png(view.plot_sessions(failure))


@pytest.mark.parametrize("value", ["not a result", None])
def test_the_plot_refuses_what_is_not_a_comparison(value, failure):
    with pytest.raises(TypeError, match="must be a scalekit"):
        view.plot_sessions(value)
    with pytest.raises(TypeError, match="must be a scalekit"):
        view.plot_sessions(failure["none"])


def test_status_line_and_chart_give_the_imbalance_of_the_same_moment():
    """Issue 19 §4: the status line printed sticky IP's imbalance before the crash (1.98)
    while the chart's number was after the mark-down (1.89). Both now say the chart's
    moment, and name it."""
    p = view.explore_sessions()
    p.controls["nat_share"].value = 0.3
    ip = p.result["sticky_ip"]
    assert ip.marked_down_at < ip.duration_s and ip.imbalance_before != ip.imbalance_after
    assert f"sticky IP imbalance {ip.imbalance_after:.2f} after the mark-down" in p.status.value
    load = p.figure.axes[1]
    shown = [t.get_text() for t in load.texts]
    assert f"{ip.imbalance_after:.2f}" in shown and "after the mark-down" in load.get_title()
    p.controls["server_fails_at"].value = 110.0  # marked down after the run's end (120 s)
    p.controls["detection_s"].value = 30.0
    assert p.result["sticky_ip"].marked_down_at > p.result["sticky_ip"].duration_s
    ip = p.result["sticky_ip"]
    assert f"sticky IP imbalance {ip.imbalance_before:.2f} before the crash" in p.status.value
    assert "before the crash" in p.figure.axes[1].get_title()



@pytest.mark.parametrize("kind", ["figure", "panel"])
def test_figure_text_is_at_least_9_px_at_1024x768_and_inside(kind, failure):
    """Issue 19 §5 (the measure is notebook 05's: tests/test_views_replication.py)."""
    fig, dpi = ((view.plot_sessions(failure), PNG_DPI) if kind == "figure" else
                (view.explore_sessions().figure, SVG_PX_PER_IN))
    texts = list(shown_text(fig, dpi))
    small = [(t, round(px, 1)) for t, px, _ in texts if px < SMALLEST_TEXT_PX]
    cut = [t for t, _, inside in texts if not inside]
    assert not small, f"text under {SMALLEST_TEXT_PX} px at 1024×768: {small}"
    assert not cut, f"text cut off at the figure's edge: {cut}"
