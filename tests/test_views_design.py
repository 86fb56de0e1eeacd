"""Notebook 07's design board and figures: the shared panel contract, then every mark is the
model's number (scalekit.design), not a redrawn guess."""

import math

import numpy as np
import pytest
from _panels import PanelContract, assert_labelled

from scalekit import design
from scalekit.views import design as view

GOOD = design.Design(max_age_s=60, shared_cache=True, servers=60, cache_keys=1000,
                     sessions="database", shards=2, replicas=1, commit="remote_write")


class TestDesignBoard(PanelContract):
    @pytest.fixture
    def panel(self):
        return view.explore_design()


@pytest.fixture(scope="module")
def good():
    return design.evaluate(GOOD)


def _bars(ax):
    return [p for c in ax.containers for p in c.patches]


def test_waterfall_draws_each_tiers_share_of_the_p50_and_p99_end_to_end(good):
    fig = view.plot_waterfall(good)
    assert_labelled(fig)
    ax = fig.axes[0]
    bars = _bars(ax)
    p50, p99 = bars[:len(design.TIERS)], bars[len(design.TIERS):]
    assert [b.get_width() for b in p99] == pytest.approx(list(good.breakdown_p99_ms.values()))
    assert [b.get_width() for b in p50] == pytest.approx(list(good.breakdown_p50_ms.values()))
    assert all(a.get_x() + a.get_width() == pytest.approx(b.get_x())
               for a, b in zip(p99, p99[1:], strict=False))
    worst = max(good.breakdown_p99_ms, key=good.breakdown_p99_ms.get)
    assert worst in ax.get_title(loc="left")


def test_a_saturated_design_says_so_and_hatches_the_unbounded_tier():
    r = design.evaluate(design.Design())
    ax = view.plot_waterfall(r).axes[0]
    assert "cannot keep up" in ax.get_title(loc="left") and r.saturated in ax.get_title(
        loc="left")
    assert any(b.get_hatch() for b in _bars(ax))
    assert all(math.isfinite(b.get_width()) for b in _bars(ax))


def test_requests_and_costs_are_the_models_numbers(good):
    fig = view.plot_requests(good)
    assert_labelled(fig)
    widths = [b.get_width() for b in _bars(fig.axes[0])]
    assert widths == pytest.approx([t.requests_rps for t in good.tiers])
    cmp = design.compare({"one server": design.Design(), "good": GOOD})
    fig = view.plot_costs(cmp)
    assert_labelled(fig)
    rows = {}
    for b in _bars(fig.axes[0]):
        rows.setdefault(round(b.get_y(), 3), []).append(b.get_width())
    totals = sorted(sum(v) for v in rows.values())
    assert totals == pytest.approx(sorted(r.cost_per_h for r in cmp.results.values()))


def test_the_board_and_the_failure_line(good):
    fig = view.plot_board(good)
    assert_labelled(fig)
    assert set(fig.named_axes) == {"waterfall", "cost"}
    cost = sum(b.get_width() for b in _bars(fig.named_axes["cost"]))
    assert cost == pytest.approx(good.cost_per_h)
    text = view.failure_text(good)
    for f in good.failures:
        assert f.component in text
    assert f"{good.failure('balancer').availability:.3%}" in text


def test_views_refuse_what_is_not_a_result():
    for plot in (view.plot_waterfall, view.plot_requests, view.plot_board, view.failure_text):
        with pytest.raises(TypeError, match="DesignResult"):
            plot(GOOD)
    with pytest.raises(TypeError, match="results"):
        view.plot_costs(np.zeros(3))
    with pytest.raises(TypeError, match="design"):
        view.explore_design(design="big")


def test_every_figure_and_the_board_are_readable_at_1024x768(good):
    """Issue 19 §5 for notebook 07: text at least 9 px where JupyterLab shows it at 1024×768
    with the file browser open, none cut at the figure's edge; the board's controls in two
    columns (three clipped the third at that size)."""
    from _screen import SVG_PX_PER_IN, unreadable

    from scalekit.views.style import PNG_DPI

    board = view.explore_design()
    figures = {"waterfall": (view.plot_waterfall(good), PNG_DPI),
               "requests": (view.plot_requests(good), PNG_DPI),
               "costs": (view.plot_costs({"a": good, "b": good}), PNG_DPI),
               "board": (view.plot_board(good), PNG_DPI),
               "panel": (board.figure, SVG_PX_PER_IN)}
    for name, (fig, dpi) in figures.items():
        small, cut = unreadable(fig, dpi)
        assert not small, f"{name}: text under 9 px at 1024×768: {small}"
        assert not cut, f"{name}: text cut at the figure's edge: {cut}"
    assert "repeat(2, 1fr)" in str(board.children)
    assert all(c.layout.width == "98%" for c in board.controls.values())
