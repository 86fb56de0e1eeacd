"""Issue 18: every public callable of scalekit.caching, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery and its rules: tests/_walk.py.

Walked: the server-side models (the cache and its policies, cache-aside, the stampede, TTLs,
invalidation), the HTTP cache and its RFC 9111 rules, messages, ranges, the origin, the
browser and revalidation timelines. The calls that start real servers (nginx, Valkey, the
caching proxy on a socket) are walked before their start (``_walk.walk_before_start``).
HttpCache's internal steps (answer, validation, entry, exchange, stores, handler, wire) take
only values HttpCache itself built: they are listed in SKIP and reached through HttpCache.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import tempfile
from pathlib import Path

import _walk

PACKAGE = "scalekit.caching"

C = "scalekit.caching"
S = f"{C}.serverside"
H = f"{C}.http"


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="walk-", dir="."))


@functools.cache
def _db() -> str:
    from scalekit.caching.serverside import aside
    return str(aside.airline_db(_folder() / "airline.sqlite3", 200))


def _cache():
    from scalekit.caching.serverside.store import Cache
    return Cache(10)


def _aside():
    from scalekit.caching.serverside.aside import CacheAside
    return CacheAside(_db(), _cache())


def _pops():
    from scalekit.caching.serverside.aside import zipf_popularities
    return zipf_popularities(50, 1.0)


def _curve():
    from scalekit.caching.serverside.aside import hit_ratio_curve
    return hit_ratio_curve([5], keys=50, requests=300, warmup=0.2)


def _headers():
    from scalekit.caching.http.messages import Headers
    return Headers([("Cache-Control", "max-age=60"), ("ETag", '"v1"')])


def _request():
    from scalekit.caching.http.messages import Request
    return Request("GET", "http://origin.test/")


def _response():
    from scalekit.caching.http.messages import Response
    return Response(200, _headers(), b"hello")


def _origin_fn():
    return lambda request: _response()


def _http_cache():
    from scalekit.caching.http.cache import HttpCache
    return HttpCache(clock=lambda: 1_000.0)


def _origin():
    from scalekit.caching.http.origin import Origin
    return Origin(clock=lambda: 1_000.0)


EXAMPLES = {
    f"{S}.aside.airline_db": lambda: {"path": _folder() / "a.sqlite3", "flights": 200},
    f"{S}.aside.CacheAside": lambda: {"db_path": _db(), "cache": _cache()},
    f"{S}.aside.CacheAside.read": lambda: {"flight_id": 1},
    f"{S}.aside.CacheAside.write": lambda: {"flight_id": 1, "departs_at": 1_700_000_000},
    f"{S}.aside.zipf_popularities": lambda: {"keys": 50, "skew": 1.0},
    f"{S}.aside.che_lru_hit_ratio": lambda: {"popularities": _pops(), "capacity": 5},
    f"{S}.aside.che_random_hit_ratio": lambda: {"popularities": _pops(), "capacity": 5},
    f"{S}.aside.lfu_hit_ratio": lambda: {"popularities": _pops(), "capacity": 5},
    f"{S}.aside.theory_curve": lambda: {"policy": "allkeys-lru", "popularities": _pops(),
                                        "points": 4},
    f"{S}.aside.hit_ratio_curve": lambda: {"sizes": [5], "keys": 50, "requests": 300},
    f"{S}.aside.HitRatioCurve.curve": lambda: {"policy": "allkeys-lru"},
    f"{S}.invalidation.invalidation_race": lambda: {"duration_s": 0.5},
    f"{S}.stampede.herd": lambda: {"duration_s": 2.0, "rate_rps": 100.0},
    f"{S}.stampede.expected_db_per_expiry": lambda: {"mode": "none", "rate_rps": 100.0,
                                                     "db_ms": 50.0},
    f"{S}.store.Cache": lambda: {"capacity": 10},
    f"{S}.store.Cache.get": lambda: {"key": "k"},
    f"{S}.store.Cache.ttl": lambda: {"key": "k"},
    f"{S}.store.Cache.set": lambda: {"key": "k", "value": "v", "ttl_s": 5.0},
    f"{S}.store.Cache.delete": lambda: {"key": "k"},
    f"{S}.ttl.ttl_single_key": lambda: {"ttl_s": 5.0, "read_rate": 10.0, "write_rate": 1.0},
    f"{S}.ttl.ttl_tradeoff": lambda: {"ttls_s": [1.0, 5.0], "keys": 20,
                                      "duration_s": 5.0},
    f"{H}.browser.browse": lambda: {"duration_s": 600.0},
    f"{H}.timeline.revalidation_timeline": dict,
    f"{H}.timeline.forwarded_request": dict,
    f"{H}.cache.HttpCache.fetch": lambda: {"request": _request(), "origin": _origin_fn()},
    f"{H}.client.ManualClock.advance": lambda: {"seconds": 5.0},
    f"{H}.client.ManualClock": lambda: {"start": 1_000.0},
    f"{H}.proxy.CachingProxy": lambda: {"upstream": "http://127.0.0.1:8000"},
    f"{H}.proxy.CachingProxy.target_url": lambda: {"target": "/"},
    f"{H}.loopback.LoopbackServer": dict,
    f"{H}.proxy.measure_proxy_rps": lambda: {"requests": 20, "concurrency": 2},
    f"{H}.messages.Headers.add": lambda: {"name": "X-A", "value": "1"},
    f"{H}.messages.Headers.get": lambda: {"name": "ETag"},
    f"{H}.messages.Headers.get_all": lambda: {"name": "ETag"},
    f"{H}.messages.Headers.set": lambda: {"name": "X-A", "value": "1"},
    f"{H}.messages.Headers.remove_all": lambda: {"names": ["ETag"]},
    f"{H}.messages.Headers.remove": lambda: {"name": "ETag"},
    f"{H}.messages.Headers.without": lambda: {"names": ["ETag"]},
    f"{H}.messages.Headers.merged": lambda: {"update": _headers()},
    f"{H}.messages.Request.with_headers": lambda: {"headers": _headers()},
    f"{H}.messages.Response": lambda: {"status": 200},
    f"{H}.messages.Interim": lambda: {"status": 103},
    f"{H}.messages.is_token": lambda: {"text": "max-age"},
    f"{H}.origin.Origin.update": lambda: {"path": "/", "body": "<p>new</p>"},
    f"{H}.origin.Origin.respond": lambda: {"method": "GET", "target": "/", "headers": {}},
    f"{H}.ranges.parse_range": lambda: {"value": "bytes=0-9"},
    f"{H}.ranges.resolve": lambda: {"specs": [(0, 9)], "length": 100},
    f"{H}.ranges.parse_content_range": lambda: {"value": "bytes 0-9/100"},
    f"{H}.ranges.content_range": lambda: {"first": 0, "last": 9, "length": 100},
    f"{H}.ranges.Pieces": lambda: {"length": 100, "runs": ()},
    f"{H}.ranges.Pieces.add": lambda: {"first": 0, "data": b"0123456789"},
    f"{H}.ranges.Pieces.covering": lambda: {"first": 0, "last": 4},
    f"{H}.rules.parse_cache_control": lambda: {"value": "max-age=60, public"},
    f"{H}.rules.parse_targeted": lambda: {"value": "max-age=60"},
    f"{H}.rules.parse_surrogate_control": lambda: {"value": "max-age=60;scalekit"},
    f"{H}.rules.parse_http_date": lambda: {"value": "Sun, 06 Nov 1994 08:49:37 GMT"},
    f"{H}.rules.format_http_date": lambda: {"seconds": 784111777.0},
    f"{H}.rules.delta_seconds": lambda: {"value": "60"},
    f"{H}.rules.split_list": lambda: {"value": "a, b"},
    f"{H}.rules.freshness_lifetime": lambda: {"headers": _headers()},
    f"{H}.rules.current_age": lambda: {"headers": _headers(), "request_time": 10.0,
                                       "response_time": 11.0, "now": 20.0},
    f"{H}.rules.corrected_initial_age": lambda: {"headers": _headers(), "request_time": 10.0,
                                                 "response_time": 11.0},
    f"{H}.rules.storable": lambda: {"request": _request(), "response": _response(),
                                    "shared": True},
    f"{H}.rules.understood": lambda: {"status": 200},
    f"{H}.rules.weak_match": lambda: {"etag_a": '"v1"', "etag_b": 'W/"v1"'},
    f"{H}.rules.strong_match": lambda: {"etag_a": '"v1"', "etag_b": '"v1"'},
    f"{H}.rules.if_none_match_matches": lambda: {"header_value": '"v1"', "etag": '"v1"'},
    f"{C}.engines.outcome_class": lambda: {"status": "HIT"},
    f"{C}.engines.Step": lambda: {"path": "/"},
}


def _pieces():
    from scalekit.caching.http.ranges import Pieces
    return Pieces(100, ())


def _clock():
    from scalekit.caching.http.client import ManualClock
    return ManualClock(1_000.0)


def _cache_with_k():
    cache = _cache()
    cache.set("k", "v")
    return cache


def _proxy():
    from scalekit.caching.http.proxy import CachingProxy
    return CachingProxy("http://127.0.0.1:8000")


INSTANCES = {
    f"{S}.aside.CacheAside": _aside,
    f"{S}.aside.HitRatioCurve": _curve,
    f"{S}.store.Cache": _cache_with_k,
    f"{H}.proxy.CachingProxy": _proxy,
    f"{H}.cache.HttpCache": _http_cache,
    f"{H}.client.ManualClock": _clock,
    f"{H}.messages.Headers": _headers,
    f"{H}.messages.Request": _request,
    f"{H}.origin.Origin": _origin,
    f"{H}.ranges.Pieces": _pieces,
}

NONE_SEED = {"None": "seed=None asks for fresh entropy from the operating system (numpy's "
                     "default_rng(None)), documented"}
ANY_KEY = {"string": "any str is a cache key", "negative": "any int is a cache key"}
ANY_VALUE = {label: "a cache stores any value, as Valkey stores any bytes"
             for label in _walk.BAD}
A_FILE = {"string": "a file path: SQLite writes the database there (the walk runs in a "
                    "scratch folder)"}
INSTANT = {"negative": "an instant (seconds since the epoch) before 1970 is still one"}
NO_FIELD = {"None": "None: the field is absent (documented)"}
IGNORED = {"string": "an invalid field value is ignored, as RFC 9110 has a recipient do "
                     "(documented)"}

ACCEPTED = {
    **{(f"{S}.{fn}", "seed"): NONE_SEED for fn in (
        "aside.airline_db", "aside.hit_ratio_curve", "invalidation.invalidation_race",
        "stampede.herd", "store.Cache", "ttl.ttl_tradeoff")},
    (f"{H}.browser.browse", "seed"): NONE_SEED,
    (f"{S}.aside.airline_db", "path"): A_FILE,
    (f"{S}.aside.hit_ratio_curve", "db_path"): A_FILE,
    (f"{S}.store.Cache.get", "key"): ANY_KEY,
    (f"{S}.store.Cache.get", "default"): ANY_VALUE,
    (f"{S}.store.Cache.set", "key"): ANY_KEY,
    (f"{S}.store.Cache.set", "value"): ANY_VALUE,
    (f"{S}.store.Cache.delete", "key"): ANY_KEY,
    (f"{C}.engines.Step", "user"): {"string": "any user name (sent as a cookie)"},
    (f"{C}.engines.outcome_class", "status"): {
        "string": "an unknown cache status is 'other' (documented)"},
    (f"{H}.messages.Headers.add", "name"): {"string": "any token is a field name"},
    (f"{H}.messages.Headers.add", "value"): {"string": "any text is a field value"},
    (f"{H}.messages.Headers.set", "name"): {"string": "any token is a field name"},
    (f"{H}.messages.Headers.set", "value"): {"string": "any text is a field value"},
    (f"{H}.messages.Headers.get", "name"): {"string": "a field that is absent: the default"},
    (f"{H}.messages.Headers.get_all", "name"): {"string": "a field that is absent: []"},
    (f"{H}.messages.Headers.remove", "name"): {"string": "a field that is absent: nothing "
                                                         "to drop"},
    (f"{H}.messages.Headers.get", "default"): {
        label: "returned as it is when the field is absent" for label in _walk.BAD},
    (f"{H}.messages.Headers.remove_all", "names"): {
        "empty list": "no names: nothing dropped", "empty dict": "no names: nothing dropped"},
    (f"{H}.messages.Headers.without", "names"): {
        "empty list": "no names: a copy", "empty dict": "no names: a copy"},
    (f"{H}.messages.Headers.merged", "skip"): {
        "empty list": "nothing skipped (the default)", "empty dict": "nothing skipped"},
    (f"{H}.messages.Headers", "pairs"): {
        "empty list": "no fields", "empty dict": "no fields"},
    (f"{H}.messages.Request", "method"): {
        "string": "any token is a method (extension methods exist, RFC 9110 §9.1)"},
    (f"{H}.messages.Request", "url"): {"string": "any target is a cache key"},
    **{(f"{H}.messages.{cls}", "headers"): {
        "None": "None: no fields", "empty list": "no fields", "empty dict": "no fields"}
       for cls in ("Request", "Response", "Interim")},
    (f"{H}.messages.Request.with_headers", "headers"): {
        "None": "None: no fields", "empty list": "no fields", "empty dict": "no fields"},
    (f"{H}.messages.is_token", "text"): {
        label: "a predicate: anything but a token answers False (documented)"
        for label in _walk.BAD},
    (f"{H}.origin.Origin.respond", "method"): {
        "string": "any method: the origin answers what it does not serve as GET does"},
    (f"{H}.origin.Origin.update", "body"): {"string": "any text is the page's new body"},
    (f"{H}.origin.Origin.respond", "headers"): {"empty dict": "no request fields"},
    (f"{H}.ranges.content_range", "length"): {"None": "None: unknown, written * "
                                                      "(documented)"},
    (f"{H}.ranges.Pieces", "length"): {"None": "None: the length is unknown (documented)"},
    (f"{H}.rules.split_list", "value"): {"string": "a one-member list"},
    (f"{H}.origin.Origin.respond", "target"): {"string": "a page it does not have: 404"},
    (f"{H}.ranges.parse_range", "value"): {**NO_FIELD, **IGNORED},
    (f"{H}.ranges.parse_content_range", "value"): {**NO_FIELD, **IGNORED},
    (f"{H}.rules.parse_cache_control", "value"): {
        **NO_FIELD, "string": "an unknown directive is kept, as RFC 9111 §5.2 says"},
    (f"{H}.rules.parse_targeted", "value"): {**NO_FIELD, **IGNORED},
    (f"{H}.rules.parse_surrogate_control", "value"): {
        **NO_FIELD, "string": "an unknown directive is ignored, as the W3C Note says"},
    (f"{H}.rules.parse_surrogate_control", "device"): {
        "string": "any token names a device; directives for others are then ignored"},
    (f"{H}.rules.parse_http_date", "value"): {**NO_FIELD, **IGNORED},
    (f"{H}.rules.delta_seconds", "value"): {**NO_FIELD, **IGNORED},
    (f"{H}.rules.parse_http_date", "now"): INSTANT,
    (f"{H}.rules.format_http_date", "seconds"): INSTANT,
    (f"{H}.rules.freshness_lifetime", "headers"): {"empty dict": "no fields"},
    (f"{H}.rules.freshness_lifetime", "response_time"): INSTANT,
    (f"{H}.rules.freshness_lifetime", "directives"): {"empty dict": "no directives"},
    (f"{H}.rules.current_age", "headers"): {"empty dict": "no fields"},
    (f"{H}.rules.corrected_initial_age", "headers"): {"empty dict": "no fields"},
    **{(f"{H}.rules.{fn}", t): INSTANT for fn in ("current_age", "corrected_initial_age")
       for t in ("request_time", "response_time", "now")},
    (f"{H}.rules.storable", "directives"): {"empty dict": "no directives"},
    **{(f"{H}.rules.{fn}", e): {"string": "an invalid entity-tag matches nothing: False "
                                          "(RFC 9110 §8.8.3)"}
       for fn in ("weak_match", "strong_match") for e in ("etag_a", "etag_b")},
    (f"{H}.rules.if_none_match_matches", "header_value"): {**NO_FIELD, **IGNORED},
    (f"{H}.rules.if_none_match_matches", "etag"): {
        "None": "None: the response has no ETag, nothing matches", **IGNORED},
    (f"{H}.proxy.CachingProxy", "targets"): {"empty list": "no targeted fields (the default)",
                                             "empty dict": "no targeted fields"},
    (f"{H}.cache.HttpCache", "targets"): {"empty list": "no targeted fields (the default)",
                                          "empty dict": "no targeted fields"},
    (f"{H}.proxy.CachingProxy.target_url", "target"): {
        "string": "any target: joined to the upstream"},
}

SKIP = {
    **{f"{C}.{name}": "a result dataclass built only by its model" for name in (
        "engines.CacheStep", "engines.ProxyCacheComparison", "engines.PolicyOnValkey",
        "engines.EvictionComparison", "http.browser.Browse", "http.client.Fetched",
        "http.origin.OriginLogEntry", "http.origin.OriginStats", "http.proxy.ProxyLogEntry",
        "http.proxy.ProxyStats", "http.timeline.Revalidation",
        "serverside.aside.HitRatioCurve", "serverside.invalidation.InvalidationRace",
        "serverside.stampede.Herd", "serverside.store.CacheStats", "serverside.ttl.TtlTradeoff")},
    **{f"{C}.{name}": "an exception the models raise, not a call" for name in (
        "http.messages.OriginUnreachable", "serverside.aside.CacheDbError",
        "serverside.aside.NoSuchFlight", "serverside.store.CacheFull",
        "serverside.store.NotCached")},
    **{f"{C}.{name}": "starts a real server (seconds) or connects: walked before it, "
                      "test_server_starters_refuse_before_starting"
       for name in ("engines.eviction_on_valkey", "engines.proxy_cache_on_nginx",
                    "http.client.get")},
    **{f"{H}.loopback.QuietHandler{m}": "http.server's request handler: the server calls "
                                        "it with the socket's request"
       for m in ("", ".date_time_string", ".log_message")},
    **{f"{H}.proxy.CachingProxy.{m}": "called by the proxy's handler with the exchange it "
                                      "made (record, record_refusal) or its request"
       for m in ("exchange", "record", "record_refusal")},
}
# HttpCache's internal steps: they take only values HttpCache built (reached through
# HttpCache.fetch, walked above)
for _name in ("answer", "validation", "entry", "exchange", "stores", "handler", "wire"):
    for _q, _obj in _walk.defined_here(importlib.import_module(f"{H}.{_name}")):
        SKIP[_q] = f"an internal step of HttpCache/CachingProxy ({_name}): takes only " \
                   f"values they built; reached through HttpCache.fetch"
        for _m, _f, _ in (_walk.public_methods(_obj) if isinstance(_obj, type) else ()):
            SKIP[f"{_q}.{_m}"] = SKIP[_q]
for _q, _ in _walk.defined_here(importlib.import_module(f"{S}.common")):
    SKIP[_q] = "a helper of the server-side models, called with their checked values"


def test_walk_api():
    _walk.assert_clean(__file__)


def test_server_starters_refuse_before_starting(monkeypatch):
    import http.client
    import subprocess

    from scalekit.caching import engines
    from scalekit.caching.http import client

    def start(*args, **kwargs):
        raise _walk.Started("a process or a connection would start here")
    monkeypatch.setattr(subprocess, "Popen", start)
    monkeypatch.setattr(http.client, "HTTPConnection", start)
    walks = {
        "engines.eviction_on_valkey": (engines.eviction_on_valkey, {}),
        "engines.proxy_cache_on_nginx": (engines.proxy_cache_on_nginx, {}),
        "http.client.get": (client.get, {"url": "http://127.0.0.1:8000/"}),
    }
    accepts = {(f"{C}.engines.eviction_on_valkey", "seed"): NONE_SEED,
               (f"{C}.http.client.get", "headers"): {"empty dict": "no extra fields"}}
    problems, total, expected = [], 0, 0
    for name, (call, kwargs) in walks.items():
        expected += 8 * len(_walk.walked(inspect.signature(call), kwargs))
        calls, findings = _walk.walk_before_start(f"{C}.{name}", call, kwargs, accepts)
        total += calls
        problems += findings
    assert not problems, "\n".join(problems)
    assert total == expected


def test_a_refused_write_leaves_the_database_as_it_was(monkeypatch, tmp_path):
    """CacheAside.write and airline_db, given each bad value: refused, and the SQLite file
    byte for byte as before (issue 18)."""
    from scalekit.caching.serverside import aside
    monkeypatch.chdir(tmp_path)
    (tmp_path / "db").mkdir()
    db = aside.airline_db(tmp_path / "db" / "airline.sqlite3", 200)
    problems, checked = [], 0
    with aside.CacheAside(db, _cache()) as cache_aside:
        for name, call, kwargs in (
                ("serverside.aside.CacheAside.write", cache_aside.write,
                 {"flight_id": 1, "departs_at": 1_700_000_000}),
                ("serverside.aside.airline_db", aside.airline_db,
                 {"path": db, "flights": 200})):
            n, findings = _walk.walk_writer(f"{C}.{name}", call, kwargs, tmp_path / "db")
            checked += n
            problems += findings
    assert not problems, "\n".join(problems)
    assert checked >= 30, checked


# Hypothesis on top of the table (issue 18): any number at all — ints of any size, floats
# with NaN and infinities — for the numeric parameters of the closed forms. Each call either
# answers or refuses naming the parameter; nothing else escapes.
def _numbers():
    from hypothesis import strategies as st
    return st.one_of(st.integers(min_value=-(10**20), max_value=10**20),
                     st.floats(allow_nan=True, allow_infinity=True))


def _answers_or_names(call, **kwargs) -> None:
    try:
        call(**kwargs)
    except (TypeError, ValueError) as exc:
        named = [p for p in kwargs if _walk.names(str(exc), p)]
        assert named, f"{call.__name__}({kwargs}) refused without naming a parameter: {exc}"


def test_closed_forms_answer_or_name_the_parameter_for_any_number():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scalekit.caching.http import ranges
    from scalekit.caching.serverside import aside, stampede, ttl

    @settings(max_examples=60, deadline=None, database=None)
    @given(a=_numbers(), b=_numbers(), c=_numbers(), which=st.integers(0, 4))
    def check(a, b, c, which):
        if which == 0:
            _answers_or_names(ttl.ttl_single_key, ttl_s=a, read_rate=b, write_rate=c)
        elif which == 1:
            _answers_or_names(stampede.expected_db_per_expiry, mode="none", rate_rps=a,
                              db_ms=b, servers=c)
        elif which == 2:
            _answers_or_names(ranges.content_range, first=a, last=b, length=c)
        elif which == 3:
            # keys up to the stated maximum are valid and allocate: keep the valid ones small
            big_but_valid = isinstance(a, int) and 10**4 < a <= 10**7
            _answers_or_names(aside.zipf_popularities, keys=a % 10**4 if big_but_valid else a,
                              skew=b)
        else:
            _answers_or_names(aside.che_lru_hit_ratio, popularities=[1.0, 2.0, 3.0, a],
                              capacity=b)
    check()
