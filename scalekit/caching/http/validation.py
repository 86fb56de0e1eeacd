"""The parts of validation and storing that are rules, not state (RFC 9111 §3.1, §4.2.4,
§4.3.1, §4.3.4, §4.4, §5.2; RFC 5861; RFC 9110 §6.6.1): whether a stored response must be
validated, which directive forbids serving it stale, the stale-while-revalidate and
stale-if-error windows, whether a 304 selects a stored response, the conditional request a
cache sends, what is stored of a response, and which Location is the same origin."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from scalekit.caching.http.entry import Entry
from scalekit.caching.http.messages import Request, Response
from scalekit.caching.http.rules import (
    delta_seconds,
    format_http_date,
    is_token,
    parse_http_date,
    strong_match,
    weak_match,
)
from scalekit.caching.http.stores import Store

__all__ = ["HOP_BY_HOP", "SAFE_METHODS", "NOT_UPDATED", "CONDITIONS", "check_targets",
           "stale_forbidden", "unselected", "conditional", "dated", "storable_copy",
           "has_validator", "same_origin", "must_validate", "revalidate_window",
           "stale_if_error_forbids"]

#: Fields never stored or copied from a 304 (RFC 9111 §3.1, §3.2; RFC 9110 §7.6.1, §11.7).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-authenticate",
                        "proxy-authorization", "proxy-authentication-info"})
#: Methods that do not change the resource (RFC 9110 §9.2.1); any other method, an
#: extension one included, is unsafe and invalidates on success (RFC 9111 §4.4).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: A 304 or 206 never replaces these stored fields (RFC 9111 §3.2, §3.4): they describe
#: the stored bytes — their length, range, content coding and digest — not the new message
#: (§3.2 lets a cache keep the fields "necessary to assure integrity of the stored response").
NOT_UPDATED = HOP_BY_HOP | {"content-length", "content-range", "content-encoding",
                            "content-md5"}
#: The client's conditions and range, which a cache answers itself when it validates.
CONDITIONS = ("If-None-Match", "If-Modified-Since", "If-Range", "Range", "If-Match",
              "If-Unmodified-Since")


def check_targets(targets) -> tuple[str, ...]:
    if isinstance(targets, str):
        raise TypeError(f"targets must be a collection of field names, not the string "
                        f"{targets!r}; write ({targets!r},)")
    if not isinstance(targets, Iterable):
        raise TypeError(f"targets must be a collection of field names, got "
                        f"{type(targets).__name__}")
    out = tuple(targets)
    for name in out:
        if not is_token(name):
            raise ValueError(f"targets must be header field names (tokens), got {name!r}, "
                             "e.g. ('cdn-cache-control',)")
    return tuple(name.lower() for name in out)


def stale_forbidden(cc: dict, shared: bool) -> str | None:
    """The response directive that forbids serving this response stale (§4.2.4), if any."""
    for directive in ("no-cache", "must-revalidate"):
        if directive in cc:
            return directive
    if shared:
        for directive in ("proxy-revalidate", "s-maxage"):
            if directive in cc:
                return directive
    return None


def unselected(entry: Entry, response: Response, store: Store) -> str | None:
    """Why a 304 does not select ``entry`` for update, or None if it does (RFC 9111
    §4.3.4). A strong ETag selects stored responses with that same strong validator, a weak
    one those it matches weakly; without an ETag, Last-Modified selects the one with that
    Last-Modified; with no validator at all, the one stored response (whose validators the
    request used) is selected only if it is alone."""
    stored = entry.response.headers
    etag = response.headers.get("ETag")
    if etag is not None:
        mine = stored.get("ETag")
        if mine is None:
            return f"carries ETag {etag} and the stored copy has none"
        weak = etag.strip().startswith("W/")
        if strong_match(etag, mine) or (weak and weak_match(etag, mine)):
            return None
        return f"carries ETag {etag}, which does not match the stored {mine}"
    modified = response.headers.get("Last-Modified")
    if modified is not None:
        mine = stored.get("Last-Modified")
        if mine is None:
            return f"carries Last-Modified {modified} and the stored copy has none"
        when = parse_http_date(modified)
        if modified.strip() == mine.strip() or (when is not None
                                                and when == parse_http_date(mine)):
            return None
        return f"carries Last-Modified {modified}, not the stored copy's {mine}"
    if store.count(entry.url) > 1:
        return "carries no validator and more than one response is stored for the URL"
    return None


def conditional(request: Request, entry: Entry) -> Request:
    """The request with the stored copy's validators as conditions (§4.3.1), and without
    the client's own conditions and Range (the cache answers those itself, §4.3.2)."""
    headers = request.headers.without(CONDITIONS)
    etag = entry.response.headers.get("ETag")
    last_modified = entry.response.headers.get("Last-Modified")
    if etag is not None:
        headers.set("If-None-Match", etag)
    if last_modified is not None:
        headers.set("If-Modified-Since", last_modified)
    return request.with_headers(headers)


def dated(response: Response, response_time: float) -> Response:
    """A response without a Date gets one: when it arrived (RFC 9110 §6.6.1)."""
    if "Date" in response.headers:
        return response
    headers = response.headers.copy()
    headers.set("Date", format_http_date(response_time))
    return Response(response.status, headers, response.body)


def storable_copy(response: Response) -> Response:
    """What is stored of a response: not its hop-by-hop fields, nor those its Connection
    field names (RFC 9111 §3.1)."""
    named = {t.strip().lower() for v in response.headers.get_all("Connection")
             for t in v.split(",")}
    return Response(response.status, response.headers.without(HOP_BY_HOP | named),
                    response.body)


def has_validator(response: Response) -> bool:
    return "ETag" in response.headers or "Last-Modified" in response.headers


def same_origin(base: str, value: str | None) -> str | None:
    """The absolute URL a Location/Content-Location ``value`` names, if it has the same
    origin (scheme, host, port) as ``base``; else None (RFC 9111 §4.4)."""
    if value is None:
        return None
    try:
        target = urllib.parse.urljoin(base, value.strip())
        a, b = urllib.parse.urlsplit(base), urllib.parse.urlsplit(target)
        same = (a.scheme.lower(), (a.hostname or "").lower(), a.port or 80) == (
            b.scheme.lower(), (b.hostname or "").lower(), b.port or 80)
    except ValueError:
        return None
    return urllib.parse.urlunsplit((b.scheme, b.netloc, b.path, b.query, "")) if same else None


def must_validate(req: dict, cc: dict, age: float, lifetime: float, fresh: bool,
                  shared: bool) -> str | None:
    """Why the stored copy cannot be served as is, or None if it can (§4.2, §5.2)."""
    if "no-cache" in cc:
        return "the response says no-cache"
    if "no-cache" in req:
        return "the request says no-cache"
    if "max-age" in req:
        limit = delta_seconds(req["max-age"])
        if limit is None or limit == 0 or age > limit:  # max-age=0: always validate
            return f"the request says max-age={req['max-age']}"
    if "min-fresh" in req:
        need = delta_seconds(req["min-fresh"])
        if need is not None and lifetime - age < need:
            return f"the request says min-fresh={need}"
    if fresh:
        return None
    if "max-stale" in req and stale_forbidden(cc, shared) is None:
        allowed = delta_seconds(req["max-stale"])
        if req["max-stale"] is None or (allowed is not None and age - lifetime <= allowed):
            return None
    return "stale"


def revalidate_window(entry: Entry, need: str, age: float, lifetime: float,
                      shared: bool) -> int | None:
    """The stale-while-revalidate window (s) that lets ``entry`` be served stale now,
    or None (RFC 5861 §3: only for staleness, within the window, when nothing forbids
    serving stale)."""
    window = delta_seconds(entry.directives.get("stale-while-revalidate"))
    if (need != "stale" or window is None or age - lifetime > window
            or stale_forbidden(entry.directives, shared) is not None):
        return None
    return window


def stale_if_error_forbids(entry: Entry, req: dict, now: float, shared: bool,
                           heuristic_fraction: float) -> str | None:
    """Why ``entry`` may not be served stale on an error, or None if it may."""
    forbid = stale_forbidden(entry.directives, shared)
    if forbid is not None:
        return f"says {forbid}"
    for where, cc in (("response", entry.directives), ("request", req)):
        if "stale-if-error" in cc:
            window = delta_seconds(cc["stale-if-error"])
            lifetime, _ = entry.lifetime(shared, heuristic_fraction)
            stale_for = entry.age(now) - lifetime
            if window is None or stale_for > window:
                return (f"has been stale {stale_for:.0f} s, past the {where}'s "
                        f"stale-if-error={cc['stale-if-error']}")
            return None
    return None
