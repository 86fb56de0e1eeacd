"""Constructing a response from a stored one (RFC 9111 §4): the ``Age`` it carries, the
``304`` a client's own condition earns, the byte range a ``Range`` asks for.

:func:`from_store` is what a cache sends when it answers from its store. In order:

1. the client's conditions, evaluated as RFC 9110 §13.2.2 orders them for a cache:
   ``If-None-Match`` when present, else ``If-Modified-Since`` (GET and HEAD only), against
   the stored response when its status is 2xx other than 206 — a match is a ``304 Not
   Modified`` carrying the fields a 200 would (Cache-Control, Content-Location, Date,
   ETag, Expires, Vary, and Last-Modified; §15.4.5); ``If-Match`` and
   ``If-Unmodified-Since`` are for the origin server and a cache may ignore them
   (§13.2.1), as this one does;
2. a ``Range`` on a GET of a complete ``200`` (unless an ``If-Range`` that does not match
   says "send it all", §13.1.5): one satisfiable range is a ``206`` with ``Content-Range``
   (RFC 9110 §14.4, §15.3.7), none is ``416`` with ``Content-Range: bytes */length``
   (§15.5.17), several are answered with the whole response (§14.2 allows ignoring Range);
   a stored part (206) answers a range it holds entirely;
3. otherwise the stored response, without its body for HEAD.

Every answer from the store carries ``Age`` (§5.1: whole seconds, at most 2³¹).
"""

from __future__ import annotations

from scalekit.caching.http.entry import Entry
from scalekit.caching.http.messages import Headers, Request, Response
from scalekit.caching.http.ranges import content_range, parse_range, resolve
from scalekit.caching.http.rules import (
    DELTA_SECONDS_CAP,
    format_http_date,
    if_none_match_matches,
    parse_http_date,
    strong_match,
)

__all__ = ["from_store", "partial_covers", "age_field", "client_condition_holds", "range_of",
           "gateway_timeout", "NOT_MODIFIED_FIELDS"]

# Request fields that change what is answered from the store.
_ASKS = frozenset({"if-none-match", "if-modified-since", "range"})

#: The fields a 304 carries from the stored response (RFC 9110 §15.4.5), plus Age.
NOT_MODIFIED_FIELDS = frozenset({"cache-control", "content-location", "date", "etag",
                                 "expires", "vary", "last-modified", "age"})


def age_field(age: float) -> int:
    """The Age header's value for a current age: whole seconds, floored, capped (§5.1)."""
    return min(int(max(age, 0.0)), DELTA_SECONDS_CAP)


def client_condition_holds(request: Request, stored: Response, response_time: float) -> bool:
    """Whether the client's own ``If-None-Match`` (or, without one, ``If-Modified-Since``)
    says it already has ``stored``: true means answer 304 (RFC 9110 §13.1.2, §13.1.3,
    §13.2.2; RFC 9111 §4.3.2 — without Last-Modified the stored Date, else when the stored
    response arrived, stands in for the modification time)."""
    if request.method not in ("GET", "HEAD"):
        return False
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        return if_none_match_matches(inm, stored.headers.get("ETag"))
    since = parse_http_date(request.headers.get("If-Modified-Since"))
    if since is None:
        return False
    modified = (parse_http_date(stored.headers.get("Last-Modified"))
                or parse_http_date(stored.headers.get("Date")) or response_time)
    return modified <= since


def _if_range_allows(request: Request, stored: Response) -> bool:
    """Whether ``If-Range`` (if any) lets a range of ``stored`` be sent (RFC 9110 §13.1.5):
    an entity-tag must match strongly, a date must equal a Last-Modified that is strong."""
    value = request.headers.get("If-Range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        etag = stored.headers.get("ETag")
        return etag is not None and strong_match(value, etag)
    when = parse_http_date(value)
    modified = parse_http_date(stored.headers.get("Last-Modified"))
    date = parse_http_date(stored.headers.get("Date"))
    return (when is not None and modified is not None and when == modified
            and date is not None and date - modified >= 1)


def range_of(request: Request) -> list | None:
    """The byte-range specs of a GET's Range field, or None (no range, or one to ignore)."""
    if request.method != "GET":
        return None  # RFC 9110 §14.2: Range is defined for GET only
    return parse_range(request.headers.get("Range"))


def _partial(status_headers: Headers, body: bytes, first: int, last: int,
             length: int | None) -> Response:
    headers = status_headers.without(("Content-Length", "Content-Range"))
    headers.set("Content-Range", content_range(first, last, length))
    return Response(206, headers, body)


def from_store(request: Request, entry: Entry, age: float) -> tuple[Response, str]:
    """(the response to send, a note on what was made of it) for ``request`` answered from
    ``entry`` at current ``age`` seconds (see the module)."""
    stored = entry.response
    headers = stored.headers.copy()
    headers.set("Age", str(age_field(age)))
    if entry.pieces is not None:
        specs = range_of(request)
        length = entry.pieces.length
        (first, last), = resolve(specs, length if length is not None else entry.pieces.end)
        body = entry.pieces.covering(first, last)
        return _partial(headers, body, first, last, length), f"bytes {first}-{last}"
    asked = {name.lower() for name in request.headers}
    if not asked & _ASKS:  # the common case: a plain request for the stored response
        body = b"" if request.method == "HEAD" else stored.body
        return Response(stored.status, headers, body), ""
    if 200 <= stored.status < 300 and client_condition_holds(request, stored,
                                                             entry.response_time):
        kept = Headers([(n, v) for n, v in headers.items()
                        if n.lower() in NOT_MODIFIED_FIELDS])
        return Response(304, kept), "the client's own condition matched, so it got 304"
    specs = range_of(request) if stored.status == 200 else None
    if specs is not None and _if_range_allows(request, stored):
        length = len(stored.body)
        ranges = resolve(specs, length)
        if not ranges:
            headers = Headers([("Content-Range", f"bytes */{length}"),
                               ("Content-Type", "text/plain"), ("Age", headers.get("Age"))])
            return (Response(416, headers, b"416 Range Not Satisfiable\n"),
                    f"no byte of {request.headers.get('Range')} is within {length} bytes")
        if len(ranges) == 1:
            (first, last), = ranges
            return (_partial(headers, stored.body[first:last + 1], first, last, length),
                    f"bytes {first}-{last} of {length} served from the stored response")
    if request.method == "HEAD":
        return Response(stored.status, headers), ""
    return Response(stored.status, headers, stored.body), ""


def partial_covers(request: Request, entry: Entry) -> bool:
    """Whether a stored part (206) holds every byte of the single range ``request`` asks."""
    if entry.pieces is None:
        return False
    specs = range_of(request)
    if specs is None or len(specs) != 1:
        return False
    length = entry.pieces.length
    ranges = resolve(specs, length if length is not None else entry.pieces.end)
    if len(ranges) != 1 or (length is None and specs[0][1] is None):
        return False
    first, last = ranges[0]
    return entry.pieces.covering(first, last) is not None


def gateway_timeout(now: float) -> Response:
    """The ``504 Gateway Timeout`` a cache sends when it may neither reach the origin nor
    use what it stored (RFC 9111 §4.2.4, §5.2.1.7)."""
    headers = Headers([("Date", format_http_date(now)), ("Content-Type", "text/plain"),
                       ("Cache-Control", "no-store")])
    return Response(504, headers, b"504 Gateway Timeout\n")
