"""What a sessions run measured: every request's answer (:data:`OUTCOMES`), one run's
:class:`SessionsResult`, its timeline, and every strategy's results side by side.

Instants end in ``_at`` (NaN: never), durations in ``_s``, milliseconds in ``_ms``, sizes in
bytes. The run itself is :mod:`scalekit.sessions.cluster`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scalekit import _html
from scalekit.sim import bin_edges

__all__ = ["OUTCOMES", "SERVED", "LOST", "REFUSED", "DATABASE_DOWN", "TOO_LARGE",
           "SessionsResult", "SessionsTimeline", "SessionsComparison"]

#: Outcome codes of a request (``SessionsResult.outcome``), named in :data:`OUTCOMES`.
SERVED, LOST, REFUSED, DATABASE_DOWN, TOO_LARGE = 0, 1, 2, 3, 4
OUTCOMES = ("served", "lost session", "refused by the dead server", "database down",
            "cookie too large")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class SessionsTimeline:
    """Requests, lost sessions and failed requests per second, in bins of ``bin_s``
    seconds starting at ``starts_at`` (by arrival instant)."""

    starts_at: np.ndarray
    bin_s: float
    requests_per_s: np.ndarray
    lost_per_s: np.ndarray
    failed_per_s: np.ndarray


@dataclass(frozen=True, eq=False, repr=False)
class SessionsResult(_html.ScalarTable):
    """What one run measured. Instants end in ``_at`` (NaN: never), durations in ``_s``.

    Every request is counted once: ``requests = served + lost + failed`` and ``failed =
    refused + database_failures + too_large``. A *follow-up* is a request made while the
    user holds a session (an earlier request of theirs was answered); ``lost_rate`` =
    lost ÷ follow-ups, ``failed_rate`` = failed ÷ requests.

    ``load_before`` — requests sent to each server before the crash (the whole run if no
    server fails); ``load_after`` — after it was marked down, to the end. ``imbalance_*`` =
    max ÷ mean over the servers up in that window (NaN if the window is empty).
    ``sessions_on_failed_server`` — sessions in the dead server's memory when it crashed.
    ``store_ms`` — what one read + write of the store cost a request (ms; database only,
    else 0): the run's ``store_ms`` setting, :data:`~scalekit.sessions.cluster.DEFAULT_STORE_MS`
    unless a run measured it on its machine (``store_ms=None``);
    ``cookie_bytes`` — mean length of the ``Cookie`` request header's value;
    ``added_latency_ms`` — what a request that was answered (served or lost) waits for the
    session: the store's time plus its cookie's upload time at ``uplink_mbps``, on average.
    ``database_path`` — the SQLite file holding every user's session at the end (database
    only).

    Per request, in arrival order: ``arrivals_at``, ``user_of``, ``step_of`` (index into
    :func:`~scalekit.sessions.visits.visit_steps`), ``server_of``, ``outcome`` (codes
    :data:`SERVED` …), ``follow_up`` and ``cookie_bytes_of``; per user, ``behind_nat``.
    """

    strategy: str
    policy: str
    servers: int
    users: int
    requests: int
    served: int
    lost: int
    failed: int
    follow_ups: int
    lost_rate: float
    failed_rate: float
    refused: int
    database_failures: int
    too_large: int
    failed_server: int
    server_fails_at: float
    marked_down_at: float
    database_down_at: float
    sessions_on_failed_server: int
    load_before: tuple[int, ...]
    load_after: tuple[int, ...]
    imbalance_before: float
    imbalance_after: float
    store_ms: float
    cookie_bytes: float
    max_cookie_bytes: int
    added_latency_ms: float
    uplink_mbps: float
    session_bytes: int
    nat_share: float
    duration_s: float
    database_path: str
    arrivals_at: np.ndarray = field(repr=False)
    user_of: np.ndarray = field(repr=False)
    step_of: np.ndarray = field(repr=False)
    server_of: np.ndarray = field(repr=False)
    outcome: np.ndarray = field(repr=False)
    follow_up: np.ndarray = field(repr=False)
    cookie_bytes_of: np.ndarray = field(repr=False)
    behind_nat: np.ndarray = field(repr=False)

    def timeline(self, bin_s: float = 1.0) -> SessionsTimeline:
        """Requests, lost sessions and failed requests per second over the run."""
        edges = bin_edges(self.duration_s, bin_s)
        width = float(edges[1])
        a, o = self.arrivals_at, self.outcome

        def rate(mask):
            return np.histogram(a[mask], edges)[0] / width

        return SessionsTimeline(starts_at=edges[:-1], bin_s=width,
                                requests_per_s=rate(slice(None)), lost_per_s=rate(o == LOST),
                                failed_per_s=rate(o >= REFUSED))

    def returning_users(self) -> np.ndarray:
        """The users worth following through the failure: those whose session the failed
        server held when it crashed (their last answered request before the crash was its)
        and who sent a request after it was marked down — most requests after the crash
        first (ties: the lower user number). Empty without a failure."""
        if self.failed_server < 0:
            return np.empty(0, dtype=np.int64)
        a, u = self.arrivals_at, self.user_of
        answered = (self.outcome == SERVED) | (self.outcome == LOST)
        before = answered & (a < self.server_fails_at)
        last = np.full(self.users, -1, dtype=np.int64)
        last[u[before]] = self.server_of[before]  # arrival order: the last one stays
        held = last == self.failed_server
        came_back = np.zeros(self.users, dtype=bool)
        came_back[u[a >= self.marked_down_at]] = True
        after = np.bincount(u[a >= self.server_fails_at], minlength=self.users)
        chosen = np.flatnonzero(held & came_back)
        return chosen[np.lexsort((chosen, -after[chosen]))]

    def headline(self) -> dict[str, str]:
        """The few lines a reader asks about first (what a notebook shows; ``table()`` has
        every field)."""
        failure = ("no server failure" if self.failed_server < 0 else
                   f"server {self.failed_server} dies at {self.server_fails_at:g} s, marked "
                   f"down at {self.marked_down_at:g} s")
        out = {
            "run": f"{self.strategy} on {self.servers} servers ({self.policy.replace('_', ' ')})"
                   f", {self.users:,} users over {self.duration_s:g} s, {failure}",
            "requests": f"{self.requests:,}, of which {self.follow_ups:,} follow-ups",
            "lost sessions": f"{self.lost:,} ({self.lost_rate:.1%} of follow-ups)",
            "failed requests": f"{self.failed:,} ({self.failed_rate:.1%})" + _aside(
                [(self.refused, "refused by the dead server"),
                 (self.database_failures, "database down"),
                 (self.too_large, "cookie too large")]),
        }
        if self.added_latency_ms > 0:  # NaN (nothing answered): left out
            out["added per request"] = (f"{self.added_latency_ms:.2f} ms (store "
                                        f"{self.store_ms:.2f} ms, cookie upload "
                                        f"{self.added_latency_ms - self.store_ms:.2f} ms)")
        return out

    def _repr_html_(self) -> str:
        return _html.key_value_table(self.headline(), "result.table(): every field")


def _aside(counts: list[tuple[int, str]]) -> str:
    """": 3 refused …; 2 …" for the non-zero counts, "" when all are zero."""
    shown = [f"{n:,} {what}" for n, what in counts if n]
    return f": {'; '.join(shown)}" if shown else ""


@dataclass(frozen=True, eq=False)
class SessionsComparison:
    """Every strategy's :class:`SessionsResult` on the same users, seed and failure."""

    results: dict[str, SessionsResult]

    def __getitem__(self, name: str) -> SessionsResult:
        return self.results[name]

    def user_to_follow(self) -> int | None:
        """A user to follow through the failure: the first that
        :meth:`SessionsResult.returning_users` lists under both sticky strategies (those in
        the comparison; any strategy if it has neither) — on the failed server when it
        crashed, and back after the mark-down. None when there is no such user."""
        sticky = [r for k, r in self.results.items() if k in ("sticky_cookie", "sticky_ip")]
        runs = sticky or list(self.results.values())
        common = set(runs[0].returning_users().tolist())
        for r in runs[1:]:
            common &= set(r.returning_users().tolist())
        return next((int(u) for u in runs[0].returning_users().tolist() if u in common), None)

    def rows(self) -> list[dict]:
        return [{"strategy": name, "lost sessions": r.lost, "lost rate": r.lost_rate,
                 "failed requests": r.failed, "imbalance before": r.imbalance_before,
                 "imbalance after": r.imbalance_after, "added latency (ms)": r.added_latency_ms,
                 "cookie bytes": r.cookie_bytes}
                for name, r in self.results.items()]

    def __repr__(self) -> str:
        body = ", ".join(f"{k}: {r.lost} lost, {r.failed} failed" for k, r in self.results.items())
        return f"SessionsComparison({body})"

    def _repr_html_(self) -> str:
        first = next(iter(self.results.values()))
        note = (f"server {first.failed_server} died at {first.server_fails_at:g} s, marked down "
                f"at {first.marked_down_at:g} s" if first.failed_server >= 0 else "")
        return _html.rows_table(self.rows(), note=note)
