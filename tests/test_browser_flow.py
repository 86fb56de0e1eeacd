"""The animated request flow in a real JupyterLab and a real Chromium.

A notebook of our own (built here, run in a temporary folder) shows four flow views, each
after its still figure: 16 servers × 1,000 requests, a backend dying behind health checks,
sticky users through a server failure, and cache hits. In the browser: the notebook runs
clean and every view renders; the canvas changes while playing and stops on pause; the
controls work from the keyboard; what the view shows — its queue bars, its server states,
its live sentence — is what the trace says at that instant (the trace rebuilt in this
process from the same seeds); Python drives the view and the view reports back.

Sources: WAI-ARIA 1.2, ``role="status"`` / ``aria-live="polite"`` (a live region announces
changes without moving focus) and ``aria-pressed`` (a toggle button); HTML's
``<input type=range>`` takes the arrow keys; requestAnimationFrame (HTML Living Standard,
"run the animation frame callbacks") paces the frames counted here.
"""

import math
import re

import _browser
import _browser_flow
import numpy as np
import pytest

from scalekit import flow

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_browser.missing()),
                                                   reason=_browser.missing() or "ok")]

DEAD_GREY = [187, 187, 187, 255]  # flow.js COLOR.dead, #BBBBBB
WHITE = [255, 255, 255, 255]
CACHE_GREEN = (0, 158, 115)  # flow.js COLOR.cache, #009E73


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """(page, per-cell outputs) of the flow notebook, run all once for the module."""
    folder = tmp_path_factory.mktemp("flow")
    _browser_flow.write_flow_notebook(folder / "flow.ipynb")
    with _browser.ran_notebook(folder, "flow.ipynb") as ran:
        yield ran


@pytest.fixture
def page(notebook):
    return notebook[0]


def view(page, name: str):
    """The flow view bound to ``name`` in the notebook, scrolled into sight, paused."""
    v = page.locator(".sk-flow").nth(_browser_flow.FLOW_VIEWS.index(name))
    v.scroll_into_view_if_needed()
    if _browser_flow.flow_state(v)["playing"]:
        v.locator(".sk-flow-play").click()
    return v


@pytest.fixture(scope="module")
def big_trace():
    return _browser_flow.build(_browser_flow.BIG_TRACE)


def test_notebook_runs_clean_and_every_view_renders(notebook):
    page, cells = notebook
    assert all(c["ran"] for c in cells)
    assert [p for c in cells for p in c["problems"]] == []
    assert sum(c["widgets"] for c in cells) == len(_browser_flow.FLOW_VIEWS)
    assert all(c["rendered"] == c["widgets"] and not c["broken"] for c in cells)
    assert page.locator(".sk-flow canvas").count() == len(_browser_flow.FLOW_VIEWS)


def test_a_still_figure_comes_before_each_view(notebook):
    _, cells = notebook
    shown = [("image" if "plot_flow" in c["source"] else "view" if c["widgets"] else None)
             for c in cells]
    order = [s for s in shown if s]
    assert order == ["image", "view"] * len(_browser_flow.FLOW_VIEWS)


def test_the_canvas_changes_while_playing_and_stops_on_pause(page):
    v = view(page, "big")
    before = _browser_flow.flow_state(v)
    v.locator(".sk-flow-play").click()
    _browser_flow.wait_drawn(page, v, before["frames"] + 10)
    first = _browser_flow.flow_state(v)
    _browser_flow.wait_drawn(page, v, first["frames"] + 10)
    second = _browser_flow.flow_state(v)
    assert before["time"] < first["time"] < second["time"]
    assert first["image"] != second["image"], "the picture did not move while playing"
    v.locator(".sk-flow-play").click()
    page.wait_for_function("el => el.dataset.playing === 'false'", arg=v.element_handle())
    paused = _browser_flow.flow_state(v)
    _browser_flow.wait_frames(page, 15)
    later = _browser_flow.flow_state(v)
    assert later["frames"] == paused["frames"] and later["time"] == paused["time"]
    assert later["image"] == paused["image"], "the picture moved after pause"


def test_the_controls_work_from_the_keyboard(page):
    v = view(page, "big")
    end = float(v.locator(".sk-flow-scrub").get_attribute("max"))
    canvas = v.locator("canvas")
    canvas.focus()
    canvas.press("Home")
    assert _browser_flow.flow_state(v)["time"] == 0
    canvas.press("ArrowRight")  # a step of 2% of the run
    assert _browser_flow.flow_state(v)["time"] == pytest.approx(0.02 * end)
    canvas.press(" ")
    page.wait_for_function("el => el.dataset.playing === 'true'", arg=v.element_handle())
    assert v.locator(".sk-flow-play").get_attribute("aria-pressed") == "true"
    canvas.press(" ")
    page.wait_for_function("el => el.dataset.playing === 'false'", arg=v.element_handle())
    canvas.press("Tab")  # next in the tab order: the play button
    assert page.evaluate("() => document.activeElement.className") == "sk-flow-play"
    page.keyboard.press("Enter")
    page.wait_for_function("el => el.dataset.playing === 'true'", arg=v.element_handle())
    page.keyboard.press("Enter")
    page.wait_for_function("el => el.dataset.playing === 'false'", arg=v.element_handle())
    scrub = v.locator(".sk-flow-scrub")
    scrub.focus()
    at = _browser_flow.flow_state(v)["time"]
    scrub.press("ArrowRight")
    assert _browser_flow.flow_state(v)["time"] > at
    speed = v.locator(".sk-flow-speed")
    chosen = speed.input_value()
    speed.focus()
    page.keyboard.press("ArrowDown")  # a closed native select steps through its options
    assert speed.input_value() != chosen


def test_the_queue_bars_are_the_models_queues(page, big_trace):
    """At several instants, each server's bar is the number of requests the trace has
    waiting there — which the model's departures imply (Lindley: start = max(arrival,
    previous departure))."""
    v = view(page, "big")
    edges = np.concatenate([big_trace.dispatched_at, big_trace.started_at[
        np.isfinite(big_trace.started_at)]])
    busiest = []
    for target in np.linspace(5.0, 70.0, 9):
        _browser_flow.seek(v, float(target))
        shown = _browser_flow.flow_state(v)
        t = shown["time"]  # the scrubber's step (1/1000 of the run) rounds the instant
        assert abs(t - target) <= big_trace.horizon_s / 1000
        if np.min(np.abs(edges - t)) < 1e-4:  # JSON carries µs: keep off the edges
            continue
        wanted = [int(big_trace.waiting_at([t], s)[0]) for s in range(big_trace.servers)]
        assert shown["waiting"] == wanted, f"t = {t:.3f} s"
        busiest.append(max(wanted))
    assert len(busiest) >= 5 and max(busiest) >= 2, "the instants should show some queue"


def test_the_live_sentence_tells_what_the_trace_says(page, big_trace):
    v = view(page, "big")
    _browser_flow.seek(v, 33.3)
    v.locator(".sk-flow-scrub").dispatch_event("change")  # releasing the scrubber speaks
    live = v.locator(".sk-flow-live")
    assert live.get_attribute("aria-live") == "polite" and live.get_attribute("role") == "status"
    text = _browser_flow.flow_state(v)["live"]
    m = re.fullmatch(r"At ([\d.]+) s: ([\d,]+) requests of 1,000 arrived, ([\d,]+) answered, "
                     r"(\d+) failed\.", text)
    assert m, text
    t = _browser_flow.flow_state(v)["time"]
    arrived = int((big_trace.arrivals_at <= t).sum())
    answered = int((big_trace.departures_at <= t).sum())
    assert (int(m[2].replace(",", "")), int(m[3].replace(",", "")), int(m[4])) == (
        arrived, answered, 0)


def test_the_summary_is_the_traces_and_labels_the_picture(page, big_trace):
    v = view(page, "big")
    assert v.locator(".sk-flow-summary").text_content() == big_trace.summary()
    assert big_trace.summary() in v.locator("canvas").get_attribute("aria-label")
    assert v.locator("canvas").get_attribute("role") == "img"


def test_a_dead_server_greys_out_and_the_balancer_notices_after_the_checks(page):
    result = _browser_flow.build(_browser_flow.FAILURE)
    v = view(page, "failure")
    geo = v.evaluate("el => el.skFlowStats.geo")
    box = (geo["serverX"] + geo["boxW"] - 4, geo["top"] + geo["row"] * 0.5)  # server 0
    moments = [(result.crashed_at - 2, 0, 0, WHITE, ""),
               ((result.crashed_at + result.marked_down_at) / 2, 1, 0, DEAD_GREY,
                "server 0 is down but the balancer still sends to it"),
               ((result.marked_down_at + result.recovered_at) / 2, 1, 1, DEAD_GREY,
                "server 0 is down and out of the rotation"),
               ((result.recovered_at + result.marked_up_at) / 2, 0, 1, WHITE,
                "server 0 is back but not yet in the rotation"),
               (result.marked_up_at + 2, 0, 0, WHITE, "")]
    for t, crashed, out, colour, words in moments:
        _browser_flow.seek(v, t)
        v.locator(".sk-flow-scrub").dispatch_event("change")
        shown = _browser_flow.flow_state(v)
        assert (shown["crashed"][0], shown["out"][0]) == (crashed, out), f"t = {t:.2f} s"
        assert shown["crashed"][1:] == [0, 0, 0] and shown["out"][1:] == [0, 0, 0]
        assert _browser_flow.canvas_pixel(v, *box) == colour, f"t = {t:.2f} s"
        assert words in shown["live"] and ("server 0" in shown["live"]) == bool(words)


def test_cache_hits_turn_back_at_the_balancer(page):
    trace = _browser_flow.build(_browser_flow.CACHED)
    v = view(page, "cached")
    geo = v.evaluate("el => el.skFlowStats.geo")
    hits = trace.arrivals_at[trace.outcome == flow.CACHE_HIT]
    assert "by the cache" in v.locator(".sk-flow-summary").text_content()
    seen = []
    for a in hits[5:40:7]:
        _browser_flow.seek(v, float(a) + 1e-3)  # just answered: on its way back from the balancer
        seen += _browser_flow.colour_columns(v, CACHE_GREEN)
    assert seen, "no cache hit drawn"
    assert max(seen) <= geo["balancer"]["x"] + 10, "a cache hit went past the balancer"


def test_sticky_users_have_their_own_colours(page):
    result = _browser_flow.build(_browser_flow.STICKY)
    trace = flow.trace_sessions(result)
    v = view(page, "sticky")
    assert "a followed user" in v.locator(".sk-flow-legend").text_content()
    assert trace.summary() == v.locator(".sk-flow-summary").text_content()
    # The first followed user's colour (Okabe–Ito blue; everyone else's requests are grey)
    # shows while one of their requests is on its way to the balancer.
    first = trace.followed_users[0]
    arrival = float(trace.arrivals_at[trace.user_of == first][0])
    trip = v.evaluate("el => el.skFlowStats.trip")
    _browser_flow.seek(v, arrival - 0.2 * trip)
    assert _browser_flow.colour_columns(v, (0, 114, 178)), "the followed user's request not drawn"


def test_python_drives_the_view_and_the_view_reports_back(page):
    v = view(page, "big")
    assert _browser_flow.kernel_execute(page, "big.time_s = 12.5") == "ok"
    page.wait_for_function("el => Math.abs(el.skFlowStats.time - 12.5) < 1e-9",
                           arg=v.element_handle())
    _browser_flow.seek(v, 21.25)
    v.locator(".sk-flow-scrub").dispatch_event("change")  # released: the view reports
    shown = _browser_flow.flow_state(v)["time"]
    status = _browser_flow.kernel_execute(
        page, f"assert abs(big.time_s - {shown!r}) < 1e-9, big.time_s")
    assert status == "ok"
    assert _browser_flow.kernel_execute(page, "big.playing = True") == "ok"
    page.wait_for_function("el => el.dataset.playing === 'true'", arg=v.element_handle())
    assert _browser_flow.kernel_execute(page, "big.playing = False") == "ok"
    page.wait_for_function("el => el.dataset.playing === 'false'", arg=v.element_handle())


def test_frame_rate_is_recorded(page, record_property):
    """Frames per second while the 16 × 1,000 view plays (recorded, not asserted: the
    benchmark reports it; here the machine is shared with the rest of the suite)."""
    v = view(page, "big")
    _browser_flow.seek(v, 10.0)
    v.locator(".sk-flow-play").click()
    rate = _browser_flow.frame_rate(page, v, seconds=1.0)
    v.locator(".sk-flow-play").click()
    record_property("flow_fps", round(rate["view_fps"], 1))
    record_property("flow_draw_ms_p95", round(rate["draw_ms_p95"], 2))
    assert rate["view_fps"] > 0 and math.isfinite(rate["draw_ms_mean"])
