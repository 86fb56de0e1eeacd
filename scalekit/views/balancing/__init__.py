"""Plots and widget panels for notebook 02 (load balancing).

One module per model module of :mod:`scalekit.balancing`:

* :mod:`~scalekit.views.balancing.policies` — policies side by side on the same requests,
  still and animated (:func:`animate_policies`); the supermarket model;
* :mod:`~scalekit.views.balancing.chokepoint` — the balancer's own capacity;
* :mod:`~scalekit.views.balancing.failover` — an active–passive pair and its heartbeat timeout;
* :mod:`~scalekit.views.balancing.health` — a backend dies; health checks take it out.

Every public name is re-exported here: ``from scalekit.views import balancing as view``.
"""

from scalekit.views.balancing.chokepoint import explore_chokepoint, plot_chokepoint
from scalekit.views.balancing.failover import (
    explore_failover,
    plot_failover,
    plot_failover_tradeoff,
)
from scalekit.views.balancing.health import explore_backend_failure, plot_backend_failure
from scalekit.views.balancing.policies import (
    animate_policies,
    explore_policies,
    plot_policies,
    plot_supermarket,
)

__all__ = ["plot_policies", "explore_policies", "plot_supermarket", "animate_policies",
           "plot_backend_failure",
           "explore_backend_failure", "plot_chokepoint", "explore_chokepoint", "plot_failover",
           "plot_failover_tradeoff", "explore_failover"]
