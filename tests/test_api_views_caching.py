"""Issue 18: every public callable of scalekit.views.caching, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery: tests/_walk.py. (Views take model results; the models' own
parameters are walked in tests/test_api_caching.py.)
"""

from __future__ import annotations

import functools

import _walk

PACKAGE = "scalekit.views.caching"

V = "scalekit.views.caching"


@functools.cache
def _curve():
    from scalekit.caching.serverside.aside import hit_ratio_curve
    return hit_ratio_curve([5, 10], keys=50, requests=300)


@functools.cache
def _browse():
    from scalekit.caching.http.browser import browse
    return browse(duration_s=600.0)


@functools.cache
def _herds():
    from scalekit.caching.serverside.stampede import herd
    return [herd(duration_s=2.0, rate_rps=100.0)]


@functools.cache
def _revalidation():
    from scalekit.caching.http.timeline import revalidation_timeline
    return revalidation_timeline()


@functools.cache
def _ttl():
    from scalekit.caching.serverside.ttl import ttl_tradeoff
    return ttl_tradeoff([1.0, 5.0], keys=20, duration_s=5.0)


EXAMPLES = {
    f"{V}.aside.plot_hit_ratio": lambda: {"result": _curve()},
    f"{V}.aside.explore_cache": lambda: {"keys": 200},
    f"{V}.browser.plot_browse": lambda: {"result": _browse()},
    f"{V}.browser.plot_max_age": lambda: {"runs": [_browse()]},
    f"{V}.stampede.plot_herd": lambda: {"runs": _herds()},
    f"{V}.timeline.plot_revalidation": lambda: {"result": _revalidation()},
    f"{V}.ttl.plot_ttl": lambda: {"result": _ttl()},
}

ACCEPTED = {}

SKIP = {
    f"{V}.engines.plot_proxy_cache": "takes a result only a real-nginx run builds "
                                     "(seconds); its type check comes first "
                                     "(views._common.expect)",
    f"{V}.engines.plot_eviction_on_valkey": "takes a result only a real-Valkey run builds "
                                            "(seconds); its type check comes first "
                                            "(views._common.expect)",
}


def test_walk_api():
    _walk.assert_clean(__file__)
