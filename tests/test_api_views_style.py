"""Issue 18: every public callable of scalekit.views.style (the figures every view draws
on), given one bad value at a time, refuses it clearly (TypeError/ValueError naming the
parameter) or accepts it for a reason listed here. The machinery and its rules:
tests/_walk.py.
"""

from __future__ import annotations

import _walk

PACKAGE = "scalekit.views.style"

V = "scalekit.views.style"


def _fig():
    from scalekit.views import style
    return style.figure()[0]


def _ax():
    from scalekit.views import style
    return style.figure()[1]


EXAMPLES = {
    f"{V}.figure": lambda: {"ncols": 2, "nrows": 1, "width": 6.0, "height": 3.0,
                            "left": 0.12},
    f"{V}.drawing_into": lambda: {"fig": _fig()},
    f"{V}.plain_numbers": lambda: {"axis": _ax().yaxis},
    f"{V}.twinx": lambda: {"ax": _ax()},
    f"{V}.finish": lambda: {"fig": _fig()},
    f"{V}.styled": lambda: {"fn": _fig},
    f"{V}.to_png": lambda: {"fig": _fig()},
    f"{V}.to_svg": lambda: {"fig": _fig()},
}

ACCEPTED = {
    (f"{V}.figure", "mosaic"): {"None": "None: a grid of ncols × nrows (documented)"},
    (f"{V}.figure", "ratios"): {"None": "None: equal sizes (documented)",
                                "empty dict": "no ratios given: equal sizes"},
    (f"{V}.drawing_into", "fig"): {"None": "None: figure() builds a new figure (documented)"},
}

SKIP = {
    f"{V}.Figure": "matplotlib's Figure with a PNG display: its arguments are matplotlib's "
                   "own (built only by figure())",
    f"{V}.Figure.set": "matplotlib's Artist.set, generated per class",
}


def test_walk_api():
    _walk.assert_clean(__file__)
