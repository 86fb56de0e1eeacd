"""HttpCache against the rest of RFC 9111, RFC 5861 and RFC 9213 — each test names the
section it checks; the clock is simulated, the origin a function that records what it got.

Sources: RFC 9111 (§3 storing, §3.3–3.4 partial content, §4.2.4 serving stale, §4.3.2
received validation requests, §4.3.4 freshening on 304, §4.3.5 HEAD, §4.4 invalidation,
§5.2.2.3 must-understand, §5.3 Expires), RFC 9110 (§13.1.5 If-Range, §13.2.2 precedence,
§14 range requests, §15.3.7 206, §15.5.17 416), RFC 5861 (§3 stale-while-revalidate, §4
stale-if-error), RFC 9213 (targeted cache control).
"""

from __future__ import annotations

import pytest

from scalekit.caching.http import (
    Headers,
    HttpCache,
    OriginUnreachable,
    Request,
    Response,
    format_http_date,
)

T0 = 1_700_000_000.0


class Clock:
    def __init__(self):
        self.t = T0

    def __call__(self):
        return self.t


class Origin:
    """A scripted origin: ``answer(request) -> Response`` (or raise); records requests."""

    def __init__(self, answer):
        self.answer, self.seen = answer, []

    def __call__(self, request):
        self.seen.append(request)
        return self.answer(request)


def ok(cc="max-age=60", body=b"0123456789", status=200, **fields):
    headers = [("Date", format_http_date(T0)), ("Cache-Control", cc)] if cc else [
        ("Date", format_http_date(T0))]
    headers += [(k.replace("_", "-"), v) for k, v in fields.items()]
    return Response(status, Headers(headers), body)


def get(url="http://o/x", **fields):
    return Request("GET", url, Headers([(k.replace("_", "-"), v) for k, v in fields.items()]))


# ---------------------------------------------------------------- §4.4 invalidation

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "M-SEARCH", "PROPFIND"])
def test_unsafe_and_extension_methods_invalidate_on_success_only(method):
    """RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target URI
    and same-origin Location / Content-Location; an unknown method counts as unsafe; a
    failed one (4xx, 5xx, unreachable) invalidates nothing; another origin is never touched."""
    clock = Clock()
    cache = HttpCache(shared=True, clock=clock)
    for url in ("http://o/x", "http://o/loc", "http://o/cl", "http://other/x"):
        cache.fetch(get(url), Origin(lambda r: ok()))
    for status in (404, 500):
        ex = cache.fetch(Request(method, "http://o/x"), Origin(lambda r, s=status: ok(
            status=s, cc="no-store")))
        assert ex.outcome == "pass" and len(cache) == 4  # failed: nothing invalidated

    def gone(request):
        raise OriginUnreachable("down")

    cache.fetch(Request(method, "http://o/x"), gone)
    assert len(cache) == 4
    cache.fetch(Request(method, "http://o/x"), Origin(lambda r: ok(
        cc="no-store", Location="/loc", Content_Location="http://o/cl")))
    assert {e.url for e in cache.entries()} == {"http://other/x"}
    cache.fetch(get("http://o/x"), Origin(lambda r: ok()))
    cache.fetch(Request(method, "http://o/x"), Origin(lambda r: ok(
        cc="no-store", Location="http://other/x")))
    assert {e.url for e in cache.entries()} == {"http://other/x"}  # not cross-origin


# ---------------------------------------------------------------- §5.3 Expires

@pytest.mark.parametrize("expires", [
    "Thu, 18  Aug  2050 02:01:18 GMT", "Thu, 18 Aug 2050 02:01:18 UTC", "0", "soon",
    "Thu, 18 Aug 50 02:01:18 GMT", "Thu 18 Aug 2050 02:01:18 GMT", "Thu, 18 Aug 2050 2:01:18 GMT"])
def test_an_expires_that_is_not_exactly_an_http_date_is_already_stale(expires):
    """RFC 9111 §5.3: a cache recipient MUST interpret invalid date formats as a time in
    the past; the grammar of RFC 9110 §5.6.7 has single spaces, two-digit days and hours,
    a four-digit year and GMT."""
    clock = Clock()
    cache = HttpCache(shared=True, clock=clock)
    origin = Origin(lambda r: ok(cc=None, Expires=expires))
    cache.fetch(get(), origin)
    assert cache.fetch(get(), origin).outcome != "hit" and len(origin.seen) == 2


def test_a_valid_expires_in_each_format_is_fresh():
    """RFC 9110 §5.6.7: IMF-fixdate, RFC 850 and asctime, names in any case."""
    for value in ("Thu, 18 Aug 2050 02:01:18 GMT", "THU, 18 AUG 2050 02:01:18 gmt",
                  "Thursday, 18-Aug-50 02:01:18 GMT", "Thu Aug  8 02:01:18 2050"):
        cache = HttpCache(shared=True, clock=Clock())
        origin = Origin(lambda r, v=value: ok(cc=None, Expires=v))
        cache.fetch(get(), origin)
        assert cache.fetch(get(), origin).outcome == "hit", value


# ---------------------------------------------------------------- ranges

@pytest.mark.parametrize("spec, status, body, content_range", [
    ("bytes=0-1", 206, b"01", "bytes 0-1/10"),
    ("bytes=7-", 206, b"789", "bytes 7-9/10"),
    ("bytes=-3", 206, b"789", "bytes 7-9/10"),
    ("bytes=8-100", 206, b"89", "bytes 8-9/10"),
    ("bytes=-20", 206, b"0123456789", "bytes 0-9/10"),
    ("bytes=10-", 416, None, "bytes */10"),
    ("bytes=0-1, 5-6", 200, b"0123456789", None),
    ("items=0-1", 200, b"0123456789", None),
])
def test_ranges_are_served_from_a_stored_complete_response(spec, status, body, content_range):
    """RFC 9110 §14.1.1 (first-last, open and suffix ranges), §15.3.7 (206 and its
    Content-Range), §15.5.17 (416, Content-Range: bytes */length); several ranges or an
    unknown unit may be answered with the whole response (§14.2)."""
    clock = Clock()
    cache = HttpCache(shared=True, clock=clock)
    origin = Origin(lambda r: ok())
    cache.fetch(get(), origin)
    ex = cache.fetch(get(Range=spec), origin)
    assert ex.outcome == "hit" and ex.status == status and len(origin.seen) == 1
    assert ex.response.headers.get("Content-Range") == content_range
    if body is not None:
        assert ex.response.body == body


def test_if_range_that_does_not_match_gets_the_whole_response():
    """RFC 9110 §13.1.5: If-Range with another entity-tag means "send it all"."""
    cache = HttpCache(shared=True, clock=Clock())
    origin = Origin(lambda r: ok(ETag='"a"'))
    cache.fetch(get(), origin)
    assert cache.fetch(get(Range="bytes=0-1", If_Range='"a"'), origin).status == 206
    assert cache.fetch(get(Range="bytes=0-1", If_Range='"b"'), origin).status == 200


def part(first, data, etag='"s"', length=10, **fields):
    last = first + len(data) - 1
    return ok(status=206, body=data, ETag=etag, Content_Range=f"bytes {first}-{last}/{length}",
              **fields)


def test_a_206_is_stored_reused_combined_and_its_fields_update_the_stored_ones():
    """RFC 9111 §3.3: a cache may store a 206 and serve ranges it holds; §3.4: parts with
    the same strong validator combine, into a complete response once every byte is held;
    the newer part's fields replace the stored ones, the others stay."""
    clock = Clock()
    cache = HttpCache(shared=True, clock=clock)
    first = Origin(lambda r: part(0, b"01234", A="1", B="1"))
    assert cache.fetch(get(Range="bytes=0-4"), first).outcome == "miss"
    hit = cache.fetch(get(Range="bytes=1-3"), first)
    assert (hit.outcome, hit.status, hit.response.body) == ("hit", 206, b"123")
    assert cache.fetch(get(), first).outcome != "hit"  # a part never answers a whole GET
    cache.fetch(get(Range="bytes=0-4"), Origin(lambda r: part(0, b"01234", A="1", B="1")))
    second = Origin(lambda r: part(5, b"56789", A="2"))
    cache.fetch(get(Range="bytes=5-9"), second)
    whole = cache.fetch(get(), second)
    assert (whole.outcome, whole.status, whole.response.body) == ("hit", 200, b"0123456789")
    assert whole.response.headers.get("A") == "2" and whole.response.headers.get("B") == "1"


def test_parts_with_different_strong_validators_are_never_combined():
    """RFC 9111 §3.4: only parts whose strong validators match may be combined."""
    cache = HttpCache(shared=True, clock=Clock())
    cache.fetch(get(Range="bytes=0-4"), Origin(lambda r: part(0, b"01234", etag='"one"')))
    cache.fetch(get(Range="bytes=5-9"), Origin(lambda r: part(5, b"abcde", etag='"two"')))
    origin = Origin(lambda r: ok(body=b"fresh-body"))
    assert cache.fetch(get(), origin).response.body == b"fresh-body" and origin.seen


def test_a_304_updates_the_fields_it_carries_and_keeps_content_length():
    """RFC 9111 §3.2, §4.3.4: a 304's fields replace the stored ones (Content-Length
    excepted: it describes the stored content), the rest are kept."""
    clock = Clock()
    cache = HttpCache(shared=True, clock=clock)
    cache.fetch(get(), Origin(lambda r: ok(cc="max-age=1", ETag='"e"', A="1", B="1",
                                             Content_Length="10")))
    clock.t += 5
    not_modified = Response(304, Headers([("ETag", '"e"'), ("A", "2"),
                                          ("Cache-Control", "max-age=100"),
                                          ("Content-Length", "0")]))
    ex = cache.fetch(get(), Origin(lambda r: not_modified))
    h = ex.response.headers
    assert ex.outcome == "revalidated" and ex.response.body == b"0123456789"
    assert (h.get("A"), h.get("B"), h.get("Content-Length")) == ("2", "1", "10")
    assert cache.fetch(get(), Origin(lambda r: ok())).outcome == "hit"


def test_a_304_leaves_the_fields_that_describe_the_stored_bytes_as_they_were():
    """RFC 9111 §3.2: a cache that keeps the content as received may leave out of the
    update the fields "necessary to assure integrity of the stored response". The stored
    body is in its stored Content-Encoding with its stored Content-MD5 (RFC 1864), so a
    304 naming another coding or digest must not relabel those bytes. (The public HTTP
    Caching Tests, http-cache-tests 0.4.5, require the same: 304-etag-update-response-*.)"""
    clock = Clock()
    cache = HttpCache(shared=True, clock=clock)
    cache.fetch(get(), Origin(lambda r: ok(cc="max-age=1", ETag='"e"', A="1",
                                             Content_Encoding="gzip",
                                             Content_MD5="rL0Y20zC+Fzt72VPzMSk2A==")))
    clock.t += 5
    not_modified = Response(304, Headers([("ETag", '"e"'), ("A", "2"),
                                          ("Content-Encoding", "br"),
                                          ("Content-MD5", "N7UdGUp1E+RbVvZSTy1R8g==")]))
    ex = cache.fetch(get(), Origin(lambda r: not_modified))
    h = ex.response.headers
    assert ex.outcome == "revalidated" and h.get("A") == "2"  # the others do update
    assert (h.get("Content-Encoding"), h.get("Content-MD5")) == \
        ("gzip", "rL0Y20zC+Fzt72VPzMSk2A==")


# ---------------------------------------------------------------- RFC 5861

def test_stale_while_revalidate_serves_stale_once_validates_in_background_never_after():
    """RFC 5861 §3: within the window the stale response is served and revalidated in the
    background — one validation at a time per stored response — and after the window the
    cache validates before answering."""
    clock, jobs = Clock(), []
    cache = HttpCache(shared=True, clock=clock, background=jobs.append)
    origin = Origin(lambda r: ok(cc="max-age=10, stale-while-revalidate=30", ETag='"e"'))
    cache.fetch(get(), origin)
    clock.t += 15
    first, second = cache.fetch(get(), origin), cache.fetch(get(), origin)
    assert first.outcome == second.outcome == "stale" and len(jobs) == 1
    assert len(origin.seen) == 1  # nobody waited for the origin
    not_modified = Response(304, Headers([("ETag", '"e"'), ("Date", format_http_date(T0 + 15))]))
    origin.answer = lambda r: not_modified
    jobs.pop()()
    assert origin.seen[-1].headers.get("If-None-Match") == '"e"'
    assert cache.fetch(get(), origin).outcome == "hit"  # freshened by the background job
    assert cache.stats.background_revalidations == 1
    clock.t += 60  # 50 s stale: past the 30 s window
    origin.answer = lambda r: ok(cc="max-age=10, stale-while-revalidate=30", ETag='"e"')
    assert cache.fetch(get(), origin).outcome in ("replaced", "revalidated") and not jobs


@pytest.mark.parametrize("failure", ["500", "unreachable"])
def test_stale_if_error_serves_stale_within_its_window_only(failure):
    """RFC 5861 §4: on an error (a 5xx, or no answer) a stale response may be served for
    stale-if-error seconds after it went stale; past that the error (or 504) goes through."""
    clock = Clock()
    cache = HttpCache(shared=True, clock=clock)
    cache.fetch(get(), Origin(lambda r: ok(cc="max-age=10, stale-if-error=60")))

    def broken(request):
        if failure == "500":
            return ok(status=500, cc="no-store", body=b"oops")
        raise OriginUnreachable("down")

    clock.t += 40
    assert cache.fetch(get(), broken).outcome == "stale"
    clock.t += 60
    ex = cache.fetch(get(), broken)
    assert ex.outcome in ("pass", "error") and ex.status == (500 if failure == "500" else 504)


# ---------------------------------------------------------------- RFC 9213

@pytest.mark.parametrize("cdn, cc, hit", [
    ("max-age=600", "no-store", True),          # the targeted field wins over Cache-Control
    ("max-age=0", "max-age=600", False),
    ("no-store", "max-age=600", False),
    ("no-cache", "max-age=600", False),
    ("private", "max-age=600", False),
    ('max-age="600"', "no-store", False),       # not a valid Dictionary: ignored
    ("max-age=600, &&&", "no-store", False),
])
def test_cdn_cache_control_is_obeyed_over_cache_control_by_a_cdn_only(cdn, cc, hit):
    """RFC 9213 §2.1: a cache targeting CDN-Cache-Control uses its directives and ignores
    Cache-Control and Expires; an invalid Structured-Field Dictionary is ignored; a cache
    that does not target it ignores it."""
    def fetch_twice(targets):
        cache = HttpCache(shared=True, clock=Clock(), targets=targets)
        origin = Origin(lambda r: ok(cc=cc, CDN_Cache_Control=cdn, ETag='"e"'))
        cache.fetch(get(), origin)
        return cache.fetch(get(), origin).outcome == "hit"

    assert fetch_twice(("cdn-cache-control",)) is hit
    assert fetch_twice(()) is ("max-age=600" == cc)


@pytest.mark.parametrize("surrogate, cc, hit", [
    ("max-age=600", "no-store", True),            # for every surrogate: wins over CC
    ("max-age=600;scalekit", "no-store", True),   # for this one by its device token
    ("max-age=600;another", "max-age=0", False),  # for another device: CC governs
    ("MaX-aGe=600", None, True),                  # names are case-insensitive
    ("max-age=600+60", None, True),               # lifetime + stale allowance
    ("max-age=0", "max-age=600", False),
    ("no-store", "max-age=600", False),
    ("foo, max-age=600", None, True),             # an extension directive is ignored
    ("no-store-remote", "max-age=600", True),     # for surrogates far from the origin
    ("max-age =600", "max-age=0", False),         # no space around "=": ignored
    ("max-age= 600", "max-age=0", False),
])
def test_surrogate_control_is_obeyed_over_cache_control_by_a_surrogate_only(surrogate, cc,
                                                                             hit):
    """W3C Edge Architecture Specification 1.0 (2001), §3: a surrogate — a reverse proxy
    acting for the origin — takes Surrogate-Control's directives meant for it (no device
    token, or its own after ';') over Cache-Control and Expires."""
    def fetch_twice(targets):
        cache = HttpCache(shared=True, clock=Clock(), targets=targets)
        origin = Origin(lambda r: ok(cc=cc, Surrogate_Control=surrogate,
                                     Expires=format_http_date(T0 + 3600)))
        cache.fetch(get(), origin)
        return cache.fetch(get(), origin).outcome == "hit"

    assert fetch_twice(("surrogate-control",)) is hit
    assert fetch_twice(()) is (cc in ("max-age=600", None))  # Expires alone gives an hour


# ---------------------------------------------------------------- §3 statuses, §5.2.2.3

@pytest.mark.parametrize("status, cc, stored", [
    (299, "max-age=60", True), (499, "max-age=60", True), (599, "max-age=60", True),
    (500, "max-age=60", True), (404, None, True), (599, None, False), (201, None, False),
    (599, "public", True),
    (200, "max-age=60, no-store, must-understand", True),
    (599, "max-age=60, no-store, must-understand", False),
])
def test_any_final_status_is_stored_with_explicit_freshness(status, cc, stored):
    """RFC 9111 §3: any final status may be stored when explicit freshness (or public)
    allows it; a heuristic lifetime only for the heuristically cacheable ones (§4.2.2);
    must-understand overrides no-store for a status the cache understands and forbids
    storing any other (§5.2.2.3)."""
    cache = HttpCache(shared=True, clock=Clock())
    fields = {"Last_Modified": format_http_date(T0 - 86_400)}
    cache.fetch(get(), Origin(lambda r: ok(cc=cc, status=status, **fields)))
    assert (len(cache) == 1) is stored


# ---------------------------------------------------------------- §4.3.2 client conditions

@pytest.mark.parametrize("fields, status", [
    ({"If_None_Match": '"e"'}, 304),
    ({"If_None_Match": '"x", W/"e"'}, 304),
    ({"If_None_Match": '"x"'}, 200),
    ({"If_Modified_Since": format_http_date(T0 - 100)}, 304),
    ({"If_Modified_Since": format_http_date(T0 - 9_000)}, 200),
    ({"If_None_Match": '"x"', "If_Modified_Since": format_http_date(T0)}, 200),
])
def test_client_conditions_are_answered_from_a_fresh_stored_response(fields, status):
    """RFC 9110 §13.2.2: If-None-Match when present (weak comparison, lists), else
    If-Modified-Since; RFC 9111 §4.3.2: a cache answers them from a fresh stored response,
    a 304 carrying ETag, Cache-Control and Date but no body (RFC 9110 §15.4.5)."""
    cache = HttpCache(shared=True, clock=Clock())
    origin = Origin(lambda r: ok(ETag='"e"', Last_Modified=format_http_date(T0 - 1000)))
    cache.fetch(get(), origin)
    ex = cache.fetch(get(**fields), origin)
    assert ex.outcome == "hit" and ex.status == status and len(origin.seen) == 1
    if status == 304:
        assert ex.response.body == b"" and ex.response.headers.get("ETag") == '"e"'
        assert "Content-Length" not in ex.response.headers


# ---------------------------------------------------------------- §4.3.5 HEAD

def test_a_head_200_freshens_or_invalidates_the_stored_get():
    """RFC 9111 §4.3.5: a 200 to HEAD updates the stored GET response it could have been
    for — unless its validators say the content changed, when that is invalidated."""
    clock = Clock()
    cache = HttpCache(shared=True, clock=clock)
    cache.fetch(get(), Origin(lambda r: ok(cc="max-age=1", ETag='"e"', A="1")))
    clock.t += 5
    head = Request("HEAD", "http://o/x")
    cache.fetch(head, Origin(lambda r: ok(cc="max-age=600", ETag='"e"', A="2", body=b"")))
    ex = cache.fetch(get(), Origin(lambda r: ok()))
    assert ex.outcome == "hit" and ex.response.headers.get("A") == "2"
    assert ex.response.body == b"0123456789"
    clock.t += 700
    cache.fetch(head, Origin(lambda r: ok(cc="max-age=600", ETag='"new"', body=b"")))
    assert len(cache) == 0


# ---------------------------------------------------------------- §4.1 Vary

@pytest.mark.parametrize("stored, asked, hit", [
    ("en, de", "de, en", True), ("en, de", "EN, De", True), ("en, de", " en ,   de", True),
    ("en;q=0.5, de", "de, en;q=0.50", True), ("en, de", "en", False), ("en", "fr", False),
])
def test_accept_language_is_normalised_for_vary(stored, asked, hit):
    """RFC 9111 §4.1: a cache may normalise selecting header fields in a way known to have
    the same semantics — Accept-Language is a set of language ranges with weights, its tags
    case-insensitive (RFC 9110 §12.5.4, RFC 4647)."""
    cache = HttpCache(shared=True, clock=Clock())
    origin = Origin(lambda r: ok(Vary="Accept-Language"))
    cache.fetch(get(Accept_Language=stored), origin)
    assert (cache.fetch(get(Accept_Language=asked), origin).outcome == "hit") is hit


# ---------------------------------------------------------------- the notebook's timeline

def test_the_revalidation_timeline_classifies_each_visit_by_rfc_5861():
    """RFC 5861 §3 on a timeline, with the background job run inline (it must not
    deadlock on the cache's lock): age < max-age is fresh, max-age ≤ age < max-age + W is
    served stale and freshened behind, later (or with nothing stored) the visitor waits."""
    from scalekit.caching import revalidation_timeline

    r = revalidation_timeline(10, 30, visit_times_s=[0, 4, 12, 14, 30, 100, 104])
    assert list(r.kinds) == ["waited", "fresh", "stale-served", "fresh", "stale-served",
                             "waited", "fresh"]
    assert list(r.ages_s) == [0, 4, 12, 2, 18, 0, 4]  # freshened at 12, 30 and 100
    assert list(r.origin_times_s) == [0, 12, 30, 100]
    with pytest.raises(ValueError, match="visit_times_s"):
        revalidation_timeline(visit_times_s=[5, 1])


def test_the_forwarded_request_has_exactly_one_content_length():
    """RFC 9112 §6.3, RFC 9110 §8.6: the head an origin receives carries one framing."""
    from scalekit.caching import forwarded_request

    head = forwarded_request("PUT", b"seat=12A")
    assert head.startswith("PUT /booking HTTP/1.1\n")
    assert [line for line in head.split("\n") if line.lower().startswith("content-length")] \
        == ["Content-Length: 8"]
