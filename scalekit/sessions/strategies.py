"""Where a session lives and which server a request goes to: the five strategies, each a
small class whose one decision method, :meth:`Strategy.route`, picks the server.

The real mechanism. A web framework keeps a user's session (who is logged in, the cart)
somewhere and gives the browser a cookie that finds it again. Behind a balancer the next
request may land on another server; what happens then depends on where the session lives.

* ``none`` (:class:`NoSharing`) — any balancing algorithm, nothing else; each server keeps
  its sessions in its own memory. The ``policy`` balances every request on its own. A
  request that lands on a server not holding the user's session finds no session: the user
  appears logged out — a *lost session*. The server starts a new one, which lives there only.
* ``sticky_cookie`` (:class:`StickyCookie`) — HAProxy ``cookie SERVERID insert indirect
  nocache``. The first request is balanced; the response carries ``Set-Cookie:
  SERVERID=s<i>`` (``indirect`` hides it from the server, ``nocache`` keeps caches from
  storing it); later requests go to that server. A cookie naming a server the balancer has
  marked DOWN is redispatched to one the policy picks: the session, in the dead server's
  memory, is lost.
* ``sticky_ip`` (:class:`StickyIp`) — nginx ``ip_hash``'s hashing
  (:func:`scalekit.hashing.nginx_ip_hash`): the first three octets of the client's address
  pick the server, so every user behind one NAT goes to one server — the skew. A server
  marked down makes nginx hash again. Failure handling is the same as for the other
  strategies here (active checks, ``detection_s``, no retry), to compare like with like;
  open-source nginx instead notices a dead server passively (``max_fails=1``) and retries a
  refused request at once on the next hash (``proxy_next_upstream error``), so it would fail
  almost nothing and lose the sessions from the crash on. (HAProxy's ``balance source``
  hashes the whole address, and by default a DOWN server remaps most clients, not only its
  own.)
* ``database`` (:class:`DatabaseSessions`) — Django's ``db`` session backend, Flask-Session's
  SQL backend: every server reads and writes the session in one shared table
  (:class:`scalekit.sessions.store.SessionStore`, a real SQLite file); requests are balanced
  freely and nothing is lost when a server dies — but every request waits for the store, and
  the store is a new single point of failure.
* ``client`` (:class:`ClientSessions`) — Flask's default session: a signed cookie
  (:mod:`scalekit.sessions.cookies`); no server keeps anything, so nothing is lost — but
  every request carries the whole session, and a cookie over the 4,093-byte limit fails.

Write your own by subclassing :class:`Strategy` and overriding :meth:`~Strategy.route`; it
reads the :class:`Cluster` it is given (which servers are up, each user's SERVERID cookie
and address) and may ask the balancer's policy (:meth:`Cluster.balance`).

To the dispatch loop (:class:`scalekit.sim.Dispatcher`) a strategy is a balancer policy:
:class:`SessionRouting` wraps strategy and policy into one :class:`scalekit.sim.Policy` that
routes each request by its user, and records which server answered (the SERVERID cookie the
balancer inserts) when the loop reports the request accepted.
"""

from __future__ import annotations

import functools

import numpy as np

from scalekit import _check, hashing
from scalekit.balancing import policies
from scalekit.sim import ClusterState, Policy

__all__ = ["Strategy", "NoSharing", "StickyCookie", "StickyIp", "DatabaseSessions",
           "ClientSessions", "Cluster", "SessionRouting", "STRATEGIES", "BALANCING_POLICIES",
           "strategy", "balancing_policy"]

#: The policies that balance without hashing the client (hashing is sticky_ip's job).
BALANCING_POLICIES = tuple(name for name, cls in policies.POLICIES.items()
                           if not issubclass(cls, policies.HashPolicy))


@functools.lru_cache(maxsize=1 << 16)
def _ip_hash(address: str, servers: int, down: tuple[int, ...]) -> int:
    """:func:`scalekit.hashing.nginx_ip_hash`, kept: a panel redraws the same users."""
    return hashing.nginx_ip_hash(address, servers, down=down)


class Cluster:
    """What a strategy may read when it routes a request.

    ``servers`` — how many; ``up[i]`` — whether the balancer sends to server i (False once
    it is marked down); ``server_cookie[user]`` — the server that answered the user's last
    request (what a SERVERID cookie would name; −1 before any); ``addresses[user]`` — the
    user's IPv4 address. :meth:`balance` asks the policy; :meth:`ip_hash` hashes an address.
    """

    def __init__(self, n: int, policy: Policy, state: ClusterState, addresses):
        n = _check.integer("n", n, low=1, high=hashing.MAX_RING_POINTS)
        _check.instance("policy", policy, Policy)
        _check.instance("state", state, ClusterState)
        if state.n_servers != n:
            raise ValueError(f"n ({n}) disagrees with the state's {state.n_servers} servers")
        addresses = tuple(_check.sequence("addresses", addresses, what="IPv4 address strings"))
        for i, a in enumerate(addresses):
            _check.text(f"addresses[{i}]", a)
        self.servers, self.policy, self.state = n, policy, state
        self.up = state.up
        self.addresses = addresses
        self.server_cookie = [-1] * len(addresses)
        self._owners: dict[int, int] = {}

    def balance(self) -> int:
        """The server the balancer's policy picks (never one marked down)."""
        i = self.policy.choose(self.state)
        if type(i) is not int:
            i = int(i)
        return i

    def ip_hash(self, user: int) -> int:
        """nginx ``ip_hash`` of the user's address, hashing again past servers marked down."""
        if type(user) is not int or not 0 <= user < len(self.addresses):  # the hot path: one test
            _check.integer("user", user, low=0, high=len(self.addresses) - 1)
        i = self._owners.get(user)
        if i is None:
            down = tuple(k for k, ok in enumerate(self.up) if not ok)
            i = self._owners[user] = _ip_hash(self.addresses[user], self.servers, down)
        return i

    def rehash(self) -> None:
        """Forget the hashes: the set of servers marked down changed."""
        self._owners.clear()


class Strategy:
    """Where the sessions live (``keeps``: ``"server"`` memory, ``"database"`` or
    ``"client"``) and one decision, :meth:`route`. A variant overrides :meth:`route`."""

    name = "strategy"
    keeps = "server"
    inserts_serverid = False  # the balancer adds a SERVERID cookie to the browser's

    def route(self, user: int, cluster: Cluster) -> int:
        """The server for this request of ``user``: by default, whatever the policy picks."""
        return cluster.balance()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NoSharing(Strategy):
    """Every request balanced on its own; each server keeps its sessions in memory."""

    name = "none"


class StickyCookie(Strategy):
    """HAProxy ``cookie SERVERID insert indirect nocache``: back to the server the cookie
    names, unless it is marked down — then redispatched to the policy's pick."""

    name = "sticky_cookie"
    inserts_serverid = True

    def route(self, user, cluster):
        s = cluster.server_cookie[user]
        return s if s >= 0 and cluster.up[s] else cluster.balance()


class StickyIp(Strategy):
    """nginx ``ip_hash``: the client's /24 network picks the server."""

    name = "sticky_ip"

    def route(self, user, cluster):
        return cluster.ip_hash(user)


class DatabaseSessions(Strategy):
    """Sessions in one shared SQLite table; every request balanced freely."""

    name = "database"
    keeps = "database"


class ClientSessions(Strategy):
    """Sessions in a signed cookie; every request balanced freely."""

    name = "client"
    keeps = "client"


_STRATEGY_CLASSES = {c.name: c for c in (NoSharing, StickyCookie, StickyIp, DatabaseSessions,
                                         ClientSessions)}
STRATEGIES = tuple(_STRATEGY_CLASSES)


def strategy(strategy) -> Strategy:
    """A strategy as given, or a fresh one for a name from :data:`STRATEGIES`."""
    value = strategy
    if isinstance(value, Strategy):
        if value.keeps not in ("server", "database", "client"):
            raise ValueError(f"{value!r}.keeps must be 'server', 'database' or 'client', "
                             f"got {value.keeps!r}")
        return value
    return _STRATEGY_CLASSES[_check.choice("strategy", value, STRATEGIES)]()


def balancing_policy(policy) -> Policy:
    """A policy as given, or a fresh one for a name from :data:`BALANCING_POLICIES`."""
    value = policy
    if isinstance(value, policies.HashPolicy) or value in ("ip_hash", "consistent_hash"):
        raise ValueError(f"policy {value!r} hashes the client's address: use "
                         f"strategy='sticky_ip' for that, and a policy from "
                         f"{', '.join(BALANCING_POLICIES)}")
    if isinstance(value, Policy):
        return value
    return policies.policy(_check.choice("policy", value, BALANCING_POLICIES))


class SessionRouting(Policy):
    """Session affinity as a balancer policy: request j is user ``user_of[j]``'s, routed by
    ``strategy`` (:meth:`Strategy.route`) over a :class:`Cluster` whose balancer is
    ``balancer``; ``addresses[u]`` is user u's IPv4 address. When the dispatch loop reports
    a request accepted, the answering server becomes the user's SERVERID cookie; when the
    balancer marks a server up or down, the cached address hashes are dropped."""

    def __init__(self, strategy: Strategy, balancer: Policy, user_of, addresses):
        _check.instance("strategy", strategy, Strategy)
        _check.instance("balancer", balancer, Policy)
        addresses = tuple(_check.sequence("addresses", addresses, what="IPv4 address strings"))
        for i, a in enumerate(addresses):
            _check.text(f"addresses[{i}]", a)
        users = _check.array("user_of", user_of, low=0.0)
        if users.size and (users.max() >= len(addresses) or np.any(users != np.floor(users))):
            raise ValueError(f"user_of must hold user indices into addresses ({len(addresses)} "
                             f"users), got up to {users.max():g}")
        self.strategy, self.balancer = strategy, balancer
        self.user_of = users.astype(np.int64).tolist()
        self.addresses = addresses
        self.name = strategy.name
        self.cluster: Cluster | None = None

    def __repr__(self) -> str:
        return f"SessionRouting({self.strategy!r}, {self.balancer!r})"

    def reset(self, n_servers, n_requests, gen):
        self.balancer.reset(n_servers, n_requests, gen)
        self.cluster = None
        self._marks = 0

    def choose(self, state: ClusterState) -> int:
        cluster = self.cluster
        if cluster is None:
            cluster = self.cluster = Cluster(state.n_servers, self.balancer, state,
                                             self.addresses)
        elif state.marks != self._marks:
            cluster.rehash()
        self._marks = state.marks
        j = state.request
        i = self.strategy.route(self.user_of[j], cluster)
        k = state.n_servers
        if type(i) is not int or not 0 <= i < k or not state.up[i]:
            raise ValueError(f"{self.strategy!r}.route returned {i!r} for request {j}; expected "
                             f"a server index in 0..{k - 1} that is not marked down")
        return i

    def accepted(self, state: ClusterState, server: int) -> None:
        self.cluster.server_cookie[self.user_of[state.request]] = server
