"""Who uses the site: users on multi-request visits, their addresses, and the session each
request leaves behind.

* A **visit** is a sequence of requests: log in, browse × k, add to cart, check out
  (:func:`visit_steps`), separated by think times — exponential with mean ``think_s`` (s).
  Users start their visits as a Poisson process: ``users`` start instants uniform on
  [0, duration_s) (a Poisson process given its count). Requests at or after ``duration_s``
  are not made: the observation ends there.
* Each user has an IPv4 address, drawn at random; a share ``nat_share`` of them sit behind
  one address (:data:`NAT_ADDRESS`, in the carrier-grade NAT range of RFC 6598) — a
  corporate proxy or a mobile carrier's CGNAT.
* The **session** after each step (:func:`session_data`) has the same shape for every
  user: a user id, a CSRF token and a profile padded to about ``session_bytes`` bytes of
  JSON (random characters: incompressible, so the signed cookie is about as large), then the
  products viewed, the cart and the order. Its signed cookie is made with
  :func:`scalekit.sessions.cookies.dumps` — the real thing, byte for byte as Flask would set it —
  so :func:`cookie_sizes` measures the cookie at every step, or finds it over the limit.

Units: seconds. ``seed`` makes everything repeatable.
"""

from __future__ import annotations

import base64
import functools
import json
import random
from dataclasses import dataclass

import numpy as np

from scalekit import _check
from scalekit.sessions import cookies
from scalekit.sim import check_expected_requests

__all__ = ["Visits", "draw_visits", "visit_steps", "session_data", "cookie_sizes",
           "NAT_ADDRESS", "SECRET_KEY", "SESSION_ID_CHARS", "MAX_VISIT_REQUESTS"]

#: The address every user behind the NAT shares (RFC 6598 shared address space).
NAT_ADDRESS = "100.64.0.1"
#: The demo application's signing key (client-side sessions).
SECRET_KEY = "scalekit-sessions-demo-key"
#: A server-side session id: 32 random bytes, URL-safe base64 (secrets.token_urlsafe(32)).
SESSION_ID_CHARS = 43
MAX_VISIT_REQUESTS = 100
#: Most users one run draws (user ids stay six digits: 100000 + index).
MAX_USERS = 200_000
#: Largest session after login (bytes of JSON).
MAX_SESSION_BYTES = 100_000
_SIGNED_AT = 1_750_000_000  # a fixed signing instant: the model never reads the wall clock
_USER_ID = 100_000  # user ids are 100000 + index: six digits, so every session is one size


def visit_steps(visit_requests: int) -> tuple[str, ...]:
    """The pages of one visit: ``login``, then ``browse`` × (n − 3), ``add_to_cart``,
    ``checkout`` (one request: login only; two: login, browse)."""
    n = _check.integer("visit_requests", visit_requests, low=1, high=MAX_VISIT_REQUESTS)
    if n <= 2:
        return ("login", "browse")[:n]
    return ("login",) + ("browse",) * (n - 3) + ("add_to_cart", "checkout")


@functools.lru_cache(maxsize=64)
def _sessions(visit_requests: int, session_bytes: int) -> tuple[str, ...]:
    login = {"user_id": _USER_ID, "csrf_token": random.Random(7).randbytes(16).hex()}
    pad = session_bytes - len(json.dumps(login, separators=(",", ":"))) - len(',"profile":""')
    # base64 text of random bytes: the profile does not compress away in the cookie
    pad = max(pad, 0)
    login["profile"] = base64.urlsafe_b64encode(random.Random(1).randbytes(pad)).decode()[:pad]
    out, data = [], login
    for k, step in enumerate(visit_steps(visit_requests)):
        data = dict(data)
        if step == "browse":
            data["viewed"] = [*data.get("viewed", []), f"p{10_000 + 7_919 * k % 90_000:05d}"]
        elif step == "add_to_cart":
            sku = data.get("viewed", ["p10000"])[-1]
            data["cart"] = [*data.get("cart", []), {"sku": sku, "qty": 1}]
        elif step == "checkout":
            data["orders"], data["cart"] = [*data.get("orders", []), "o000001"], []
        out.append(json.dumps(data, separators=(",", ":"), sort_keys=True))
    return tuple(out)


def session_data(visit_requests: int, session_bytes: int, user: int = 0) -> list[dict]:
    """The session of user ``user`` after each step of a visit."""
    visit_requests = _check.integer("visit_requests", visit_requests, low=1,
                                    high=MAX_VISIT_REQUESTS)
    session_bytes = _check.integer("session_bytes", session_bytes, low=0,
                                   high=MAX_SESSION_BYTES)
    user = _check.integer("user", user, low=0, high=MAX_USERS - 1)
    out = [json.loads(text) for text in _sessions(visit_requests, session_bytes)]
    for data in out:
        data["user_id"] = _USER_ID + user
    return out


def cookie_sizes(visit_requests: int, session_bytes: int) -> tuple[tuple[int, bool], ...]:
    """(bytes, fits) of the client-side session cookie after each step: the length of the
    request's ``Cookie`` header value ``session=<signed cookie>``, and whether the cookie
    is within :data:`scalekit.sessions.cookies.MAX_COOKIE_BYTES` (when it is not, ``bytes`` is the
    size the cookie would have had)."""
    # checked before the cache, which would refuse an unhashable value without naming it
    return _cookie_sizes(
        _check.integer("visit_requests", visit_requests, low=1, high=MAX_VISIT_REQUESTS),
        _check.integer("session_bytes", session_bytes, low=0, high=MAX_SESSION_BYTES))


@functools.lru_cache(maxsize=64)
def _cookie_sizes(visit_requests: int, session_bytes: int) -> tuple[tuple[int, bool], ...]:
    out = []
    for data in session_data(visit_requests, session_bytes):
        try:
            size, fits = len(cookies.dumps(data, SECRET_KEY, clock=lambda: _SIGNED_AT)), True
        except cookies.CookieTooLarge as exc:
            size, fits = exc.size, False
        out.append((len("session=") + size, fits))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Visits:
    """Every request of every visit, in arrival order: its instant ``at`` (s), its
    ``user``, its ``step`` (index into :func:`visit_steps`) and its ``work_s`` (s of a
    server's time); per user, ``addresses`` and ``behind_nat``."""

    at: np.ndarray
    user: np.ndarray
    step: np.ndarray
    work_s: np.ndarray
    addresses: tuple[str, ...]
    behind_nat: np.ndarray
    users: int
    visit_requests: int
    duration_s: float

    def __len__(self) -> int:
        return int(self.at.size)


def draw_visits(users: int, visit_requests: int, think_s: float, duration_s: float,
                service_s: float, nat_share: float, seed: int) -> Visits:
    """Draw the visits (arguments checked by the caller). The start instants and think
    times come first from the seed's stream, so the same seed gives the same visits
    whatever the NAT share. Checked again here, so a direct call refuses what
    :class:`~scalekit.sessions.SessionsSettings` refuses."""
    users = _check.integer("users", users, low=1, high=MAX_USERS)
    visit_requests = _check.integer("visit_requests", visit_requests, low=1,
                                    high=MAX_VISIT_REQUESTS)
    check_expected_requests("users × visit_requests", users * visit_requests)
    think_s = _check.positive("think_s", think_s)
    duration_s = _check.positive("duration_s", duration_s)
    service_s = _check.positive("service_s", service_s)
    nat_share = _check.probability("nat_share", nat_share)
    gen = np.random.default_rng(_check.seed(seed))
    starts = np.sort(gen.uniform(0.0, duration_s, users))
    thinks = gen.exponential(think_s, (users, visit_requests - 1))
    times = starts[:, None] + np.concatenate((np.zeros((users, 1)), thinks.cumsum(1)), 1)
    keep = times < duration_s
    at = times[keep]
    user = np.broadcast_to(np.arange(users)[:, None], times.shape)[keep]
    step = np.broadcast_to(np.arange(visit_requests)[None, :], times.shape)[keep]
    order = np.argsort(at, kind="stable")
    work = gen.exponential(service_s, at.size)
    raw = gen.integers(0, 2**32, users, dtype=np.uint64).tolist()
    addresses = [f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}" for x in raw]
    nat = np.zeros(users, dtype=bool)
    nat[gen.permutation(users)[:round(nat_share * users)]] = True
    for u in np.flatnonzero(nat).tolist():
        addresses[u] = NAT_ADDRESS
    arrays = dict(at=at[order], user=user[order].astype(np.int64),
                  step=step[order].astype(np.int64), work_s=work, behind_nat=nat)
    for value in arrays.values():
        value.setflags(write=False)
    return Visits(addresses=tuple(addresses), users=users, visit_requests=visit_requests,
                  duration_s=duration_s, **arrays)
