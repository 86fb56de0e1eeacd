"""Issue 18: every public callable of scalekit.views.sessions, given one bad value at a
time, refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a
reason listed here. The machinery and its rules: tests/_walk.py. (Views take model results;
the models' own parameters are walked in tests/test_api_sessions.py.)
"""

from __future__ import annotations

import functools

import _walk

PACKAGE = "scalekit.views.sessions"

V = "scalekit.views.sessions"
KEY = "a secret key of some length"


@functools.cache
def _comparison():
    from scalekit import sessions
    return sessions.compare_strategies(["none", "sticky_cookie"], servers=3, users=6,
                                       visit_requests=3, duration_s=10.0, server_fails_at=5.0,
                                       real_store=False, seed=1)


@functools.cache
def _journeys():
    from scalekit import flow, sessions
    c = sessions.compare_strategies(server_fails_at=60.0, detection_s=6.0, seed=1)
    user = c.user_to_follow()  # (notebook 03's run: one that has a user to follow)
    return {k: flow.trace_sessions(r, follow=[user]) for k, r in c.results.items()}


def _signer():
    from scalekit.sessions import cookies
    return cookies.SessionSigner(KEY, clock=lambda: 1.7e9)


def _cookie() -> str:
    return _signer().dumps({"user": "ada"})


EXAMPLES = {
    f"{V}.journeys.plot_journeys": lambda: {"traces": _journeys()},
    f"{V}.journeys.animate_journeys": lambda: {"traces": _journeys()},
    f"{V}.cookies.show_cookie": lambda: {"cookie": _cookie(), "signer": _signer()},
    f"{V}.sessions.plot_sessions": lambda: {"comparison": _comparison()},
}

ACCEPTED = {
    (f"{V}.cookies.show_cookie", "cookie"): {
        "string": "any text is shown: a cookie that does not parse is reported as such "
                  "(documented: the view names the problem)"},
    (f"{V}.cookies.show_cookie", "signer"): {
        "None": "None: the parts are shown, the signature is not checked (documented)"},
}

SKIP = {
    f"{V}.cookies.CookieView": "a view record built only by show_cookie (walked)",
    f"{V}.sessions.explore_sessions": "builds an interactive panel (no argument); its sliders "
                                      "bound every value, and the model under it is walked "
                                      "in test_api_sessions.py",
    f"{V}.engines.plot_stickiness_on_haproxy": "takes a result only a real-HAProxy run "
                                               "builds (seconds); its type check comes first",
}


def test_walk_api():
    _walk.assert_clean(__file__)
