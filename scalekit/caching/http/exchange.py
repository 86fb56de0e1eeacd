"""What an HTTP cache reports: the :class:`Exchange` each request gets, the running
:class:`CacheStats`, and the :data:`OUTCOMES` that name what the cache did."""

from __future__ import annotations

from dataclasses import dataclass, field

from scalekit import _html
from scalekit.caching.http.messages import Response

__all__ = ["OUTCOMES", "Exchange", "CacheStats", "counted", "forwarded"]

OUTCOMES = ("hit", "miss", "revalidated", "replaced", "pass", "stale", "error")

# --------------------------------------------------------------------------- results

@dataclass(frozen=True, eq=False, repr=False)
class Exchange(_html.ScalarTable):
    """What one ``HttpCache.fetch`` did: the response the client receives (with an ``Age``
    header when it came from the store), the outcome (one of ``OUTCOMES``), a one-sentence
    reason, how many requests went to the origin (0 or 1; 2 when a 304 that matched no stored
    response made the cache ask again unconditionally, RFC 9111 §4.3.4) and how many body
    bytes it sent, and the stored response's current age (s) when it came from the store."""

    response: Response = field(repr=False)
    outcome: str
    reason: str
    origin_requests: int
    origin_bytes: int
    age_s: float | None

    @property
    def status(self) -> int:
        return self.response.status

    def summary(self) -> dict:
        return {"status": self.status, **super().summary()}


@dataclass(frozen=True, eq=False, repr=False)
class CacheStats(_html.ScalarTable):
    """Counters since the cache was made (or cleared): requests and each outcome, requests
    and body bytes to the origin (background revalidations included, and also counted
    apart), body bytes served to clients, and entries stored now."""

    requests: int
    hits: int
    misses: int
    revalidated: int
    replaced: int
    passed: int
    stale: int
    errors: int
    origin_requests: int
    origin_bytes: int
    bytes_served: int
    entries: int
    background_revalidations: int = 0

    @property
    def hit_ratio(self) -> float:
        """Hits (fresh responses served from the store) over all requests; 0 before any.

        Stale serves are not hits: they are counted in ``stale``, so ``(hits + stale) /
        requests`` is the share answered without waiting for the origin.
        """
        return self.hits / self.requests if self.requests else 0.0


def counted(exchange: Exchange, sent: int, got: int) -> Exchange:
    """``exchange`` with ``sent`` requests to the origin and ``got`` body bytes from it."""
    return Exchange(exchange.response, exchange.outcome, exchange.reason, sent, got,
                    exchange.age_s)


def forwarded(response: Response, outcome: str, reason: str, got: int) -> Exchange:
    """The Exchange for a response that came from the origin (one request, ``got`` bytes)."""
    return Exchange(response, outcome, reason, 1, got, None)
