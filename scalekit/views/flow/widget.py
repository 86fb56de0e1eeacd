"""The animated request flow: an anywidget whose ES module (``flow.js``, shipped beside this
file, no build step) replays a :class:`scalekit.flow.FlowTrace` on a canvas.

Python holds the truth: the trace is computed by the model and handed over as JSON columns;
the browser only replays it. ``playing``, ``speed`` (simulated seconds per second on screen)
and ``time_s`` (the instant shown, s) are synced both ways: set them from Python to drive the
animation; the browser reports ``time_s`` when it pauses or is scrubbed.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

from scalekit import _check, flow
from scalekit.views._common import expect

__all__ = ["FlowView", "animate"]

_HERE = Path(__file__).resolve().parent
#: A run plays in about this many seconds at the default speed.
PLAY_S = 20.0


class FlowView(anywidget.AnyWidget):
    """Requests as dots from clients through the balancer to the servers; each server's
    queue as a bar; a dead server greyed out, and its link cut once the balancer marks it
    down; followed users in their own colour; cache hits turning back at the balancer.

    ``trace`` — a :class:`scalekit.flow.FlowTrace`; ``speed`` — simulated seconds per
    second on screen (default: the run in about :data:`PLAY_S` seconds).
    """

    _esm = _HERE / "flow.js"
    _css = _HERE / "flow.css"
    trace = traitlets.Dict().tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    speed = traitlets.Float(1.0).tag(sync=True)
    time_s = traitlets.Float(0.0).tag(sync=True)

    def __init__(self, trace: flow.FlowTrace, *, speed: float | None = None, **kwargs):
        expect("trace", trace, flow.FlowTrace)
        unknown = sorted(set(kwargs) - set(self.class_trait_names()) - {"trace"})
        if unknown:
            raise TypeError(f"unknown FlowView option(s) {', '.join(unknown)}; it takes speed, "
                            f"and the widget's own traits (playing, time_s, layout …)")
        end = max(trace.horizon_s, float(trace.ended_at.max(initial=0.0)))
        chosen = max(end / PLAY_S, 0.1) if speed is None else _check.positive("speed", speed)
        self.flow = trace
        try:
            super().__init__(trace=trace.to_json(), speed=chosen, **kwargs)
        except traitlets.TraitError as exc:  # a trait given a wrong value: say so as Python does
            raise TypeError(str(exc)) from None

    @property
    def summary(self) -> str:
        """The one-sentence summary the widget shows and announces first."""
        return self.flow.summary()


def animate(result, **options) -> FlowView:
    """A :class:`FlowView` of a trace, or of a model result: :class:`scalekit.sim.Results`,
    a backend failure (:func:`scalekit.balancing.simulate_backend_failure`) or logged-in
    users (:func:`scalekit.sessions.simulate_sessions`). ``options`` go to
    :class:`FlowView` (``speed``)."""
    return FlowView(_trace(result), **options)


def _trace(result) -> flow.FlowTrace:
    from scalekit import balancing, sessions, sim

    if isinstance(result, flow.FlowTrace):
        return result
    if isinstance(result, sim.Results):
        return flow.trace_results(result)
    if isinstance(result, balancing.BackendFailureResult):
        return flow.trace_backend_failure(result)
    if isinstance(result, sessions.SessionsResult):
        return flow.trace_sessions(result)
    raise TypeError("result must be a scalekit.flow.FlowTrace, scalekit.sim.Results, "
                    "scalekit.balancing.BackendFailureResult or scalekit.sessions."
                    f"SessionsResult, got {type(result).__name__}")
