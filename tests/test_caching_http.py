"""The HTTP cache against RFC 9111 / RFC 9110: its flow, one test per rule with the section it
checks (the pure rules are tested in test_caching_rfc.py), then properties over random
traffic: a shared cache never serves private or no-store responses, never serves stale what
must be revalidated, and never crashes on junk headers; and counters that add up under
threads."""

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalekit.caching import http
from scalekit.caching.http import (
    Headers,
    HttpCache,
    OriginUnreachable,
    Request,
    Response,
    format_http_date,
    freshness_lifetime,
    if_none_match_matches,
    parse_cache_control,
)

T0 = 1_700_000_000.0
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


class Clock:
    def __init__(self, t=T0):
        self.t = t

    def __call__(self):
        return self.t


class Origin:
    """An origin serving fixed headers; answers If-None-Match itself; can be switched off."""

    def __init__(self, clock, headers=(), body=b"hello", etag='"v1"', status=200):
        self.clock, self.headers, self.body = clock, list(headers), body
        self.etag, self.status, self.up = etag, status, True
        self.seen: list[Request] = []

    def __call__(self, request):
        self.seen.append(request)
        if not self.up:
            raise OriginUnreachable("down")
        h = Headers([("Date", format_http_date(self.clock()))] + self.headers)
        if self.etag:
            h.set("ETag", self.etag)
            if if_none_match_matches(request.headers.get("If-None-Match"), self.etag):
                return Response(304, h)
        return Response(self.status, h, self.body)


def run(cache, origin, *steps, url="/", headers=()):
    """Advance the clock by each step and fetch; return the outcomes."""
    out = []
    for dt in steps:
        origin.clock.t += dt
        out.append(cache.fetch(Request("GET", url, list(headers)), origin).outcome)
    return out


# ---------------------------------------------------------------- the cache flow

def test_hit_then_stale_revalidation_with_if_none_match_then_hit():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=60"),
                            ("Last-Modified", format_http_date(T0 - 999))])
    cache = HttpCache(clock=clock)
    assert run(cache, origin, 0, 30, 31, 10) == ["miss", "hit", "revalidated", "hit"]
    conditional = origin.seen[1]
    # §4.3.1: the cache sends its validators
    assert conditional.headers.get("If-None-Match") == '"v1"'
    assert conditional.headers.get("If-Modified-Since") == format_http_date(T0 - 999)
    s = cache.stats
    assert (s.requests, s.hits, s.misses, s.revalidated, s.origin_requests) == (4, 2, 1, 1, 2)
    assert s.origin_bytes == 5 and s.bytes_served == 20


def test_hit_carries_age_header_and_reason():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=60")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    clock.t += 12
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == "hit" and ex.response.headers.get("Age") == "12"  # §5.1
    assert ex.age_s == 12 and "lifetime 60" in ex.reason and ex.origin_requests == 0


def test_304_updates_stored_headers_and_extends_freshness():
    # §4.3.4: the stored response takes the 304's header fields
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=10"), ("X-Rev", "1")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    origin.headers = [("Cache-Control", "max-age=600"), ("X-Rev", "2")]
    clock.t += 20
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == "revalidated" and ex.response.body == b"hello"
    assert ex.response.headers.get("X-Rev") == "2"
    assert run(cache, origin, 300) == ["hit"]   # fresh for 600 s now, not 10


def test_no_cache_response_is_revalidated_every_time():
    # §5.2.2.4: no-cache → must not be used without successful validation
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "no-cache, max-age=600")])
    cache = HttpCache(clock=clock)
    assert run(cache, origin, 0, 1, 1) == ["miss", "revalidated", "revalidated"]


@pytest.mark.parametrize("directive", ["no-cache", "max-age=0"])
def test_request_no_cache_or_max_age_0_forces_validation(directive):
    # §5.2.1.4, §5.2.1.1
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=600")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    assert run(cache, origin, 1, headers=[("Cache-Control", directive)]) == ["revalidated"]


def test_request_no_store_is_not_stored():
    # §5.2.1.5
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=600")])
    cache = HttpCache(clock=clock)
    assert run(cache, origin, 0, headers=[("Cache-Control", "no-store")]) == ["pass"]
    assert len(cache) == 0 and run(cache, origin, 1) == ["miss"]


def test_without_validators_a_stale_copy_is_fetched_in_full_and_replaced():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=10")], etag=None)
    cache = HttpCache(clock=clock)
    assert run(cache, origin, 0, 20) == ["miss", "replaced"]
    assert "If-None-Match" not in origin.seen[1].headers
    assert "If-Modified-Since" not in origin.seen[1].headers


def test_vary_secondary_key_and_whitespace_normalisation():
    # §4.1: reuse only if the nominated request headers match
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=600"), ("Vary", "Accept-Language")])
    cache = HttpCache(clock=clock)
    en, fr = [("Accept-Language", "en, de")], [("Accept-Language", "fr")]
    assert run(cache, origin, 0, headers=en) == ["miss"]
    assert run(cache, origin, 1, headers=fr) == ["miss"]
    assert run(cache, origin, 1, headers=[("accept-language", "  en,de ")]) == ["hit"]
    assert run(cache, origin, 1, headers=fr) == ["hit"] and len(cache) == 2
    assert run(cache, origin, 1) == ["miss"]   # absent header ≠ present header


def test_vary_star_never_matches():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=600"), ("Vary", "*")])
    cache = HttpCache(clock=clock)
    assert run(cache, origin, 0, 1) == ["pass", "pass"] and len(origin.seen) == 2


def test_unsafe_methods_invalidate_target_and_same_origin_location():
    # §4.4: a non-error response to an unsafe method invalidates the target URI and
    # same-origin Location / Content-Location
    clock = Clock()
    headers = [("Cache-Control", "max-age=600")]
    cache = HttpCache(clock=clock)
    page = Origin(clock, headers)
    for url in ("http://a.test/x", "http://a.test/y", "http://b.test/z"):
        run(cache, page, 0, url=url)
    assert len(cache) == 3

    def post_origin(request):
        return Response(201, {"Location": "/y", "Content-Location": "http://b.test/z"})

    ex = cache.fetch(Request("POST", "http://a.test/x"), post_origin)
    assert ex.outcome == "pass" and len(cache) == 1      # b.test/z is another origin
    assert run(cache, page, 0, url="http://b.test/z") == ["hit"]


def test_error_response_to_unsafe_method_does_not_invalidate():
    clock = Clock()
    cache = HttpCache(clock=clock)
    run(cache, Origin(clock, [("Cache-Control", "max-age=600")]), 0)
    cache.fetch(Request("DELETE", "/"), lambda r: Response(500))
    assert len(cache) == 1


def test_stale_served_when_origin_unreachable_and_nothing_forbids_it():
    # §4.2.4: a disconnected cache may serve stale
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=10")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    origin.up = False
    clock.t += 50
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == "stale" and ex.response.status == 200
    assert ex.response.headers.get("Age") == "50" and ex.origin_requests == 0


@pytest.mark.parametrize("cc, shared, outcome", [
    ("max-age=10, must-revalidate", False, "error"),   # §5.2.2.2
    ("max-age=10, no-cache", False, "error"),          # §5.2.2.4
    ("max-age=10, proxy-revalidate", True, "error"),   # §5.2.2.8
    ("max-age=10, proxy-revalidate", False, "stale"),  # ... shared caches only
    ("s-maxage=10", True, "error"),                    # §5.2.2.10
    ("max-age=10, s-maxage=10", False, "stale"),       # ... shared caches only
])
def test_directives_that_forbid_serving_stale_give_504(cc, shared, outcome):
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", cc)])
    cache = HttpCache(clock=clock, shared=shared)
    run(cache, origin, 0)
    origin.up = False
    clock.t += 50
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == outcome
    assert ex.response.status == (504 if outcome == "error" else 200)


def test_unreachable_with_nothing_stored_is_504():
    ex = HttpCache().fetch(Request(), lambda r: (_ for _ in ()).throw(OriginUnreachable()))
    assert ex.outcome == "error" and ex.response.status == 504


def test_5xx_while_validating_serves_stale_unless_forbidden():
    # §4.3.3: a 5xx to a validation may be treated as if the origin had not answered
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=10")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    origin.status, origin.etag = 503, None
    assert run(cache, origin, 50) == ["stale"] and cache.stats.origin_requests == 2
    strict = HttpCache(clock=clock)
    origin.status, origin.etag = 200, '"v1"'
    origin.headers = [("Cache-Control", "max-age=10, must-revalidate")]
    run(strict, origin, 0)
    origin.status, origin.etag = 503, None
    clock.t += 50
    ex = strict.fetch(Request(), origin)
    assert ex.outcome == "pass" and ex.response.status == 503 and len(strict) == 1


def test_only_if_cached_never_contacts_the_origin():
    # §5.2.1.7: use a stored response or answer 504
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=10")])
    cache = HttpCache(clock=clock)
    only = [("Cache-Control", "only-if-cached")]
    assert run(cache, origin, 0, headers=only) == ["error"] and not origin.seen
    run(cache, origin, 0)
    assert run(cache, origin, 5, 50, headers=only) == ["hit", "error"]
    assert len(origin.seen) == 1


def test_max_stale_request_accepts_a_stale_copy_unless_must_revalidate():
    # §5.2.1.2 max-stale; §5.2.2.2 must-revalidate overrides it
    for cc, outcome in [("max-age=10", "stale"), ("max-age=10, must-revalidate", "revalidated")]:
        clock = Clock()
        origin = Origin(clock, [("Cache-Control", cc)])
        cache = HttpCache(clock=clock)
        run(cache, origin, 0)
        assert run(cache, origin, 30, headers=[("Cache-Control", "max-stale=60")]) == [outcome]
        assert run(cache, origin, 100, headers=[("Cache-Control", "max-stale=5")]) != ["stale"]


def test_a_304_without_age_resets_an_upstream_age():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=100"), ("Age", "90")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    assert run(cache, origin, 5, 6) == ["hit", "revalidated"]   # 90 + 11 ≥ 100
    origin.headers = [("Cache-Control", "max-age=100")]
    clock.t += 1
    cache.fetch(Request("GET", "/", [("Cache-Control", "no-cache")]), origin)
    assert run(cache, origin, 50) == ["hit"]   # the age starts again from 0, not 90


def test_a_304_that_makes_the_response_private_drops_it_from_a_shared_cache():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=10")])
    cache = HttpCache(clock=clock, shared=True)
    run(cache, origin, 0)
    origin.headers = [("Cache-Control", "private, max-age=600")]
    assert run(cache, origin, 20) == ["revalidated"] and len(cache) == 0


def test_results_show_as_tables():
    clock = Clock()
    cache = HttpCache(clock=clock)
    ex = cache.fetch(Request(), Origin(clock, [("Cache-Control", "max-age=9")]))
    assert "status=200" in repr(ex) and "<table>" in ex._repr_html_()
    assert "misses=1" in repr(cache.stats) and cache.stats.hit_ratio == 0.0


def test_shared_cache_refuses_private_misconfigured_one_leaks_it():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "private, max-age=600")], body=b"alice's page")
    alice = [("Cookie", "user=alice")]
    good, bad = HttpCache(shared=True, clock=clock), HttpCache(
        shared=True, clock=clock, obey_private=False)
    assert run(good, origin, 0, 1, headers=alice) == ["pass", "pass"]
    assert run(bad, origin, 0, headers=alice) == ["miss"]
    bob = bad.fetch(Request("GET", "/", [("Cookie", "user=bob")]), origin)
    assert bob.outcome == "hit" and bob.response.body == b"alice's page"


def test_client_conditional_request_answered_304_from_store():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=600")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    ex = cache.fetch(Request("GET", "/", [("If-None-Match", 'W/"v1"')]), origin)
    assert ex.outcome == "hit" and ex.response.status == 304 and ex.response.body == b""


def test_head_is_answered_from_a_stored_get_without_body():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=600")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    ex = cache.fetch(Request("HEAD", "/"), origin)
    assert ex.outcome == "hit" and ex.response.body == b"" and ex.response.status == 200


def test_evicts_the_oldest_inserted_entry():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=600")])
    cache = HttpCache(clock=clock, max_entries=2)
    for url in ("/1", "/2", "/3"):
        run(cache, origin, 0, url=url)
    assert len(cache) == 2 and cache.stats.entries == 2
    assert run(cache, origin, 0, url="/1") == ["miss"]
    assert run(cache, origin, 0, url="/3") == ["hit"]


def test_clear_forgets_everything():
    clock = Clock()
    cache = HttpCache(clock=clock)
    run(cache, Origin(clock, [("Cache-Control", "max-age=600")]), 0)
    cache.clear()
    assert len(cache) == 0 and cache.stats.requests == 0


# ---------------------------------------------------------------- argument checks

def test_argument_errors_name_the_parameter():
    with pytest.raises(ValueError, match="max_entries"):
        HttpCache(max_entries=0)
    with pytest.raises(TypeError, match="shared"):
        HttpCache(shared="yes")
    with pytest.raises(TypeError, match="request"):
        HttpCache().fetch("x", lambda r: Response(200))
    with pytest.raises(TypeError, match="origin must return"):
        HttpCache().fetch(Request(), lambda r: "hello")
    with pytest.raises(TypeError, match="status"):
        Response("200")


# ---------------------------------------------------------------- properties

DIRECTIVES = ["max-age=0", "max-age=5", "max-age=60", "s-maxage=30", "public", "private",
              "no-store", "no-cache", "must-revalidate", "proxy-revalidate", "NO-STORE",
              "Private", 'private="x"', "max-age=-3", "no-transform"]


def cache_control():
    return st.lists(st.sampled_from(DIRECTIVES), max_size=4).map(
        lambda ds: " ,  ".join(ds) if ds else "")


responses = st.fixed_dictionaries({
    "cc": cache_control(),
    "etag": st.sampled_from([None, '"a"', 'W/"a"', '"b"']),
    "vary": st.sampled_from([None, "Cookie", "Authorization", "*"]),
    "status": st.sampled_from([200, 200, 200, 404, 500, 302]),
    "down": st.booleans(),
})
requests = st.fixed_dictionaries({
    "user": st.sampled_from([None, "alice", "bob"]),
    "auth": st.booleans(),
    "url": st.sampled_from(["/a", "/b"]),
    "method": st.sampled_from(["GET", "GET", "GET", "HEAD", "POST"]),
    "cc": st.sampled_from([None, "no-cache", "max-age=0", "max-stale", "max-stale=100"]),
    "dt": st.floats(0, 100),
})


def make_request(r):
    headers = []
    if r["user"]:
        headers.append(("Cookie", f"user={r['user']}"))
        if r["auth"]:
            headers.append(("Authorization", f"Bearer {r['user']}"))
    if r["cc"]:
        headers.append(("Cache-Control", r["cc"]))
    return Request(r["method"], r["url"], headers)


def make_origin(clock, r):
    def origin(request):
        if r["down"]:
            raise OriginUnreachable("down")
        h = Headers([("Date", format_http_date(clock()))])
        if r["cc"]:
            h.set("Cache-Control", r["cc"])
        for name in ("etag", "vary"):
            if r[name]:
                h.set(name.capitalize(), r[name])
        if r["etag"] and if_none_match_matches(request.headers.get("If-None-Match"),
                                               r["etag"]):
            return Response(304, h)
        return Response(r["status"], h, f"for {request.headers.get('Cookie')}".encode())
    return origin


@SETTINGS
@given(st.lists(st.tuples(requests, responses), min_size=1, max_size=12))
def test_shared_cache_never_serves_private_or_no_store(traffic):
    """§3: a shared cache must not store private responses; nothing stores no-store. So a
    response served unvalidated from the store (hit, stale) never says either, and nothing
    stored says either — even after a 304 brings new Cache-Control."""
    clock = Clock()
    cache = HttpCache(shared=True, clock=clock)
    for req, resp in traffic:
        clock.t += req["dt"]
        ex = cache.fetch(make_request(req), make_origin(clock, resp))
        if ex.outcome in ("hit", "stale"):
            cc = parse_cache_control(ex.response.headers.get("Cache-Control"))
            assert "private" not in cc and "no-store" not in cc, ex.reason
        for entry in cache.entries():  # nor keeps one (a 304 may bring private)
            cc = parse_cache_control(entry.response.headers.get("Cache-Control"))
            assert "private" not in cc and "no-store" not in cc


FRESHNESS = ["max-age=5", "max-age=60", "s-maxage=30", "must-revalidate", "proxy-revalidate",
             "no-cache", "public", "Must-Revalidate"]
freshness_responses = st.fixed_dictionaries({
    "cc": st.lists(st.sampled_from(FRESHNESS), max_size=3).map(", ".join),
    "etag": st.sampled_from([None, '"a"']), "vary": st.none(),
    "status": st.sampled_from([200, 200, 503]), "down": st.booleans(),
})
freshness_requests = st.fixed_dictionaries({
    "user": st.none(), "auth": st.just(False), "url": st.just("/a"),
    "method": st.just("GET"), "dt": st.floats(0, 100),
    "cc": st.sampled_from([None, None, "max-stale", "max-stale=100", "no-cache"]),
})


@SETTINGS
@given(st.lists(st.tuples(freshness_requests, freshness_responses), min_size=2, max_size=10),
       st.booleans())
def test_never_serves_stale_when_a_directive_forbids_it(traffic, shared):
    """§4.2.4: no stale response when must-revalidate / no-cache (and, shared,
    proxy-revalidate / s-maxage) forbid it — whether the origin is down or the client asks
    max-stale. A no-cache response is never reused unvalidated at all (§5.2.2.4)."""
    clock = Clock()
    cache = HttpCache(shared=shared, clock=clock)
    for req, resp in traffic:
        clock.t += req["dt"]
        ex = cache.fetch(make_request(req), make_origin(clock, resp))
        assert ex.outcome in http.OUTCOMES
        if ex.outcome not in ("hit", "stale"):
            continue
        h = ex.response.headers
        cc = parse_cache_control(h.get("Cache-Control"))
        assert "no-cache" not in cc, ex.reason
        lifetime, _ = freshness_lifetime(h, shared=shared)
        forbidding = {"must-revalidate"} | ({"proxy-revalidate", "s-maxage"} if shared
                                            else set())
        if forbidding & cc.keys():
            assert ex.age_s < lifetime, ex.reason


junk = st.text(alphabet=st.characters(blacklist_characters="\r\n\0",
                                      blacklist_categories=("Cs",)), max_size=40)
junk_or_shaped = st.one_of(junk, st.sampled_from([
    "max-age=99999999999999999999999999", 'max-age="', "max-age=,", '"', "=", ",,,",
    "W/", 'W/"', "Sun, 06 Nov 1994 08:49:60 GMT", "Sun, 00 Nov 0000 00:00:00 GMT",
    "-5", "1e9", "max-age=1, max-age=2", "\u00a0max-age=5", "٣", "*", 'W/"a", *']))


@SETTINGS
@given(st.lists(st.tuples(
    st.dictionaries(st.sampled_from(["Cache-Control", "Expires", "Date", "Age", "ETag",
                                     "Last-Modified", "Vary", "Location",
                                     "Content-Location"]), junk_or_shaped),
    st.dictionaries(st.sampled_from(["Cache-Control", "If-None-Match", "If-Modified-Since",
                                     "Accept"]), junk_or_shaped),
    st.sampled_from(["GET", "GET", "HEAD", "POST"]),
    st.sampled_from([200, 304, 404, 503]),
    st.floats(0, 1e5)), min_size=1, max_size=6), st.booleans())
def test_junk_headers_never_crash_the_cache(steps, shared):
    clock = Clock()
    cache = HttpCache(shared=shared, clock=clock)
    for resp_headers, req_headers, method, status, dt in steps:
        clock.t += dt
        ex = cache.fetch(Request(method, "http://a.test/p", req_headers),
                         lambda r, h=resp_headers, s=status: Response(s, h, b"x"))
        assert isinstance(ex, http.Exchange) and ex.outcome in http.OUTCOMES


def test_threads_hammering_fetch_keep_the_counts_consistent():
    clock = Clock()
    lock = threading.Lock()
    origin_calls = [0]

    def origin(request):
        with lock:
            origin_calls[0] += 1
            clock.t += 1
        return Response(200, {"Cache-Control": "max-age=5", "ETag": '"e"',
                              "Date": format_http_date(clock())}, b"abc")

    cache = HttpCache(clock=clock)

    def worker(k):
        for i in range(300):
            cache.fetch(Request("GET", f"/{(i * k) % 7}"), origin)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = cache.stats
    assert s.requests == 8 * 300
    assert s.requests == (s.hits + s.misses + s.revalidated + s.replaced + s.passed
                          + s.stale + s.errors)
    assert s.origin_requests == origin_calls[0] == s.requests - s.hits
    assert s.origin_bytes == 3 * s.origin_requests and s.bytes_served == 3 * s.requests
    assert s.entries == len(cache) <= 7


# ---------------------------------------------------------------- review fixes

def _origin_304_with(clock, first, then):
    """An origin that answers the first request 200 with ``first`` headers and every
    conditional one 304 with ``then``; an unconditional resend gets a new 200."""
    seen = []

    def origin(request):
        seen.append(request)
        date = [("Date", format_http_date(clock()))]
        if len(seen) == 1:
            return Response(200, date + first, b"old")
        if "If-None-Match" in request.headers or "If-Modified-Since" in request.headers:
            return Response(304, date + then)
        return Response(200, date + then, b"new")
    return origin, seen


def test_a_304_whose_etag_does_not_match_is_not_used_to_update():
    # RFC 9111 §4.3.4: a 304 with a strong validator updates only stored responses with that
    # same validator; if none is selected, the request is resent unconditionally
    clock = Clock()
    origin, seen = _origin_304_with(clock, [("ETag", '"v1"'), ("Cache-Control", "max-age=0")],
                                    [("ETag", '"v2"'), ("Cache-Control", "max-age=100")])
    cache = HttpCache(clock=clock)
    cache.fetch(Request(), origin)
    clock.t += 1
    ex = cache.fetch(Request(), origin)
    assert ex.response.body == b"new" and ex.response.headers.get("ETag") == '"v2"'
    assert ex.outcome == "replaced" and ex.origin_requests == 2 and "§4.3.4" in ex.reason
    assert seen[1].headers.get("If-None-Match") == '"v1"'
    assert "If-None-Match" not in seen[2].headers
    assert "If-Modified-Since" not in seen[2].headers
    clock.t += 50
    hit = cache.fetch(Request(), origin)
    assert hit.outcome == "hit" and hit.response.body == b"new"
    assert cache.stats.origin_requests == 3


def test_a_304_selects_by_last_modified_or_by_being_the_only_stored_response():
    # RFC 9111 §4.3.4: without an ETag, Last-Modified selects; with no validator at all the
    # one stored response is updated
    clock = Clock()
    lm1, lm2 = format_http_date(T0 - 500), format_http_date(T0 - 100)
    origin, seen = _origin_304_with(
        clock, [("Last-Modified", lm1), ("Cache-Control", "max-age=0")],
        [("Last-Modified", lm2), ("Cache-Control", "max-age=100")])
    cache = HttpCache(clock=clock)
    cache.fetch(Request(), origin)
    clock.t += 1
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == "replaced" and ex.response.body == b"new" and len(seen) == 3
    clock2 = Clock()
    origin, seen = _origin_304_with(clock2, [("Last-Modified", lm1),
                                             ("Cache-Control", "max-age=0")],
                                    [("Cache-Control", "max-age=100")])
    cache = HttpCache(clock=clock2)
    cache.fetch(Request(), origin)
    clock2.t += 1
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == "revalidated" and ex.response.body == b"old" and len(seen) == 2


def test_head_on_a_stale_get_with_the_origin_down_serves_it_without_body():
    # RFC 9111 §4.2.4: a disconnected cache may serve stale; for HEAD without the body
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=10")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    origin.up = False
    clock.t += 50
    ex = cache.fetch(Request("HEAD", "/"), origin)
    assert ex.outcome == "stale" and ex.response.status == 200 and ex.response.body == b""
    strict = HttpCache(clock=clock)
    origin.up, origin.headers = True, [("Cache-Control", "max-age=10, must-revalidate")]
    run(strict, origin, 0)
    origin.up = False
    clock.t += 50
    ex = strict.fetch(Request("HEAD", "/"), origin)
    assert ex.response.status == 504 and "nothing" not in ex.reason
    assert "must-revalidate" in ex.reason


def test_hit_ratio_counts_hits_only_not_stale_serves():
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=10")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0, 1)
    origin.up = False
    assert run(cache, origin, 50) == ["stale"]
    assert cache.stats.hit_ratio == pytest.approx(1 / 3)   # like ProxyStats.hit_ratio


def test_reason_shows_the_age_the_age_header_gets():
    # RFC 9111 §5.1: Age is whole seconds; the reason must not round 0.6 s up to 1
    clock = Clock()
    origin = Origin(clock, [("Cache-Control", "max-age=60")])
    cache = HttpCache(clock=clock)
    run(cache, origin, 0)
    clock.t += 0.6
    ex = cache.fetch(Request(), origin)
    assert ex.response.headers.get("Age") == "0" and "age 0 s" in ex.reason


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_clock_returning_a_non_finite_time_is_a_clear_error(value):
    with pytest.raises(ValueError, match="clock returned a non-finite time"):
        HttpCache(clock=lambda: value).fetch(Request(), lambda r: Response(200))
    with pytest.raises(TypeError, match="clock must return a number"):
        HttpCache(clock=lambda: "now").fetch(Request(), lambda r: Response(200))


def test_a_304_changing_cache_control_expires_and_date_governs_the_next_decision():
    # §4.3.4: the 304's fields replace the stored ones, and the next freshness decision uses
    # them — the lifetime (Cache-Control, Expires − Date) and the age (Date) both change,
    # so nothing parsed from the stored headers may outlive a 304
    clock = Clock()
    answers = []

    def origin(request):
        return answers.pop(0)

    def date(offset):
        return ("Date", format_http_date(clock() + offset))

    answers.append(Response(200, [date(0), ("Cache-Control", "max-age=600"),
                                  ("ETag", '"v1"')], b"body"))
    cache = HttpCache(clock=clock)
    assert cache.fetch(Request(), origin).outcome == "miss"
    clock.t += 10
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == "hit" and ex.age_s == 10 and "lifetime 600 s (max-age)" in ex.reason
    # a 304 drops max-age (public instead) and brings Expires 30 s after its Date
    answers.append(Response(304, [date(0), ("Cache-Control", "public"),
                                  ("Expires", format_http_date(clock() + 30))]))
    assert cache.fetch(Request("GET", "/", [("Cache-Control", "no-cache")]),
                       origin).outcome == "revalidated"
    clock.t += 25
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == "hit" and ex.age_s == 25 and "lifetime 30 s (expires)" in ex.reason
    clock.t += 10   # 35 s > 30 s: stale now, though max-age=600 would still allow it
    answers.append(Response(304, [date(-40), ("Cache-Control", "max-age=50"),
                                  ("Expires", "0")]))
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == "revalidated" and "lifetime 30 s (expires)" in ex.reason
    assert ex.age_s == 40   # the 304's Date, 40 s ago, is the new apparent age
    clock.t += 5
    ex = cache.fetch(Request(), origin)
    assert ex.outcome == "hit" and ex.age_s == 45 and "lifetime 50 s (max-age)" in ex.reason
    clock.t += 10   # age 55 s ≥ 50 s
    answers.append(Response(304, [date(0)]))
    assert cache.fetch(Request(), origin).outcome == "revalidated"
    assert not answers
