"""HTTP messages and the pure rules of RFC 9111 and RFC 9110 — no state, no sockets.

The message types: :class:`Headers` (ordered, multi-valued, case-insensitive field lines;
repeated lines combine with ", ", RFC 9110 §5.3), :class:`Request`, :class:`Response`, and
:class:`OriginUnreachable` for an origin that cannot be reached. The rules, each a function
of header fields that :class:`~scalekit.caching.http.HttpCache` applies:

* ``Cache-Control`` directives (RFC 9111 §5.2) and HTTP-dates in their three formats
  (RFC 9110 §5.6.7);
* freshness lifetime = ``s-maxage`` (shared caches only) → ``max-age`` → ``Expires − Date``
  → a heuristic, 10% of ``Date − Last-Modified``, for the statuses that allow one (§4.2.1,
  §4.2.2);
* age = what upstream caches report in ``Age`` plus the network delay, or what the clocks
  say, whichever is larger, plus the time the response has sat in a cache (§4.2.3);
* whether a response may be stored at all (§3: ``no-store``; ``private`` in a shared cache;
  ``Authorization`` in a shared cache, §3.5);
* entity-tag comparison, strong and weak (RFC 9110 §8.8.3.2), and ``If-None-Match``
  (RFC 9110 §13.1.2).

Malformed headers never raise: each follows the handling the RFC states (an invalid
``Expires`` means already expired, §5.3; an invalid ``max-age`` means stale, §4.2.1; an
invalid ``Age`` is ignored, §5.1; huge delta-seconds are capped at 2³¹, §1.2.2).

Choices where the RFC leaves latitude (documented where they apply): conflicting duplicate
``max-age``/``s-maxage`` make the response stale; ``private`` and ``no-cache`` with field
names are treated as their unqualified forms; ``must-understand`` is not implemented, so
``no-store`` is always obeyed; only GET responses are storable.

Sources: RFC 9111 *HTTP Caching* and RFC 9110 *HTTP Semantics* (§5.3 field lines, §5.6.7
dates, §8.8.3 entity tags, §13.1.2 If-None-Match), both June 2022.
"""

from __future__ import annotations

import calendar
import email.utils
import http as _http
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from scalekit import _check

__all__ = [
    "Headers", "Request", "Response", "OriginUnreachable", "parse_cache_control",
    "parse_http_date", "format_http_date", "freshness_lifetime", "current_age", "storable",
    "weak_match", "strong_match", "if_none_match_matches", "HEURISTIC_STATUSES",
    "DELTA_SECONDS_CAP", "is_token",
]

#: Statuses a cache may give a heuristic lifetime (RFC 9110 §15.1, RFC 9111 §4.2.2).
HEURISTIC_STATUSES = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})

#: The largest delta-seconds a cache needs to represent (RFC 9111 §1.2.2).
DELTA_SECONDS_CAP = 2**31

_FORBIDDEN = re.compile(r"[\r\n\0]")
# A field name is a token (RFC 9110 §5.1, §5.6.2): tchar = "!#$%&'*+-.^_`|~", digits, letters.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 9110 token (§5.6.2) — what a field name must be (§5.1)."""
    return isinstance(text, str) and _TOKEN.fullmatch(text) is not None


# --------------------------------------------------------------------------- messages

class Headers:
    """HTTP header fields: ordered, multi-valued, with case-insensitive names.

    Build from ``(name, value)`` pairs or a mapping. ``get`` combines repeated field lines
    with ", " (RFC 9110 §5.3); ``get_all`` keeps them apart (needed for Set-Cookie).
    """

    __slots__ = ("_pairs",)
    __hash__ = None  # mutable

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] | None = None):
        self._pairs: list[tuple[str, str]] = []
        if pairs is None:
            return
        if isinstance(pairs, (str, bytes)):
            raise TypeError("headers must be (name, value) pairs or a mapping, "
                            f"got {type(pairs).__name__}")
        items = pairs.items() if isinstance(pairs, (Mapping, Headers)) else pairs
        for item in items:
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError(f"each header must be a (name, value) pair, got {item!r}")
            self.add(*item)

    @staticmethod
    def _checked(name: object, value: object) -> tuple[str, str]:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a header name must be a non-empty string, got {name!r}")
        if not _TOKEN.fullmatch(name):
            # RFC 9110 §5.1: field-name = token (no spaces, colons, quotes, brackets, ...)
            raise ValueError(f"header name {name!r} is not a token (RFC 9110 §5.1): use "
                             "letters, digits and !#$%&'*+-.^_`|~ only")
        if not isinstance(value, str):
            raise TypeError(f"header {name} must have a string value, got {value!r}")
        if _FORBIDDEN.search(value):
            raise ValueError(f"header {name!r} has a line break or NUL in its value")
        return name, value

    def add(self, name: str, value: str) -> None:
        """Append one field line (keeping any with the same name)."""
        self._pairs.append(self._checked(name, value))

    def get(self, name: str, default: str | None = None) -> str | None:
        """All values of ``name`` joined with ", ", or ``default`` if there are none."""
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def get_all(self, name: str) -> list[str]:
        """Each field line's value for ``name``, in order."""
        key = name.lower()
        return [v for n, v in self._pairs if n.lower() == key]

    def items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair in the original order and case."""
        return list(self._pairs)

    def set(self, name: str, value: str) -> None:
        """Replace every field line for ``name`` with one (at the first one's position)."""
        self._set_trusted(*self._checked(name, value))

    def _set_trusted(self, name: str, value: str) -> None:
        """``set`` without the checks, for a name and value already known to be valid (a
        constant token name, or a pair taken from another Headers). Internal fast path."""
        key, out, done = name.lower(), [], False
        for n, v in self._pairs:
            if n.lower() != key:
                out.append((n, v))
            elif not done:
                out.append((name, value))
                done = True
        if not done:
            out.append((name, value))
        self._pairs = out

    def _remove_all(self, keys: frozenset[str]) -> None:
        """Drop every field line whose lower-cased name is in ``keys``. Internal fast path."""
        self._pairs = [(n, v) for n, v in self._pairs if n.lower() not in keys]

    def remove(self, name: str) -> None:
        """Drop every field line for ``name`` (no error if there is none)."""
        self._remove_all(frozenset((name.lower(),)))

    def copy(self) -> Headers:
        """An independent copy."""
        new = Headers.__new__(Headers)
        new._pairs = list(self._pairs)
        return new

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(n.lower() == key for n, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __iter__(self) -> Iterator[str]:
        return (n for n, _ in self._pairs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return ([(n.lower(), v) for n, v in self._pairs]
                == [(n.lower(), v) for n, v in other._pairs])

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


def _as_headers(name: str, value: object) -> Headers:
    if isinstance(value, Headers):
        return value.copy()
    if value is None:
        return Headers()
    if isinstance(value, (Mapping, list, tuple)):
        return Headers(value)
    raise TypeError(f"{name} must be Headers, a mapping or (name, value) pairs, "
                    f"got {type(value).__name__}")


@dataclass(frozen=True)
class Request:
    """A request as the cache sees it: method, target URL and header fields."""

    method: str = "GET"
    url: str = "/"
    headers: Headers = field(default_factory=Headers)

    def __post_init__(self):
        if not isinstance(self.method, str) or not self.method:
            raise TypeError(f"method must be a non-empty string, got {self.method!r}")
        if not isinstance(self.url, str):
            raise TypeError(f"url must be a string, got {self.url!r}")
        object.__setattr__(self, "headers", _as_headers("headers", self.headers))

    @classmethod
    def _trusted(cls, method: str, url: str, headers: Headers) -> Request:
        """A Request from parts already checked, taking ``headers`` (a Headers of the
        caller's own, not shared) without copying it. Internal fast path."""
        request = object.__new__(cls)
        object.__setattr__(request, "method", method)
        object.__setattr__(request, "url", url)
        object.__setattr__(request, "headers", headers)
        return request


@dataclass(frozen=True)
class Response:
    """A response: status code, header fields and body bytes."""

    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self):
        _check.integer("status", self.status, low=100, high=999)
        if not isinstance(self.body, (bytes, bytearray)):
            raise TypeError(f"body must be bytes, got {type(self.body).__name__}")
        object.__setattr__(self, "body", bytes(self.body))
        object.__setattr__(self, "headers", _as_headers("headers", self.headers))

    @classmethod
    def _trusted(cls, status: int, headers: Headers, body: bytes) -> Response:
        """A Response from parts already checked (a status and ``bytes`` body taken from
        another Response), taking ``headers`` (a Headers of the caller's own, not shared)
        without copying it. Internal fast path."""
        response = object.__new__(cls)
        object.__setattr__(response, "status", status)
        object.__setattr__(response, "headers", headers)
        object.__setattr__(response, "body", body)
        return response


class OriginUnreachable(ConnectionError):
    """Raised by an origin callable when the origin server cannot be reached."""


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
    for item in _split_outside_quotes(value):
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


def _split_outside_quotes(value: str) -> list[str]:
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


def _delta_seconds(value: str | None) -> int | None:
    """delta-seconds (RFC 9111 §1.2.2): digits only, capped at 2**31; anything else None."""
    if value is None:
        return None
    value = value.strip()
    if not value or not value.isascii() or not value.isdigit():
        return None
    return DELTA_SECONDS_CAP if len(value) > 10 else min(int(value), DELTA_SECONDS_CAP)


_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_IMF = re.compile(r"[a-z]{3},\s*(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+(\d\d):(\d\d):(\d\d)\s+gmt",
                  re.I | re.A)
_RFC850 = re.compile(r"[a-z]+,\s*(\d{1,2})-([a-z]{3})-(\d\d)\s+(\d\d):(\d\d):(\d\d)\s+gmt",
                     re.I | re.A)
_ASCTIME = re.compile(r"[a-z]{3}\s+([a-z]{3})\s+(\d{1,2})\s+(\d\d):(\d\d):(\d\d)\s+(\d{4})",
                      re.I | re.A)


def parse_http_date(value: str | None, *, now: float | None = None) -> float | None:
    """An HTTP-date as seconds since the Unix epoch, or None if it is not one.

    Accepts the three formats of RFC 9110 §5.6.7: IMF-fixdate ``Sun, 06 Nov 1994 08:49:37
    GMT``, obsolete RFC 850 ``Sunday, 06-Nov-94 08:49:37 GMT`` and asctime ``Sun Nov  6
    08:49:37 1994``; case and extra spaces are forgiven, the day name is not checked. A
    two-digit year more than 50 years after ``now`` (seconds; default: the wall clock) is
    taken as the century before. Second 60 (a leap second) is allowed.
    """
    if now is not None:
        now = _check.number("now", now)
        try:
            this_year = time.gmtime(now).tm_year
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"now must be a time (seconds since the epoch) the calendar can "
                             f"represent, got {now!r}") from None
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"value must be a string or None, got {type(value).__name__}")
    text = value.strip()
    if m := _IMF.fullmatch(text):
        day, mon, year, hh, mm, ss = m.groups()
    elif m := _ASCTIME.fullmatch(text):
        mon, day, hh, mm, ss, year = m.groups()
    elif m := _RFC850.fullmatch(text):
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


def freshness_lifetime(headers: Headers | Mapping[str, str], *, shared: bool = False,
                       heuristic_fraction: float = 0.1, status: int = 200,
                       response_time: float | None = None) -> tuple[float, str]:
    """(lifetime in seconds, the rule that set it) for a response's header fields.

    RFC 9111 §4.2.1, first that applies: ``s-maxage`` (shared caches only), ``max-age``,
    ``Expires − Date``; else a heuristic lifetime ``heuristic_fraction × (Date −
    Last-Modified)`` when the status is heuristically cacheable or the response is
    ``public`` (§4.2.2); else ``(0, "none")``. An invalid or conflicting ``max-age`` /
    ``s-maxage`` gives lifetime 0 (stale); an invalid ``Expires`` means already expired
    (§5.3). Without a valid Date, ``response_time`` (seconds since the epoch, when the
    response arrived) stands in for it (RFC 9110 §6.6.1); without either, Expires gives 0.
    """
    h = _headers("headers", headers)
    shared = _check.boolean("shared", shared)
    heuristic_fraction = _check.number("heuristic_fraction", heuristic_fraction,
                                       low=0.0, high=1.0)
    status = _check.integer("status", status, low=100, high=999)
    if response_time is not None:
        response_time = _check.number("response_time", response_time)
    cc = parse_cache_control(h.get("Cache-Control"))
    return _lifetime(h, cc, lambda: parse_http_date(h.get("Date"), now=response_time),
                     shared, heuristic_fraction, status, response_time)


def _lifetime(h: Headers, cc: dict[str, str | None], date_of: Callable[[], float | None],
              shared: bool, heuristic_fraction: float, status: int,
              response_time: float | None) -> tuple[float, str]:
    """``freshness_lifetime`` without its argument checks, given the parsed Cache-Control
    and a function returning the parsed Date (called only if needed, as the public function
    parses Date only then). Internal fast path: the arguments must be valid."""
    for rule in (("s-maxage", "max-age") if shared else ("max-age",)):
        if rule in cc:
            seconds = _delta_seconds(cc[rule])
            return (float(seconds) if seconds is not None else 0.0), rule
    date = date_of()
    date = response_time if date is None else date
    if "Expires" in h:
        expires = parse_http_date(h.get("Expires"), now=response_time)
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
    h = _headers("headers", headers)
    request_time = _check.number("request_time", request_time)
    response_time = _check.number("response_time", response_time)
    now = _check.number("now", now)
    date = parse_http_date(h.get("Date"), now=response_time)
    corrected_initial_age = _corrected_initial_age(h, date, request_time, response_time)
    resident_time = now - response_time
    return corrected_initial_age + resident_time


def _corrected_initial_age(h: Headers, date: float | None, request_time: float,
                           response_time: float) -> float:
    """The part of ``current_age`` that does not change while the response sits in a cache
    (RFC 9111 §4.2.3 ``corrected_initial_age``), given the parsed Date (None if missing or
    invalid). Internal fast path: the arguments must be valid."""
    date_value = response_time if date is None else date
    age_field = h.get("Age")
    age_value = _delta_seconds(age_field.split(",")[0]) if age_field is not None else None
    apparent_age = max(0.0, response_time - date_value)
    response_delay = response_time - request_time
    corrected_age_value = (age_value or 0) + response_delay
    return max(apparent_age, corrected_age_value)


_UNDERSTOOD = frozenset(s.value for s in _http.HTTPStatus)


def _understood(status: int) -> bool:
    return status in _UNDERSTOOD


def storable(request: Request, response: Response, *, shared: bool,
             obey_private: bool = True) -> tuple[bool, str]:
    """(may this cache store the response?, why) by RFC 9111 §3.

    Stored are only: GET responses (this cache's choice: HEAD is answered from a stored
    GET); final, understood statuses other than 206 (no range support) and 304; no
    ``no-store`` in request or response (``must-understand`` is not implemented, so no-store
    is always obeyed); in a shared cache no ``private`` (even with field names; a
    misconfigured cache passes ``obey_private=False``) and, if the request carried
    ``Authorization``, only with ``public``, ``s-maxage`` or ``must-revalidate`` (§3.5); and
    at least one of ``public``, ``private`` (private cache), ``Expires``, ``max-age``,
    ``s-maxage`` (shared) or a heuristically cacheable status.
    """
    if not isinstance(request, Request):
        raise TypeError(f"request must be a Request, got {type(request).__name__}")
    if not isinstance(response, Response):
        raise TypeError(f"response must be a Response, got {type(response).__name__}")
    shared = _check.boolean("shared", shared)
    obey_private = _check.boolean("obey_private", obey_private)
    req = parse_cache_control(request.headers.get("Cache-Control"))
    cc = parse_cache_control(response.headers.get("Cache-Control"))
    return _storable(request, response, req, cc, shared, obey_private)


def _storable(request: Request, response: Response, req: dict[str, str | None],
              cc: dict[str, str | None], shared: bool, obey_private: bool) -> tuple[bool, str]:
    """``storable`` without its argument checks, given the parsed Cache-Control of the
    request (``req``) and of the response (``cc``). Internal fast path."""
    status = response.status
    if request.method != "GET":
        return False, f"{request.method} responses are not stored (GET only)"
    if status < 200 or status in (206, 304) or not _understood(status):
        return False, f"status {status} is not one this cache stores"
    if "no-store" in req:
        return False, "the request says no-store"
    if "no-store" in cc:
        return False, "the response says no-store"
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
    members = (m.strip() for m in _split_outside_quotes(header_value))
    return any(weak_match(member, etag) for member in members if member)
