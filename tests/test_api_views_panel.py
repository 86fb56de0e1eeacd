"""Issue 18: every public callable of scalekit.views.panel (the widget panel every
``explore_*`` view returns), given one bad value at a time, refuses it clearly
(TypeError/ValueError naming the parameter) or accepts it for a reason listed here. The
machinery and its rules: tests/_walk.py.
"""

from __future__ import annotations

import _walk

PACKAGE = "scalekit.views.panel"

V = "scalekit.views.panel"


def _controls() -> dict:
    import ipywidgets as widgets
    return {"n": widgets.IntSlider(value=3, min=1, max=10, description="n")}


def _draw(result):
    from scalekit.views import style
    fig, ax = style.figure(width=3.0, height=2.0)
    ax.plot(range(result), range(result))
    return fig


EXAMPLES = {
    f"{V}.Panel": lambda: {"controls": _controls(), "compute": lambda n: n, "draw": _draw,
                           "title": "a panel", "describe": str, "columns": 2},
    f"{V}.Progress": lambda: {"description": "walking"},
}

ACCEPTED = {
    (f"{V}.Panel", "title"): {"string": "any text titles the panel"},
    (f"{V}.Panel", "describe"): {"None": "None: no status line (documented)"},
    (f"{V}.Progress", "description"): {"string": "any text labels the bar"},
}

SKIP: dict[str, str] = {}


def test_walk_api():
    _walk.assert_clean(__file__)
