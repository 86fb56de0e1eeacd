"""The pure rules of RFC 9111 (with RFC 9110, 5861 and 9213) — no state, no sockets.

Each rule is a function of header fields that :class:`~scalekit.caching.http.HttpCache`
applies:

* ``Cache-Control`` directives (RFC 9111 §5.2), targeted fields such as
  ``CDN-Cache-Control`` (RFC 9213, a Structured-Field Dictionary, RFC 8941 §3.2) and
  HTTP-dates in their three formats (RFC 9110 §5.6.7);
* freshness lifetime = ``s-maxage`` (shared caches only) → ``max-age`` → ``Expires − Date``
  → a heuristic, 10% of ``Date − Last-Modified``, for the statuses that allow one or a
  ``public`` response (§4.2.1, §4.2.2);
* age = what upstream caches report in ``Age`` plus the network delay, or what the clocks
  say, whichever is larger, plus the time the response has sat in a cache (§4.2.3);
* whether a response may be stored at all (§3: a final status; ``no-store`` unless
  ``must-understand`` and a status this cache understands, §5.2.2.3; ``private`` in a shared
  cache; ``Authorization`` in a shared cache, §3.5; explicit freshness, or a heuristically
  cacheable status);
* entity-tag comparison, strong and weak (RFC 9110 §8.8.3.2), and ``If-None-Match``
  (RFC 9110 §13.1.2).

Malformed headers never raise: each follows the handling the RFC states (an ``Expires``
that is not exactly an HTTP-date means already expired, §5.3; an invalid ``max-age`` means
stale, §4.2.1; an invalid ``Age`` is ignored, §5.1; huge delta-seconds are capped at 2³¹,
§1.2.2; a targeted field that is not a valid Dictionary is ignored, RFC 9213 §2.1).

Choices where the RFC leaves latitude (documented where they apply): conflicting duplicate
``max-age``/``s-maxage`` make the response stale; ``private`` and ``no-cache`` with field
names are treated as their unqualified forms; only GET responses (whole or partial) are
stored, HEAD freshens them (§4.3.5).

Sources: RFC 9111 *HTTP Caching* and RFC 9110 *HTTP Semantics* (§5.3 field lines, §5.6.7
dates, §8.8.3 entity tags, §13.1.2 If-None-Match), both June 2022; RFC 9213 *Targeted HTTP
Cache Control* (June 2022); RFC 8941 *Structured Field Values* (February 2021).

One file of about 500 lines: RFC 9111's pure rules (storable, freshness, age, directives) in
the RFC's order, each a small function cited by section; kept together so the RFC and this
file can be read side by side.
"""

from __future__ import annotations

import calendar
import email.utils
import http as _http
import re
import time
from collections.abc import Callable, Mapping

from scalekit import _check
from scalekit.caching.http.messages import (
    Headers,
    OriginUnreachable,
    Request,
    Response,
    is_token,
)

__all__ = [
    "Headers", "Request", "Response", "OriginUnreachable", "is_token", "parse_cache_control",
    "parse_targeted", "parse_surrogate_control", "SURROGATE_DEVICE",
    "parse_http_date", "format_http_date", "delta_seconds", "split_list",
    "freshness_lifetime", "current_age", "corrected_initial_age", "storable", "understood",
    "weak_match", "strong_match", "if_none_match_matches", "HEURISTIC_STATUSES",
    "DELTA_SECONDS_CAP",
]

#: Statuses a cache may give a heuristic lifetime (RFC 9110 §15.1, RFC 9111 §4.2.2).
HEURISTIC_STATUSES = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})

#: The largest delta-seconds a cache needs to represent (RFC 9111 §1.2.2).
DELTA_SECONDS_CAP = 2**31

#: The final statuses RFC 9110 §15 defines, whose caching rules this cache follows — the ones
#: it "understands" for ``must-understand`` (RFC 9111 §5.2.2.3).
_UNDERSTOOD = frozenset(s.value for s in _http.HTTPStatus if s.value >= 200) - {
    208, 226, 418, 423, 424, 425, 428, 429, 431, 451, 506, 507, 508, 510, 511}


def understood(status: int) -> bool:
    """Whether this cache understands (and conforms to the caching rules of) ``status``:
    a final status defined by RFC 9110 §15 (RFC 9111 §5.2.2.3)."""
    _check.integer("status", status, low=100, high=999)
    return status in _UNDERSTOOD


# --------------------------------------------------------------------------- parsing

def parse_cache_control(value: str | None) -> dict[str, str | None]:
    """The directives of a Cache-Control field value, e.g. ``{"max-age": "60", "public": None}``.

    Directive names are case-insensitive and returned lower-case; an argument may be a token
    or a quoted-string (unquoted here; RFC 9111 §5.2 asks recipients to accept both forms).
    A directive without an argument maps to None. For a repeated directive the first
    occurrence wins — except conflicting ``max-age`` or ``s-maxage``, which become ``"0"``:
    §4.2.1 lets a cache "consider the response stale", and this one does. Never raises on
    malformed input; pass ``Headers.get`` so repeated field lines are combined.
    """
    if value is None:
        return {}
    if not isinstance(value, str):
        raise TypeError(f"value must be a string or None, got {type(value).__name__}")
    out: dict[str, str | None] = {}
    for item in split_list(value):
        name, eq, arg = item.partition("=")
        name = name.strip().lower()
        if not name:
            continue
        parsed = _unquote(arg.strip()) if eq else None
        if name not in out:
            out[name] = parsed
        elif name in ("max-age", "s-maxage") and out[name] != parsed:
            out[name] = "0"
    return out


def split_list(value: str) -> list[str]:
    """The members of a comma-separated list field value (RFC 9110 §5.6.1), split only at
    commas outside quoted-strings; members keep their spaces (strip them yourself)."""
    if not isinstance(value, str):
        raise TypeError(f"value must be a field value (a str), got {type(value).__name__}")
    items, start, quoted, escaped = [], 0, False, False
    for i, c in enumerate(value):
        if escaped:
            escaped = False
        elif quoted and c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            items.append(value[start:i])
            start = i + 1
    items.append(value[start:])
    return items


def _unquote(arg: str) -> str:
    if not arg.startswith('"'):
        return arg
    out, escaped = [], False
    for c in arg[1:]:
        if escaped:
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"':
            break
        else:
            out.append(c)
    return "".join(out)


def delta_seconds(value: str | None) -> int | None:
    """delta-seconds (RFC 9111 §1.2.2): digits only, capped at 2**31; anything else None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"value must be a string or None, got {type(value).__name__}")
    value = value.strip()
    if not value or not value.isascii() or not value.isdigit():
        return None
    return DELTA_SECONDS_CAP if len(value) > 10 else min(int(value), DELTA_SECONDS_CAP)


# RFC 8941 §3.2, §4.2.2: a Dictionary is key[=bare-item][;parameters], separated by
# OWS "," OWS; keys are lcalpha / "*" then lcalpha, digits, "_-.*"; bare items are integers,
# decimals, strings, tokens, byte sequences or booleans (inner lists are not used by
# cache directives and make the field invalid here).
_SF_MEMBER = re.compile(
    r"""(?P<key>[a-z*][a-z0-9_\-.*]*)
        (?:=(?P<value>-?[0-9]{1,15}(?:\.[0-9]{1,3})?|"(?:[^"\\\x00-\x1f\x7f]|\\["\\])*"
                     |[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*|:[A-Za-z0-9+/=]*:|\?[01]))?
        (?P<params>(?:;[ ]*[a-z*][a-z0-9_\-.*]*
                      (?:=(?:-?[0-9.]+|"[^"]*"|[A-Za-z*][^;,\s]*|\?[01]))?)*)
    """, re.X)


#: This cache's device token in ``Surrogate-Capability`` and ``Surrogate-Control``.
SURROGATE_DEVICE = "scalekit"
_SURROGATE_MAX_AGE = re.compile(r"(\d+)(?:\+\d+)?")


def parse_surrogate_control(value: str | None, device: str = SURROGATE_DEVICE
                            ) -> dict[str, str | None] | None:
    """The directives of ``Surrogate-Control`` meant for this surrogate (W3C Edge
    Architecture Specification 1.0, 2001: a reverse proxy's own cache-control field), or None
    when the field is absent or holds none for it — then ``Cache-Control`` governs.

    Each directive may name its surrogate after a semicolon (``max-age=60;scalekit``); one
    naming another device is not for this one. Names are case-insensitive; ``max-age`` is
    ``delta-seconds`` with an optional ``+`` and a stale allowance (only the lifetime is
    kept), and any other form of it — spaces around ``=`` included — is ignored;
    ``no-store-remote`` is for surrogates far from the origin, which a reverse proxy on
    127.0.0.1 is not."""
    if not isinstance(device, str) or not is_token(device):
        raise TypeError(f"device must be a device token such as {SURROGATE_DEVICE!r}, got "
                        f"{device!r}")
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"value must be a string or None, got {type(value).__name__}")
    device = device.lower()
    out: dict[str, str | None] = {}
    for member in split_list(value):
        directive, _, target = member.partition(";")
        target = target.strip().lower()
        if target and target != device:
            continue
        name, eq, arg = directive.strip().partition("=")
        if eq and (name != name.rstrip() or arg != arg.lstrip()):
            continue  # "max-age = 60": no space around "=" in a directive (RFC 9111 §5.2)
        name = name.lower()
        if not name or name == "no-store-remote":
            continue
        arg = arg.strip() if eq else None
        if name == "max-age":
            m = _SURROGATE_MAX_AGE.fullmatch(arg or "")
            if m is None:
                continue
            arg = m[1]
        out[name] = arg
    return out or None


def parse_targeted(value: str | None) -> dict[str, str | None] | None:
    """The directives of a targeted cache-control field such as ``CDN-Cache-Control``
    (RFC 9213), or None when the field is absent or not a valid Structured-Field Dictionary
    (RFC 8941) — then the cache ignores it and falls back to the next target or to
    ``Cache-Control`` (RFC 9213 §2.1). Directive values come back as in
    :func:`parse_cache_control` (``max-age`` as its digits); a ``max-age`` or ``s-maxage``
    that is not a non-negative Integer (e.g. the String ``"60"``) makes the field invalid."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"value must be a string or None, got {type(value).__name__}")
    text = value.strip(" \t")
    if not text:
        return None
    out: dict[str, str | None] = {}
    pos = 0
    while True:
        m = _SF_MEMBER.match(text, pos)
        if m is None:
            return None
        key, raw = m["key"], m["value"]
        if key in ("max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"):
            if raw is None or not raw.isdigit():
                return None
        parsed = None if raw is None or raw == "?1" else _unquote(raw)
        if raw == "?0":
            out.pop(key, None)  # a false boolean is the directive's absence
        else:
            out[key] = parsed  # RFC 8941 §4.2.2: the last duplicate key wins
        pos = m.end()
        rest = text[pos:].lstrip(" \t")
        if not rest:
            return out
        if not rest.startswith(","):
            return None
        rest = rest[1:].lstrip(" \t")
        if not rest:
            return None  # a trailing comma
        pos = len(text) - len(rest)


_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_IMF = re.compile(r"[a-z]{3},\s*(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+(\d\d):(\d\d):(\d\d)\s+gmt",
                  re.I | re.A)
_RFC850 = re.compile(r"[a-z]+,\s*(\d{1,2})-([a-z]{3})-(\d\d)\s+(\d\d):(\d\d):(\d\d)\s+gmt",
                     re.I | re.A)
_ASCTIME = re.compile(r"[a-z]{3}\s+([a-z]{3})\s+(\d{1,2})\s+(\d\d):(\d\d):(\d\d)\s+(\d{4})",
                      re.I | re.A)
# The grammar exactly (RFC 9110 §5.6.7), names in any case: one space where it has one.
_IMF_STRICT = re.compile(r"[a-z]{3}, (\d\d) ([a-z]{3}) (\d{4}) (\d\d):(\d\d):(\d\d) gmt",
                         re.I | re.A)
_RFC850_STRICT = re.compile(
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday), "
    r"(\d\d)-([a-z]{3})-(\d\d) (\d\d):(\d\d):(\d\d) gmt", re.I | re.A)
_ASCTIME_STRICT = re.compile(r"[a-z]{3} ([a-z]{3}) ((?: \d)|\d\d) (\d\d):(\d\d):(\d\d) (\d{4})",
                             re.I | re.A)


def parse_http_date(value: str | None, *, now: float | None = None,
                    strict: bool = False) -> float | None:
    """An HTTP-date as seconds since the Unix epoch, or None if it is not one.

    Accepts the three formats of RFC 9110 §5.6.7: IMF-fixdate ``Sun, 06 Nov 1994 08:49:37
    GMT``, obsolete RFC 850 ``Sunday, 06-Nov-94 08:49:37 GMT`` and asctime ``Sun Nov  6
    08:49:37 1994``; case is forgiven and the day name is not checked. By default extra
    spaces and a one-digit day are forgiven too (robust parsing, §5.6.7); ``strict=True``
    takes the grammar exactly, as a cache reads ``Expires`` (an invalid one means "already
    expired", RFC 9111 §5.3). A two-digit year more than 50 years after ``now`` (seconds;
    default: the wall clock) is taken as the century before. Second 60 (a leap second) is
    allowed.
    """
    if now is not None:
        now = _check.number("now", now)
        try:
            this_year = time.gmtime(now).tm_year
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"now must be a time (seconds since the epoch) the calendar can "
                             f"represent, got {now!r}") from None
    strict = _check.boolean("strict", strict)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"value must be a string or None, got {type(value).__name__}")
    text = value.strip()
    imf, asctime, rfc850 = ((_IMF_STRICT, _ASCTIME_STRICT, _RFC850_STRICT) if strict
                            else (_IMF, _ASCTIME, _RFC850))
    if m := imf.fullmatch(text):
        day, mon, year, hh, mm, ss = m.groups()
    elif m := asctime.fullmatch(text):
        mon, day, hh, mm, ss, year = m.groups()
    elif m := rfc850.fullmatch(text):
        day, mon, yy, hh, mm, ss = m.groups()
        if now is None:
            this_year = time.gmtime().tm_year
        year = (this_year // 100) * 100 + int(yy)
        if year > this_year + 50:
            year -= 100
    else:
        return None
    month = _MONTHS.get(mon.lower())
    year, day, hh, mm, ss = int(year), int(day), int(hh), int(mm), int(ss)
    if (month is None or not 1 <= year <= 9999 or hh > 23 or mm > 59 or ss > 60
            or not 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    return float(calendar.timegm((year, month, day, hh, mm, ss, 0, 0, 0)))


def format_http_date(seconds: float) -> str:
    """An IMF-fixdate (RFC 9110 §5.6.7) for a time in seconds since the epoch (floored)."""
    seconds = _check.number("seconds", seconds)
    try:
        return email.utils.formatdate(int(seconds // 1), usegmt=True)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"seconds must be a time the calendar can represent, "
                         f"got {seconds!r}") from None


# --------------------------------------------------------------------------- freshness

def _headers(name: str, value: object) -> Headers:
    if isinstance(value, Headers):
        return value
    if isinstance(value, Mapping):
        return Headers(value)
    raise TypeError(f"{name} must be Headers or a mapping, got {type(value).__name__}")


def _directives(name: str, value: object) -> dict | None:
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{name} must be a mapping of directives (as parse_cache_control "
                    f"returns) or None, got {type(value).__name__}")


def freshness_lifetime(headers: Headers | Mapping[str, str], *, shared: bool = False,
                       heuristic_fraction: float = 0.1, status: int = 200,
                       response_time: float | None = None,
                       directives: Mapping[str, str | None] | None = None) -> tuple[float, str]:
    """(lifetime in seconds, the rule that set it) for a response's header fields.

    RFC 9111 §4.2.1, first that applies: ``s-maxage`` (shared caches only), ``max-age``,
    ``Expires − Date``; else a heuristic lifetime ``heuristic_fraction × (Date −
    Last-Modified)`` when the status is heuristically cacheable or the response is
    ``public`` (§4.2.2); else ``(0, "none")``. An invalid or conflicting ``max-age`` /
    ``s-maxage`` gives lifetime 0 (stale); an ``Expires`` that is not exactly an HTTP-date
    means already expired (§5.3). Without a valid Date, ``response_time`` (seconds since the
    epoch, when the response arrived) stands in for it (RFC 9110 §6.6.1); without either,
    Expires gives 0. ``directives`` replaces the parsed ``Cache-Control`` (a cache obeying
    a targeted field such as ``CDN-Cache-Control`` passes that field's, RFC 9213 §2.1).
    """
    h = _headers("headers", headers)
    shared = _check.boolean("shared", shared)
    heuristic_fraction = _check.number("heuristic_fraction", heuristic_fraction,
                                       low=0.0, high=1.0)
    status = _check.integer("status", status, low=100, high=999)
    if response_time is not None:
        response_time = _check.number("response_time", response_time)
    cc = _directives("directives", directives)
    if cc is None:
        cc = parse_cache_control(h.get("Cache-Control"))
    return _lifetime(h, cc, lambda: parse_http_date(h.get("Date"), now=response_time),
                     shared, heuristic_fraction, status, response_time)


def _lifetime(h: Headers, cc: Mapping[str, str | None], date_of: Callable[[], float | None],
              shared: bool, heuristic_fraction: float, status: int,
              response_time: float | None) -> tuple[float, str]:
    """``freshness_lifetime`` without its argument checks, given the parsed Cache-Control
    and a function returning the parsed Date (called only if needed)."""
    for rule in (("s-maxage", "max-age") if shared else ("max-age",)):
        if rule in cc:
            seconds = delta_seconds(cc[rule])
            return (float(seconds) if seconds is not None else 0.0), rule
    date = date_of()
    date = response_time if date is None else date
    if "Expires" in h:
        expires = parse_http_date(h.get("Expires"), now=response_time, strict=True)
        if expires is None or date is None:
            return 0.0, "expires"
        return max(0.0, expires - date), "expires"
    last_modified = parse_http_date(h.get("Last-Modified"), now=response_time)
    if ((status in HEURISTIC_STATUSES or "public" in cc) and last_modified is not None
            and date is not None):
        return max(0.0, heuristic_fraction * (date - last_modified)), "heuristic"
    return 0.0, "none"


def current_age(headers: Headers | Mapping[str, str], *, request_time: float,
                response_time: float, now: float) -> float:
    """A stored response's current age in seconds, computed exactly as RFC 9111 §4.2.3::

        apparent_age = max(0, response_time − date_value)
        response_delay = response_time − request_time
        corrected_age_value = age_value + response_delay
        corrected_initial_age = max(apparent_age, corrected_age_value)
        resident_time = now − response_time
        current_age = corrected_initial_age + resident_time

    ``request_time``/``response_time`` are when the request left and the response arrived,
    ``now`` the present (seconds since the epoch). A missing or invalid Date counts as
    ``response_time`` (RFC 9110 §6.6.1). Age uses its first member; an invalid Age is
    ignored (§5.1).
    """
    now = _check.number("now", now)
    initial = corrected_initial_age(headers, request_time=request_time,
                                    response_time=response_time)
    return initial + (now - response_time)


def corrected_initial_age(headers: Headers | Mapping[str, str], *, request_time: float,
                          response_time: float) -> float:
    """The part of :func:`current_age` that does not change while the response sits in a
    cache (RFC 9111 §4.2.3 ``corrected_initial_age``), in seconds."""
    h = _headers("headers", headers)
    request_time = _check.number("request_time", request_time)
    response_time = _check.number("response_time", response_time)
    date = parse_http_date(h.get("Date"), now=response_time)
    date_value = response_time if date is None else date
    age_field = h.get("Age")
    age_value = delta_seconds(age_field.split(",")[0]) if age_field is not None else None
    apparent_age = max(0.0, response_time - date_value)
    response_delay = response_time - request_time
    corrected_age_value = (age_value or 0) + response_delay
    return max(apparent_age, corrected_age_value)


def storable(request: Request, response: Response, *, shared: bool,
             obey_private: bool = True,
             directives: Mapping[str, str | None] | None = None) -> tuple[bool, str]:
    """(may this cache store the response?, why) by RFC 9111 §3.

    Stored are only: responses to GET (whole, or a 206 part, §3.3); a final status, and
    not 304; no ``no-store`` in the request, nor in the response — unless the response says
    ``must-understand`` and its status is one this cache understands (:func:`understood`),
    while ``must-understand`` with any other status is never stored (§5.2.2.3); in a shared
    cache no ``private`` (even with field names; a misconfigured cache passes
    ``obey_private=False``) and, if the request carried ``Authorization``, only with
    ``public``, ``s-maxage`` or ``must-revalidate`` (§3.5); and at least one of ``public``,
    ``private`` (private cache), ``Expires``, ``max-age``, ``s-maxage`` (shared) or a
    heuristically cacheable status. Any final status — 299, 499, 599 included — is stored
    with explicit freshness. ``directives`` replaces the response's parsed Cache-Control
    (a targeted field's, RFC 9213).
    """
    if not isinstance(request, Request):
        raise TypeError(f"request must be a Request, got {type(request).__name__}")
    if not isinstance(response, Response):
        raise TypeError(f"response must be a Response, got {type(response).__name__}")
    shared = _check.boolean("shared", shared)
    obey_private = _check.boolean("obey_private", obey_private)
    cc = _directives("directives", directives)
    if cc is None:
        cc = parse_cache_control(response.headers.get("Cache-Control"))
    req = parse_cache_control(request.headers.get("Cache-Control"))
    return _storable(request, response, req, cc, shared, obey_private)


def _storable(request: Request, response: Response, req: Mapping[str, str | None],
              cc: Mapping[str, str | None], shared: bool,
              obey_private: bool) -> tuple[bool, str]:
    status = response.status
    if request.method != "GET":
        return False, f"{request.method} responses are not stored (GET only)"
    if status < 200 or status == 304:
        return False, f"status {status} is not a complete final response"
    if "must-understand" in cc:
        if not understood(status):
            return False, (f"must-understand, and status {status} is not one this cache "
                           "understands (RFC 9111 §5.2.2.3)")
    elif "no-store" in cc:
        return False, "the response says no-store"
    if "no-store" in req:
        return False, "the request says no-store"
    if shared and obey_private and "private" in cc:
        return False, "the response is private and this cache is shared"
    if shared and "Authorization" in request.headers and not (
            {"public", "s-maxage", "must-revalidate"} & cc.keys()):
        return False, ("the request carried Authorization and the response lacks public, "
                       "s-maxage or must-revalidate (RFC 9111 §3.5)")
    allows = ("public" in cc or ("private" in cc and not shared) or "Expires" in
              response.headers or "max-age" in cc or (shared and "s-maxage" in cc)
              or status in HEURISTIC_STATUSES)
    if not allows:
        return False, f"status {status} needs explicit freshness (max-age, Expires or public)"
    return True, "storable"


# --------------------------------------------------------------------------- validators

def _opaque(name: str, etag: object) -> tuple[bool, str]:
    """(is it weak?, the rest). RFC 9110 §8.8.3: the weak indicator is the case-sensitive
    ``W/``; anything else (``w/"a"`` included) is compared as it stands."""
    if not isinstance(etag, str):
        raise TypeError(f"{name} must be an entity-tag string, got {etag!r}")
    etag = etag.strip()
    weak = etag.startswith("W/")
    return weak, etag[2:].strip() if weak else etag


def weak_match(etag_a: str, etag_b: str) -> bool:
    """Weak comparison (RFC 9110 §8.8.3.2): the opaque tags are equal, W/ or not."""
    return _opaque("etag_a", etag_a)[1] == _opaque("etag_b", etag_b)[1]


def strong_match(etag_a: str, etag_b: str) -> bool:
    """Strong comparison (RFC 9110 §8.8.3.2): neither is weak and the opaque tags are equal."""
    (weak_a, a), (weak_b, b) = _opaque("etag_a", etag_a), _opaque("etag_b", etag_b)
    return not weak_a and not weak_b and a == b


def if_none_match_matches(header_value: str | None, etag: str | None) -> bool:
    """Does an If-None-Match field value match the current ``etag`` (RFC 9110 §13.1.2)?

    ``*`` matches any current representation; otherwise the value is a comma-separated list
    of entity-tags, each compared weakly (a member that is not an entity-tag, such as
    ``w/"a"`` with a lower-case w, matches only an identical value). A None header or etag
    matches nothing but ``*``.
    """
    if header_value is not None and not isinstance(header_value, str):
        raise TypeError(f"header_value must be a string or None, got {header_value!r}")
    if etag is not None and not isinstance(etag, str):
        raise TypeError(f"etag must be a string or None, got {etag!r}")
    if header_value is None:
        return False
    if header_value.strip() == "*":
        return True
    if etag is None:
        return False
    members = (m.strip() for m in split_list(header_value))
    return any(weak_match(member, etag) for member in members if member)
