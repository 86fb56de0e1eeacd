"""What an HTTP cache keeps per stored response, and how it finds it again (RFC 9111 §4.1).

An :class:`Entry` is one stored response — the response as stored (hop-by-hop fields gone,
a Date present), when it was asked for and when it arrived (the inputs of §4.2.3), the
request header values its ``Vary`` names (its secondary key, §4.1), and, for a response
stored in parts, the :class:`~scalekit.caching.http.ranges.Pieces` seen so far (§3.3).
Entries are never changed: a 304 or 206 makes a new one, so what is parsed from the stored
fields is computed once per entry (``directives``, ``age``, ``lifetime``).

:func:`vary_key` and :func:`vary_matches` are the secondary key: the request fields the
stored response's ``Vary`` names, normalised — repeated lines combined, spaces around
commas dropped, and ``Accept-Language`` read as a set of (language, q) in lower case, so
order, case and whitespace do not split the cache (RFC 9111 §4.1 allows normalising "in a
manner known to have identical semantics"). ``Vary: *`` never matches (None).

Targeted fields (RFC 9213): an entry made with ``targets=("cdn-cache-control",)`` takes its
directives from the first of those fields that is a valid Dictionary, and then ignores both
``Cache-Control`` and ``Expires`` (§2.1); otherwise from ``Cache-Control``. The target
``"surrogate-control"`` is read as ``Surrogate-Control`` is written (W3C Edge Architecture
1.0: directives for this device, :func:`~scalekit.caching.http.rules.parse_surrogate_control`),
not as a Dictionary, and takes precedence the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scalekit.caching.http.messages import Headers, Request, Response
from scalekit.caching.http.ranges import Pieces
from scalekit.caching.http.rules import (
    corrected_initial_age,
    freshness_lifetime,
    parse_cache_control,
    parse_surrogate_control,
    parse_targeted,
    split_list,
)

__all__ = ["Entry", "vary_key", "vary_matches", "policy_of"]


def policy_of(headers: Headers, targets: tuple[str, ...]) -> tuple[dict, Headers, str | None]:
    """(the directives that govern caching, the fields freshness is computed from, the
    targeted field used or None) for a response's ``headers`` and a cache's ``targets``
    (RFC 9213 §2.1: the first valid targeted field wins, and then Cache-Control and Expires
    are ignored)."""
    for name in targets:
        parse = parse_surrogate_control if name == "surrogate-control" else parse_targeted
        directives = parse(headers.get(name))
        if directives:
            return directives, headers.without(("Expires",)), name
    return parse_cache_control(headers.get("Cache-Control")), headers, None


def _language_set(value: str) -> str:
    members = []
    for member in split_list(value):
        tag, _, params = member.partition(";")
        tag = tag.strip().lower()
        if not tag:
            continue
        q = "1"
        for param in params.split(";"):
            name, _, arg = param.partition("=")
            if name.strip().lower() == "q":
                q = arg.strip().rstrip("0").rstrip(".") or "0"
        members.append(f"{tag};q={q}")
    return ", ".join(sorted(set(members)))


def _normalise(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if name == "accept-language":
        return _language_set(value)
    return ", ".join(p.strip() for p in value.split(","))


def vary_key(response: Response, request: Request) -> tuple[tuple[str, str | None], ...] | None:
    """The secondary key of ``response`` stored for ``request``: each field its Vary names
    (lower-case, sorted) with the request's normalised value (None if absent); None for
    ``Vary: *``, which can never match a later request (RFC 9111 §4.1)."""
    names = [n.strip().lower() for n in (response.headers.get("Vary") or "").split(",")]
    names = [n for n in names if n]
    if "*" in names:
        return None
    return tuple((n, _normalise(n, request.headers.get(n))) for n in sorted(set(names)))


def vary_matches(vary: tuple[tuple[str, str | None], ...] | None, request: Request) -> bool:
    """Do ``request``'s fields match a stored secondary key (RFC 9111 §4.1)?"""
    if not vary:
        return vary is not None
    return all(_normalise(n, request.headers.get(n)) == v for n, v in vary)


@dataclass(frozen=True)
class Entry:
    """A stored response (see the module). ``pieces`` is None for a complete response."""

    url: str
    response: Response
    request_time: float
    response_time: float
    vary: tuple[tuple[str, str | None], ...] | None
    targets: tuple[str, ...] = ()
    key: int = -1
    pieces: Pieces | None = None
    _memo: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def with_key(self, key: int) -> Entry:
        """The same entry in store slot ``key``."""
        return Entry(self.url, self.response, self.request_time, self.response_time,
                     self.vary, self.targets, key, self.pieces)

    def _policy(self):
        policy = self._memo.get("policy")
        if policy is None:
            policy = self._memo["policy"] = policy_of(self.response.headers, self.targets)
        return policy

    @property
    def directives(self) -> dict:
        """The directives governing this response (targeted field or Cache-Control);
        shared, do not change."""
        return self._policy()[0]

    @property
    def targeted(self) -> str | None:
        """The targeted field (e.g. ``cdn-cache-control``) that governs it, if any."""
        return self._policy()[2]

    def age(self, now: float) -> float:
        """The current age in seconds at ``now`` (RFC 9111 §4.2.3)."""
        initial = self._memo.get("initial_age")
        if initial is None:
            initial = self._memo["initial_age"] = corrected_initial_age(
                self.response.headers, request_time=self.request_time,
                response_time=self.response_time)
        return initial + (now - self.response_time)

    def lifetime(self, shared: bool, heuristic_fraction: float) -> tuple[float, str]:
        """(freshness lifetime in seconds, its rule) for these cache settings (§4.2.1)."""
        memo = self._memo.get("lifetime")
        if memo is not None and memo[0] == (shared, heuristic_fraction):
            return memo[1]
        directives, headers, _ = self._policy()
        result = freshness_lifetime(headers, shared=shared,
                                    heuristic_fraction=heuristic_fraction,
                                    status=self.response.status,
                                    response_time=self.response_time, directives=directives)
        self._memo["lifetime"] = ((shared, heuristic_fraction), result)
        return result

    @property
    def complete(self) -> bool:
        return self.pieces is None

    @property
    def length(self) -> int | None:
        """The representation's length in bytes (None for a part of unknown length)."""
        return len(self.response.body) if self.pieces is None else self.pieces.length
