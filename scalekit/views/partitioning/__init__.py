"""Plots and widget panels for notebook 04 (partitioning and sharding).

* :mod:`~scalekit.views.partitioning.vertical` — wide against normalized: file size and the
  two query medians;
* :mod:`~scalekit.views.partitioning.sharding` — where skewed keys land under each
  strategy, and how many move when a shard is added (by id and by a skewed key);
* :mod:`~scalekit.views.partitioning.commit` — what a reshard killed at each step leaves on
  disk, and what recovery makes of it.

Every public name is re-exported here: ``from scalekit.views import partitioning as view``.
"""

from scalekit.views.partitioning.commit import plot_crash_matrix
from scalekit.views.partitioning.sharding import (
    STRATEGY_NAMES,
    explore_sharding,
    plot_moved_by_key,
    plot_resharding,
    plot_shard_load,
)
from scalekit.views.partitioning.vertical import plot_layouts

__all__ = ["plot_layouts", "plot_shard_load", "plot_resharding", "plot_moved_by_key",
           "plot_crash_matrix", "explore_sharding", "STRATEGY_NAMES"]
