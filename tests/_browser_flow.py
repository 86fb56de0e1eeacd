"""Helpers for the animated request flow in the browser: the test notebook of flow views
(each after its still figure), what a view's last frame showed, and its frame rate.

Shared by tests/test_browser_flow.py and benchmarks/browser.py; the JupyterLab server and
Chromium come from :mod:`_browser`.
"""

from __future__ import annotations

from pathlib import Path

#: The trace the animated view is measured on (issue 15: 16 servers, 1,000 requests),
#: as code, so that the notebook's kernel and a test process build the very same one.
BIG_TRACE = ("flow.trace_results(sim.run(sim.Workload.poisson(rate_rps=12.8, "
             "service=sim.Exponential(1.0), n=1000, seed=1), servers=16, "
             "policy=balancing.policy('round_robin'), seed=1))")
FAILURE = ("balancing.simulate_backend_failure(sim.Workload.poisson(rate_rps=3.0, "
           "service=sim.Exponential(1.0), horizon_s=60.0, seed=2), crashed_at=20.0, "
           "recovered_at=40.0, servers=4, seed=3)")
STICKY = ("sessions.simulate_sessions(strategy='sticky_cookie', users=50, "
          "server_fails_at=60.0, real_store=False, seed=1)")
CACHED = ("flow.trace_results(sim.run(sim.Workload.poisson(rate_rps=3.0, "
          "service=sim.Exponential(1.0), n=150, seed=4), servers=4, "
          "policy=balancing.policy('round_robin'), "
          "seed=4), cache_hits_at=sim.Workload.poisson(rate_rps=6.0, "
          "service=sim.Exponential(1.0), horizon_s=45.0, seed=3).arrivals_at)")
#: The flow views of the test notebook, in the order they appear.
FLOW_VIEWS = ("big", "failure", "sticky", "cached")


def build(expression: str):
    """Evaluate one of the expressions above in this process (the same run as the
    notebook's, by its seeds)."""
    from scalekit import balancing, flow, sessions, sim

    return eval(expression, {"flow": flow, "sim": sim, "balancing": balancing,
                             "sessions": sessions})


def write_flow_notebook(path: Path) -> None:
    """A notebook of the animated view, each time after its still figure: 16 servers ×
    1,000 requests, a backend failure behind health checks, sticky users, cache hits."""
    import nbformat

    cells = [
        "from scalekit import balancing, flow, sessions, sim\n"
        "from scalekit.views import flow as view",
        f"trace = {BIG_TRACE}\nview.plot_flow(trace)",
        "big = view.FlowView(trace)\nbig",
        f"failure_result = {FAILURE}\nview.plot_flow(flow.trace_backend_failure(failure_result))",
        "failure = view.animate(failure_result)\nfailure",
        f"sticky_result = {STICKY}\nview.plot_flow(flow.trace_sessions(sticky_result))",
        "sticky = view.animate(sticky_result)\nsticky",
        f"cached_trace = {CACHED}\nview.plot_flow(cached_trace)",
        "cached = view.FlowView(cached_trace)\ncached",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


#: What a flow view's last frame showed (the view keeps it on its element as skFlowStats).
_FLOW_STATE = """(el) => {
  const s = el.skFlowStats;
  return {frames: s.frames, time: s.time, playing: el.dataset.playing === 'true',
          waiting: Array.from(s.waiting), crashed: Array.from(s.states.crashed),
          out: Array.from(s.states.out), live: el.querySelector('.sk-flow-live').textContent,
          image: el.querySelector('canvas').toDataURL()};
}"""


def flow_state(view) -> dict:
    """A flow view's (a playwright locator's) last frame: ``frames`` drawn so far, ``time``
    (s), ``playing``, ``waiting`` (the queue bars, per server), ``crashed`` and ``out``
    (per server: 1 if crashed / out of the rotation), ``live`` (the ARIA live text) and
    ``image`` (the canvas as a data URL)."""
    return view.evaluate(_FLOW_STATE)


def wait_frames(page, count: int = 10) -> None:
    """Let ``count`` animation frames pass (waiting on the browser's frames, not a clock)."""
    page.evaluate("""(n) => new Promise(done => { let k = 0;
        const f = () => (++k >= n ? done() : requestAnimationFrame(f));
        requestAnimationFrame(f); })""", count)


def wait_drawn(page, view, frames: int, *, timeout_s: float = 15.0) -> None:
    """Wait until the view has drawn at least ``frames`` frames in all."""
    page.wait_for_function("([el, n]) => el.skFlowStats.frames >= n",
                           arg=[view.element_handle(), frames], timeout=timeout_s * 1e3)


def seek(view, time_s: float) -> None:
    """Move the view's time scrubber to ``time_s``, as a dragged slider does."""
    view.evaluate("""(el, t) => { const s = el.querySelector('.sk-flow-scrub');
        s.value = String(t); s.dispatchEvent(new Event('input', {bubbles: true})); }""", time_s)


def canvas_pixel(view, x: float, y: float) -> list[int]:
    """The RGBA colour the canvas shows at CSS pixel (x, y)."""
    return view.evaluate("""(el, [x, y]) => { const c = el.querySelector('canvas');
        const r = window.devicePixelRatio || 1;
        return Array.from(c.getContext('2d').getImageData(Math.round(x * r),
                                                         Math.round(y * r), 1, 1).data); }""",
                         [x, y])


def colour_columns(view, rgb) -> list[int]:
    """The x (CSS pixels) of every canvas column holding the exact colour ``rgb``."""
    return view.evaluate("""(el, rgb) => { const c = el.querySelector('canvas');
        const r = window.devicePixelRatio || 1;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const xs = new Set();
        for (let i = 0; i < d.length; i += 4)
          if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2])
            xs.add(Math.floor((i / 4) % c.width / r));
        return [...xs].sort((a, b) => a - b); }""", list(rgb))


def kernel_execute(page, code: str, *, timeout_s: float = 30.0) -> str:
    """Run ``code`` in the open notebook's kernel; return the reply's status ("ok", or
    "error: <its message>")."""
    return page.evaluate("""async ([code, ms]) => {
        const kernel = window.__scalekitNotebook().sessionContext.session.kernel;
        const future = kernel.requestExecute({code, store_history: false});
        const reply = await Promise.race([future.done, new Promise(
            (_, no) => setTimeout(() => no(new Error('no reply')), ms))]);
        const c = reply.content;
        return c.status === 'ok' ? 'ok' : `${c.status}: ${c.ename}: ${c.evalue}`;
    }""", [code, timeout_s * 1e3])


def frame_rate(page, view, seconds: float = 2.0) -> dict:
    """While ``view`` plays: the browser's frame rate (requestAnimationFrame callbacks per
    second), the view's own (frames it drew per second) and its draw time per frame (ms,
    mean and 95th percentile of the last frames), over ``seconds`` of wall time."""
    return page.evaluate("""([el, seconds]) => new Promise(done => {
        const s = el.skFlowStats, f0 = s.frames, t0 = performance.now();
        let ticks = 0;
        const tick = (now) => {
          ticks++;
          if (now - t0 < seconds * 1000) { requestAnimationFrame(tick); return; }
          const dt = (now - t0) / 1000, ms = s.drawMs.slice().sort((a, b) => a - b);
          done({raf_fps: ticks / dt, view_fps: (s.frames - f0) / dt,
                draw_ms_mean: ms.reduce((a, b) => a + b, 0) / ms.length,
                draw_ms_p95: ms[Math.floor(ms.length * 0.95)]});
        };
        requestAnimationFrame(tick); })""", [view.element_handle(), seconds])


def crowded_frame_rate(page, view, start_s: float, end_s: float,
                       seconds: float = 2.0) -> dict:
    """Frames per second with the view redrawn every frame at a new instant between
    ``start_s`` and ``end_s`` (each frame a scrub, as when the crowded part of a run plays):
    the browser's frame rate, the view's draw time per frame (ms, mean and 95th percentile)
    and how many requests each frame showed (dots plus queued), on average."""
    return page.evaluate("""([el, a, b, seconds]) => new Promise(done => {
        const s = el.skFlowStats, scrub = el.querySelector('.sk-flow-scrub');
        const t0 = performance.now(), f0 = s.frames, shown = [];
        const tick = (now) => {
          const k = s.frames - f0;
          scrub.value = String(a + (b - a) * ((k * 0.137) % 1));
          scrub.dispatchEvent(new Event('input'));
          shown.push(s.inView);
          if (now - t0 < seconds * 1000) { requestAnimationFrame(tick); return; }
          const dt = (now - t0) / 1000, ms = s.drawMs.slice().sort((x, y) => x - y);
          done({raf_fps: shown.length / dt,
                draw_ms_mean: ms.reduce((x, y) => x + y, 0) / ms.length,
                draw_ms_p95: ms[Math.floor(ms.length * 0.95)],
                in_view: shown.reduce((x, y) => x + y, 0) / shown.length});
        };
        requestAnimationFrame(tick); })""", [view.element_handle(), start_s, end_s, seconds])
