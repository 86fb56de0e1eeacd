"""Issue 18: every public callable of scalekit.views.design (notebook 07's figures), given
one bad value at a time, refuses it clearly (TypeError/ValueError naming the parameter) or
accepts it for a reason listed here. The machinery and its rules: tests/_walk.py. (The
model's own parameters are walked in tests/test_api_design.py.)
"""

from __future__ import annotations

import functools

import _walk

PACKAGE = "scalekit.views.design"

V = "scalekit.views.design.board"


@functools.cache
def _result():
    from scalekit import design
    return design.evaluate(design.Design(servers=60, cache_keys=1000))


EXAMPLES = {
    f"{V}.plot_waterfall": lambda: {"result": _result()},
    f"{V}.plot_requests": lambda: {"result": _result()},
    f"{V}.plot_costs": lambda: {"results": _result()},
    f"{V}.plot_board": lambda: {"result": _result()},
    f"{V}.failure_text": lambda: {"result": _result()},
}

ACCEPTED: dict = {}

SKIP = {f"{V}.explore_design": "takes no argument (its controls are walked by the panel "
                                "contract in tests/test_views_design.py)"}


def test_walk_api():
    _walk.assert_clean(__file__)
