"""Sessions behind a balancer: what happens to logged-in users when the next request lands
on another server, and the three fixes — the models behind notebook 03.

* :mod:`scalekit.sessions.strategies` — where sessions live and how a request is routed: no
  sharing, sticky by cookie, sticky by address, a shared database, client-side cookies;
* :mod:`scalekit.sessions.cluster` — the run: every request served, lost or failed, a server
  failure, and every strategy compared on the same users (its settings, one
  :class:`SessionsSettings`);
* :mod:`scalekit.sessions.results` — what a run measured, and the comparison;
* :mod:`scalekit.sessions.visits` — users, their multi-request visits and addresses, and the
  session (and signed cookie) each request leaves behind;
* :mod:`scalekit.sessions.store` — the shared session table on a real SQLite file, and the
  measured cost of one request's read + write.

Signed cookies themselves are :mod:`scalekit.sessions.cookies`. The entry points and result types
are re-exported here: ``from scalekit import sessions; sessions.compare_strategies()``.
"""

from scalekit.sessions.cluster import (
    DEFAULT_STORE_MS,
    SessionsSettings,
    compare_strategies,
    simulate_sessions,
)
from scalekit.sessions.results import (
    OUTCOMES,
    SessionsComparison,
    SessionsResult,
    SessionsTimeline,
)
from scalekit.sessions.store import (
    SessionStore,
    StoreError,
    StoreLatency,
    measure_store_latency,
    store_latency,
)
from scalekit.sessions.strategies import (
    BALANCING_POLICIES,
    STRATEGIES,
    ClientSessions,
    Cluster,
    DatabaseSessions,
    NoSharing,
    SessionRouting,
    StickyCookie,
    StickyIp,
    Strategy,
)
from scalekit.sessions.visits import visit_steps

__all__ = [
    "STRATEGIES",
    "BALANCING_POLICIES",
    "OUTCOMES",
    "DEFAULT_STORE_MS",
    "Strategy",
    "NoSharing",
    "StickyCookie",
    "StickyIp",
    "DatabaseSessions",
    "ClientSessions",
    "Cluster",
    "SessionRouting",
    "SessionsSettings",
    "simulate_sessions",
    "compare_strategies",
    "SessionsResult",
    "SessionsTimeline",
    "SessionsComparison",
    "SessionStore",
    "StoreError",
    "StoreLatency",
    "measure_store_latency",
    "store_latency",
    "visit_steps",
]
