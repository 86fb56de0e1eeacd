"""Plots and widget panels for notebook 01 (servers).

Each ``plot_*`` takes a model result and returns a Figure whose title states the finding;
each ``explore_*`` returns a :class:`~scalekit.views.panel.Panel` wired to one model.
One module per model module of :mod:`scalekit.servers`:

* :mod:`~scalekit.views.servers.capacity` — saturating a server; ramping the load to an SLO;
* :mod:`~scalekit.views.servers.httpbench` — a real HTTP benchmark against its prediction;
* :mod:`~scalekit.views.servers.scaling` — one big server vs many; the USL; costs;
* :mod:`~scalekit.views.servers.autoscaling` — a day of traffic, autoscaled or fixed;
* :mod:`~scalekit.views.servers.heartbeats` — crash detection and false suspicions.

Every public name is re-exported here: ``from scalekit.views import servers as view``.
"""

from scalekit.views.servers.autoscaling import day_trace, explore_autoscaling, plot_autoscaling
from scalekit.views.servers.capacity import (
    explore_ramp,
    explore_saturation,
    plot_ramp,
    plot_saturation,
    saturate,
)
from scalekit.views.servers.heartbeats import (
    explore_heartbeats,
    plot_heartbeats,
    plot_timeout_tradeoff,
)
from scalekit.views.servers.httpbench import plot_benchmark, run_benchmark
from scalekit.views.servers.scaling import (
    explore_scaling,
    explore_usl,
    plot_costs,
    plot_scaling,
    plot_usl,
)

__all__ = [
    "saturate",
    "plot_saturation",
    "explore_saturation",
    "plot_ramp",
    "explore_ramp",
    "plot_scaling",
    "explore_scaling",
    "plot_usl",
    "explore_usl",
    "plot_costs",
    "run_benchmark",
    "plot_benchmark",
    "day_trace",
    "plot_autoscaling",
    "explore_autoscaling",
    "plot_heartbeats",
    "plot_timeout_tradeoff",
    "explore_heartbeats",
]
