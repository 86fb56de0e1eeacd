"""Plots and widget panels for notebook 05 (replication).

* :mod:`~scalekit.views.replication.single` — commit modes side by side, replication lag
  around a failover, and the single-primary panel;
* :mod:`~scalekit.views.replication.timeline` — one write travelling through the nodes in
  each commit mode, the acknowledgement's return trip drawn;
* :mod:`~scalekit.views.replication.multi` — concurrent updates resolved by each rule.

Every public name is re-exported here: ``from scalekit.views import replication as view``.
"""

from scalekit.views.replication.multi import explore_conflicts, plot_conflicts
from scalekit.views.replication.single import explore_replication, plot_commit_modes, plot_lag
from scalekit.views.replication.timeline import WriteTrace, plot_write_timeline, trace_write

__all__ = ["plot_commit_modes", "plot_lag", "plot_write_timeline", "trace_write", "WriteTrace",
           "explore_replication", "plot_conflicts", "explore_conflicts"]
