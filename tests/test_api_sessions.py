"""Issue 18: every public callable of scalekit.sessions, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here; and the one writer, SessionStore.replace_all, given a bad row, leaves the table
as it was. The machinery and its rules: tests/_walk.py.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pytest

import _walk

PACKAGE = "scalekit.sessions"
ELSEWHERE = ("scalekit.sessions.cookies",)  # tests/test_api_cookies.py walks it

SE = "scalekit.sessions"
# Small runs: a few users for a few seconds, the store's rows written once at the end.
SMALL = {"servers": 3, "users": 6, "visit_requests": 3, "think_s": 1.0, "duration_s": 10.0,
         "server_fails_at": 5.0, "real_store": False, "seed": 1}


@functools.cache
def _result():
    from scalekit import sessions
    return sessions.simulate_sessions("sticky_cookie", **SMALL)


def _state():
    from scalekit import sim
    return sim.ClusterState([1.0, 1.0, 1.0], np.random.default_rng(0))


def _policy():
    from scalekit import balancing
    return balancing.policy("round_robin")


ADDRESSES = ("192.0.2.1", "198.51.100.7", "203.0.113.9")


def _cluster():
    from scalekit.sessions import strategies
    return strategies.Cluster(3, _policy(), _state(), ADDRESSES)


def _store():
    from scalekit.sessions import store
    s = store.SessionStore("walk-sessions.sqlite3", durable=False)
    s.replace_all([("s1", {"user_id": 1}, 0.0)])
    return s


EXAMPLES = {
    f"{SE}.cluster.SessionsSettings": lambda: dict(SMALL),
    f"{SE}.cluster.simulate_sessions": lambda: {"strategy": "database", **SMALL},
    f"{SE}.cluster.compare_strategies": lambda: {"strategies": ["none", "sticky_ip"],
                                                 **SMALL},
    f"{SE}.engines.expected_moved": lambda: {"addresses": list(ADDRESSES), "servers": 3,
                                             "dead": 0},
    f"{SE}.engines.source_addresses": lambda: {"users": 5},
    f"{SE}.results.SessionsResult.timeline": lambda: {"bin_s": 1.0},
    f"{SE}.store.SessionStore": lambda: {"path": "walk-store.sqlite3", "durable": False},
    f"{SE}.store.SessionStore.load": lambda: {"session_id": "s1"},
    f"{SE}.store.SessionStore.handle": lambda: {"session_id": "s1",
                                                "update": lambda data: data, "now": 1.0},
    f"{SE}.store.SessionStore.replace_all": lambda: {"rows": [("s2", {"user_id": 2}, 1.0)]},
    f"{SE}.store.measure_store_latency": lambda: {"samples": 5, "sessions": 10,
                                                  "durable": False},
    f"{SE}.store.store_latency": lambda: {"durable": False},
    f"{SE}.strategies.Cluster": lambda: {"n": 3, "policy": _policy(), "state": _state(),
                                         "addresses": ADDRESSES},
    f"{SE}.strategies.Cluster.ip_hash": lambda: {"user": 1},
    f"{SE}.strategies.SessionRouting": lambda: {"strategy": _sticky(), "balancer": _policy(),
                                                "user_of": [0, 1, 2, 0],
                                                "addresses": ADDRESSES},
    f"{SE}.strategies.strategy": lambda: {"strategy": "sticky_cookie"},
    f"{SE}.strategies.balancing_policy": lambda: {"policy": "round_robin"},
    f"{SE}.visits.draw_visits": lambda: {"users": 5, "visit_requests": 3, "think_s": 1.0,
                                         "duration_s": 10.0, "service_s": 0.05,
                                         "nat_share": 0.2, "seed": 1},
    f"{SE}.visits.visit_steps": lambda: {"visit_requests": 4},
    f"{SE}.visits.cookie_sizes": lambda: {"visit_requests": 4, "session_bytes": 200},
    f"{SE}.visits.session_data": lambda: {"visit_requests": 4, "session_bytes": 200,
                                          "user": 3},
}


def _sticky():
    from scalekit.sessions import strategies
    return strategies.StickyCookie()


INSTANCES = {
    f"{SE}.results.SessionsResult": _result,
    f"{SE}.store.SessionStore": _store,
    f"{SE}.strategies.Cluster": _cluster,
}

NONE_SEED = {"None": "seed=None asks for fresh entropy (numpy's default_rng(None)), "
                     "documented"}
# The settings' fields, and the runners that take them as overrides, accept the same Nones.
SETTINGS_NONE = {
    "seed": NONE_SEED,
    "server_fails_at": {"None": "None: no server fails (documented)"},
    "database_down_at": {"None": "None: the database never fails (documented)"},
    "database_path": {"None": "None: a file in a temporary directory (documented)",
                      "string": "a file path: SQLite keeps the sessions there (the walk runs "
                                "in a scratch folder)"},
    "store_ms": {"None": "None: measure the store on this machine (documented)"},
    "settings": {"None": "None: the default settings (documented)"},
}

ACCEPTED = {
    **{(f"{SE}.cluster.{runner}", name): reason
       for runner in ("SessionsSettings", "simulate_sessions", "compare_strategies")
       for name, reason in SETTINGS_NONE.items()},
    (f"{SE}.visits.draw_visits", "seed"): NONE_SEED,
    (f"{SE}.store.SessionStore", "path"): {
        "string": "a file path: SQLite keeps the sessions there (the walk runs in a scratch "
                  "folder)"},
    (f"{SE}.store.SessionStore.load", "session_id"): {
        "string": "any session id: None is answered for one the store does not hold"},
    (f"{SE}.store.SessionStore.handle", "session_id"): {
        "string": "any session id: a new one starts an empty session"},
    (f"{SE}.store.SessionStore.handle", "now"): {
        "negative": "an updated_at instant is any number of seconds (the model's clock)"},
    (f"{SE}.store.SessionStore.replace_all", "rows"): {
        "empty list": "no rows: the table is emptied (documented: holds exactly rows)"},
    (f"{SE}.strategies.Cluster", "addresses"): {
        "empty list": "no users yet: nothing to route"},
    (f"{SE}.strategies.SessionRouting", "user_of"): {
        "empty list": "no requests: nothing to route"},
}

HOOK = ("a hook the dispatch loop calls once per request (SessionRouting.choose checks what "
        "a route returns); a strategy subclass overrides it")
SKIP = {
    **{f"{SE}.strategies.{cls}.route": HOOK for cls in ("Strategy", "StickyCookie",
                                                         "StickyIp")},
    **{f"{SE}.strategies.SessionRouting.{hook}": "a sim.Policy hook the dispatch loop calls "
                                                 "with its own checked arguments"
       for hook in ("reset", "choose", "accepted")},
    f"{SE}.results.SessionsResult": "a result dataclass built only by simulate_sessions; "
                                    "its method is walked on one",
    f"{SE}.results.SessionsTimeline": "a result dataclass built only by "
                                      "SessionsResult.timeline",
    f"{SE}.results.SessionsComparison": "a result built only by compare_strategies",
    f"{SE}.store.StoreLatency": "a result dataclass built only by measure_store_latency",
    f"{SE}.store.StoreError": "an exception the store raises, not a call",
    f"{SE}.visits.Visits": "a dataclass built only by draw_visits (walked)",
    f"{SE}.engines.StickinessOnHaproxy": "a result dataclass built only by a real-HAProxy run",
    f"{SE}.engines.StickinessComparison": "a result built only by a real-HAProxy run",
    f"{SE}.engines.stickiness_on_haproxy": "starts real HAProxy and Flask servers per call "
                                           "(seconds, past the walk's 5 s a call); its "
                                           "refusals are tested in test_sessions_engines.py",
}


def test_walk_api():
    _walk.assert_clean(__file__)


def _table_digest(path) -> str:
    import sqlite3
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, data, updated_at FROM sessions ORDER BY id").fetchall()
    finally:
        conn.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.parametrize("rows", [
    [("s9", {"user_id": 9}, 1.0), None],                       # a row that is not a triple
    [("s9", {"user_id": 9}, 1.0), ("s8", {"user_id": 8}, float("nan"))],  # a NaN instant
    [("s9", {"user_id": 9}, 1.0), ("s8", "not a dict", 1.0)],  # data that is not a mapping
    [("s9", {"user_id": 9}, 1.0), ("s9", {"user_id": 9}, 2.0)],  # one id twice
], ids=["not a triple", "NaN instant", "not a mapping", "duplicate id"])
def test_a_refused_replace_all_leaves_the_table_as_it_was(tmp_path, rows):
    from scalekit.sessions import store
    path = tmp_path / "sessions.sqlite3"
    with store.SessionStore(path, durable=False) as s:
        s.replace_all([("s1", {"user_id": 1}, 0.0), ("s2", {"user_id": 2}, 0.5)])
    before = _table_digest(path)
    with store.SessionStore(path, durable=False) as s:
        with pytest.raises((TypeError, ValueError), match="rows"):
            s.replace_all(rows)
    assert _table_digest(path) == before


@pytest.mark.parametrize("update", [
    lambda data: {"user_id": object()},        # not JSON: refused inside the transaction
    lambda data: 1 / 0,                        # the update itself fails
], ids=["not JSON", "update raises"])
def test_a_failed_handle_leaves_the_table_as_it_was(tmp_path, update):
    from scalekit.sessions import store
    path = tmp_path / "sessions.sqlite3"
    with store.SessionStore(path, durable=False) as s:
        s.replace_all([("s1", {"user_id": 1}, 0.0)])
    before = _table_digest(path)
    with store.SessionStore(path, durable=False) as s:
        with pytest.raises((TypeError, ValueError, ZeroDivisionError)):
            s.handle("s1", update, 1.0)
        with pytest.raises(TypeError, match="update"):
            s.handle("s1", "not callable", 1.0)
        with pytest.raises(ValueError, match="now"):
            s.handle("s1", lambda data: data, float("nan"))
    assert _table_digest(path) == before


@pytest.mark.parametrize("override", [{"users": 10**12}, {"visit_requests": None},
                                      {"session_bytes": -1}, {"duration_s": float("nan")}])
def test_a_refused_database_run_leaves_its_file_as_it_was(tmp_path, override):
    from scalekit import sessions
    path = tmp_path / "sessions.sqlite3"
    settings = {**SMALL, "database_path": str(path)}
    sessions.simulate_sessions("database", **settings)
    before = _table_digest(path)
    with pytest.raises((TypeError, ValueError), match=next(iter(override))):
        sessions.simulate_sessions("database", **{**settings, **override})
    assert _table_digest(path) == before
