"""Issue 18: every public callable of scalekit.views.panel (the widget panel every explore_*
builds), given one bad value at a time, refuses it clearly (TypeError/ValueError naming the
parameter) or accepts it for a reason listed here. The machinery: tests/_walk.py.
"""

from __future__ import annotations

import _walk

PACKAGE = "scalekit.views.panel"

V = "scalekit.views.panel"


def _controls() -> dict:
    import ipywidgets as widgets
    return {"n": widgets.IntSlider(value=2, min=1, max=5)}


def _draw(result):
    from scalekit.views.style import figure
    fig, ax = figure(width=3.0, height=2.0)
    ax.plot([0, 1], [0, result])
    return fig


EXAMPLES = {
    f"{V}.Panel": lambda: {"controls": _controls(), "compute": lambda n: n,
                           "draw": _draw},
}

ACCEPTED = {
    (f"{V}.Panel", "title"): {"string": "any title text (HTML-escaped)"},
    (f"{V}.Progress", "description"): {"string": "any description text"},
}

SKIP = {}


def test_walk_api():
    _walk.assert_clean(__file__)
