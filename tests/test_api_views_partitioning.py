"""Issue 18: every public callable of scalekit.views.partitioning, given one bad value at a
time, refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a
reason listed here. The machinery: tests/_walk.py. (Views take model results; the models'
own parameters are walked in tests/test_api_partitioning.py.)
"""

from __future__ import annotations

import functools

import _walk

PACKAGE = "scalekit.views.partitioning"

V = "scalekit.views.partitioning"


@functools.cache
def _keys() -> tuple:
    from scalekit.partitioning import origin_keys
    return origin_keys(rows=500)


@functools.cache
def _curves() -> tuple:
    from scalekit.partitioning import resharding_curve
    return tuple(resharding_curve(name, list(_keys()), 4) for name in ("modulo", "jump"))


@functools.cache
def _layouts():
    from scalekit import partitioning
    ports = partitioning.airports(20, seed=1)
    return partitioning.compare_layouts(partitioning.flights(200, ports, seed=1), ports,
                                        repeats=1)


EXAMPLES = {
    f"{V}.sharding.plot_shard_load": lambda: {"keys": list(_keys()), "shards": 4},
    f"{V}.sharding.plot_resharding": lambda: {"keys": list(_keys()), "max_shards": 4},
    f"{V}.sharding.plot_moved_by_key": lambda: {"by_id": list(_curves()),
                                                "by_origin": list(_curves())},
    f"{V}.vertical.plot_layouts": lambda: {"result": _layouts()},
}

ACCEPTED = {
    (f"{V}.sharding.plot_shard_load", "keys"): {
        "None": "None: the flights' origins, origin_keys() (documented)"},
    (f"{V}.sharding.plot_resharding", "keys"): {
        "None": "None: the flights' origins, origin_keys() (documented)"},
}

SKIP = {
    f"{V}.commit.plot_crash_matrix": "takes a result only crash_matrix builds (a child "
                                     "process per step, seconds); its type check comes "
                                     "first (views._common.expect)",
    f"{V}.postgres.plot_pruning": "takes a result only a real-PostgreSQL run builds; its "
                                  "type check comes first (views._common.expect)",
    f"{V}.postgres.plot_resize": "takes a result only a real-PostgreSQL run builds; its "
                                 "type check comes first (views._common.expect)",
}


def test_walk_api():
    _walk.assert_clean(__file__)
