"""Plots and widget panels for notebook 04 (partitioning and sharding).

* :mod:`~scalekit.views.partitioning.vertical` — wide against normalized: file size and the
  two query medians;
* :mod:`~scalekit.views.partitioning.sharding` — where skewed keys land under each
  strategy, and how many move when a shard is added.

Every public name is re-exported here: ``from scalekit.views import partitioning as view``.
"""

from scalekit.views.partitioning.sharding import (
    STRATEGY_NAMES,
    explore_sharding,
    origin_keys,
    plot_resharding,
    plot_shard_load,
)
from scalekit.views.partitioning.vertical import plot_layouts

__all__ = ["plot_layouts", "plot_shard_load", "plot_resharding", "explore_sharding",
           "origin_keys", "STRATEGY_NAMES"]
