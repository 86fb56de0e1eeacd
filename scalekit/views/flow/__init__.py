"""The request flow, still and animated — views of :mod:`scalekit.flow`.

* :func:`plot_flow` — the still figure of a trace: every request on its server's row, from
  arrival to departure (waiting, then in service), the failures and the cluster's events;
  the figure a notebook shows first, readable where JavaScript does not run;
* :class:`FlowView` — the same trace animated in the browser (an anywidget: play, pause,
  speed, scrub; keyboard operable; an ARIA live one-sentence summary); :func:`animate`
  builds one from a trace or a model result.

``from scalekit.views import flow as view``.
"""

from scalekit.views.flow.static import plot_flow
from scalekit.views.flow.widget import FlowView, animate

__all__ = ["plot_flow", "FlowView", "animate"]
