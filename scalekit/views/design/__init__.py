"""Plots and the design board for notebook 07 (capstone), views of :mod:`scalekit.design`.

* :mod:`~scalekit.views.design.board` — the latency waterfall by tier, requests per tier,
  cost per tier, the failure summary, and the design board widget.

Every public name is re-exported here: ``from scalekit.views import design as view``.
"""

from scalekit.views.design.board import (
    explore_design,
    failure_text,
    plot_board,
    plot_costs,
    plot_requests,
    plot_waterfall,
)

__all__ = ["plot_waterfall", "plot_requests", "plot_costs", "plot_board", "failure_text",
           "explore_design"]
