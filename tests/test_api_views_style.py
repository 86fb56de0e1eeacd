"""Issue 18: every public callable of scalekit.views.style (the figures every view draws
into), given one bad value at a time, refuses it clearly (TypeError/ValueError naming the
parameter) or accepts it for a reason listed here. The machinery: tests/_walk.py.
"""

from __future__ import annotations

import _walk

PACKAGE = "scalekit.views.style"

V = "scalekit.views.style"


def _fig():
    from scalekit.views.style import figure
    fig, _ = figure(width=3.0, height=2.0)
    return fig


def _ax():
    from scalekit.views.style import figure
    _, ax = figure(width=3.0, height=2.0)
    return ax


EXAMPLES = {
    f"{V}.figure": lambda: {"width": 3.0, "height": 2.0},
    f"{V}.plain_numbers": lambda: {"axis": _ax().yaxis},
    f"{V}.twinx": lambda: {"ax": _ax()},
    f"{V}.finish": lambda: {"fig": _fig()},
    f"{V}.styled": lambda: {"fn": lambda: _fig()},
    f"{V}.to_png": lambda: {"fig": _fig()},
    f"{V}.to_svg": lambda: {"fig": _fig()},
}

ACCEPTED = {
    (f"{V}.figure", "mosaic"): {"None": "None: a grid of ncols × nrows (the default)"},
    (f"{V}.figure", "ratios"): {"None": "None: equal shares (the default)",
                                "empty dict": "no ratios: equal shares"},
}

SKIP = {
    f"{V}.Figure": "matplotlib's Figure (its arguments are matplotlib's to check); the "
                   "kit's figures come from figure()",
    f"{V}.Figure.set": "matplotlib's Artist.set, generated for every Artist subclass",
    f"{V}.drawing_into": "a context manager: a call runs nothing until its `with` block "
                         "(the panel passes its own previous figure)",
}


def test_walk_api():
    _walk.assert_clean(__file__)
