"""Load-balancing policies: how a balancer picks a server for each request.

Each policy is a small class with one decision method, named after what the real balancers
call it:

=====================  ==========================  =====================  ==================
scalekit               nginx                       HAProxy ``balance``    Envoy ``lb_policy``
=====================  ==========================  =====================  ==================
RandomChoice           ``random``                  ``random(1)``          ``RANDOM``
RoundRobin             (default, equal weights)    ``roundrobin``         ``ROUND_ROBIN``
WeightedRoundRobin     (default) ``weight=``       ``roundrobin`` weight  weighted RR
FewestConnections      ``least_conn``              ``leastconn``          —
PowerOfTwoChoices      ``random two least_conn``   ``random(2)``          ``LEAST_REQUEST``
IpHash                 ``ip_hash``                 ``source``             —
ConsistentHash         ``hash $key consistent``    ``hash-type consistent``  ``RING_HASH``
LeastWork              — (an oracle: no real balancer knows each request's cost)
=====================  ==========================  =====================  ==================

Plug any of them — or one you write, subclassing :class:`scalekit.sim.Policy` — into
:func:`scalekit.sim.run`. A policy reads :class:`scalekit.sim.ClusterState`: live
connection counts, when each server's queue empties, which servers are up, their speeds.
A policy must never choose a server the balancer has marked down (``state.up[i]`` False);
the built-in ones honour it, and a run refuses a choice that does not.

Names are resolved here, not in :mod:`scalekit.sim`: :func:`policy` gives a fresh policy by
name, :func:`as_policy` a policy as given or by name. Each built-in policy also states its
decision as a :class:`scalekit.sim.Rule` (:meth:`~scalekit.sim.Policy.rule`), which the
compiled loop runs when numba is installed — the same decisions, bit for bit, much faster; a
policy you write runs its ``choose`` in Python.

One file of about 500 lines: every balancing policy with its compiled rule, side by side, so
the differences between them are the differences on the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from scalekit import _check, hashing
from scalekit.sim import MAX_CLUSTER_SERVERS, ClusterState, Policy, Rule

__all__ = [
    "RandomChoice",
    "RoundRobin",
    "WeightedRoundRobin",
    "FewestConnections",
    "PowerOfTwoChoices",
    "LeastWork",
    "IpHash",
    "ConsistentHash",
    "balls_into_bins",
    "policy",
    "as_policy",
    "POLICIES",
    "SEED_POLICIES",
]


def _first_up(up: list[bool], start: int) -> int:
    """The first server at or after ``start`` that is up, wrapping round."""
    k = len(up)
    for step in range(k):
        i = (start + step) % k
        if up[i]:
            return i
    raise RuntimeError("every server is marked down: the balancer has nowhere to send")


class RandomChoice(Policy):
    """Every request goes to a server chosen uniformly at random (nginx ``random``, HAProxy
    ``random(1)``, Envoy ``RANDOM``). Ignores live state, so a run is fully vectorised."""

    name = "random"

    def reset(self, n_servers, n_requests, gen):
        # Drawn once, up front: the vectorised path and the event loop see the same picks.
        self._picks = gen.integers(0, n_servers, n_requests)
        self._iter = None

    def assign(self, n_requests, n_servers, gen):
        return self._picks

    def rule(self, n_requests, n_servers):
        return Rule("assigned", self._picks)

    def choose(self, state: ClusterState) -> int:
        if self._iter is None:
            self._iter = iter(self._picks.tolist())
        i = next(self._iter)
        if state.down and not state.up[i]:  # redraw among the servers that are up
            i = state.rng.choice(state.available())
        return int(i)

    def servers_examined(self, n_servers: int) -> int:
        return 1


class RoundRobin(Policy):
    """Server 0, 1, ..., n−1, 0, 1, ... in turn (HAProxy ``roundrobin`` with equal weights,
    Envoy ``ROUND_ROBIN``), skipping servers marked down. Ignores live load."""

    name = "round_robin"

    def reset(self, n_servers, n_requests, gen):
        self._next = 0

    def assign(self, n_requests, n_servers, gen):
        turns = np.arange(n_servers, dtype=np.int64)  # 0, 1, ..., n − 1, then again
        return np.tile(turns, -(-n_requests // n_servers))[:n_requests]

    def rule(self, n_requests, n_servers):
        return Rule("assigned", self.assign(n_requests, n_servers, None))

    def choose(self, state: ClusterState) -> int:
        i = self._next % state.n_servers
        if state.down:
            i = _first_up(state.up, i)
        self._next = i + 1
        return i

    def servers_examined(self, n_servers: int) -> int:
        return 1


class WeightedRoundRobin(Policy):
    """nginx's smooth weighted round robin: each server gets turns in proportion to its
    weight, interleaved rather than in bursts.

    Per request: every server's ``current`` grows by its weight; the server with the largest
    ``current`` is chosen (ties to the lowest index) and its ``current`` drops by the total
    weight. Weights {5, 1, 1} give a a b a c a a — not a a a a a b c (nginx commit 52327e0,
    ngx_http_upstream_round_robin.c). ``weights``: one positive integer per server, as
    nginx's ``weight=`` (None: all 1, plain round robin). Ignores live load, so a run is
    vectorised: the order repeats every sum(weights) requests.
    """

    name = "weighted_round_robin"
    #: Bound on sum(weights) × servers: one cycle of the order costs that much to build.
    MAX_CYCLE_WORK = 10_000_000

    def __init__(self, weights: Sequence[int] | None = None):
        if weights is None:
            self.weights = None
        else:
            if isinstance(weights, str | bytes) or not hasattr(weights, "__len__"):
                raise TypeError(f"weights must be a list of positive integers, got {weights!r}")
            self.weights = tuple(_check.integer("each weight", w, low=1) for w in weights)
            if not self.weights:
                raise ValueError("weights must name at least one server, got []")
            work = sum(self.weights) * len(self.weights)
            if work > self.MAX_CYCLE_WORK:
                raise ValueError(f"weights are too large: sum(weights) × servers = {work:,} "
                                 f"exceeds {self.MAX_CYCLE_WORK:,}; divide them by a "
                                 f"common factor (only their ratios matter)")

    def __repr__(self) -> str:
        return f"WeightedRoundRobin(weights={self.weights!r})"

    def _weights(self, n_servers: int) -> tuple[int, ...]:
        if self.weights is None:
            return (1,) * n_servers
        if len(self.weights) != n_servers:
            raise ValueError(f"WeightedRoundRobin has {len(self.weights)} weights but the "
                             f"cluster has {n_servers} servers: give one weight per server")
        return self.weights

    def reset(self, n_servers, n_requests, gen):
        self._w = self._weights(n_servers)
        self._current = [0] * n_servers
        self._cycle = self.order(sum(self._w), n_servers)

    def order(self, n_requests: int, n_servers: int | None = None) -> list[int]:
        """The first ``n_requests`` choices with every server up (a fresh balancer)."""
        n_servers = _check.optional(_check.integer, "n_servers", n_servers, low=1,
                                    high=MAX_CLUSTER_SERVERS, meaning="one per weight")
        w = self._weights(len(self.weights) if n_servers is None else n_servers)
        current, total, out = [0] * len(w), sum(w), []
        for _ in range(_check.integer("n_requests", n_requests, low=0, high=10**7)):
            out.append(self._step(current, w, total, None))
        return out

    @staticmethod
    def _step(current, w, total, up) -> int:
        best = -1
        for i, weight in enumerate(w):
            if up is not None and not up[i]:
                continue
            current[i] += weight
            if best < 0 or current[i] > current[best]:
                best = i
        if best < 0:
            raise RuntimeError("every server is marked down: the balancer has nowhere to send")
        current[best] -= total
        return best

    def assign(self, n_requests, n_servers, gen):
        cycle = np.asarray(self._cycle, dtype=np.int64)
        reps = -(-n_requests // cycle.size) if cycle.size else 0
        return np.tile(cycle, reps)[:n_requests]

    def rule(self, n_requests, n_servers):
        return Rule("assigned", self.assign(n_requests, n_servers, None))

    def choose(self, state: ClusterState) -> int:
        w = self._w
        if state.down:
            total = sum(x for x, ok in zip(w, state.up, strict=True) if ok)
            return self._step(self._current, w, total, state.up)
        return self._step(self._current, w, sum(w), None)

    def servers_examined(self, n_servers: int) -> int:
        return n_servers  # nginx walks every peer to find the largest current weight


class FewestConnections(Policy):
    """The server with the fewest requests in progress (HAProxy ``leastconn``, nginx
    ``least_conn``). Counts requests, not their cost.

    Ties rotate, as in the real balancers: HAProxy's ``leastconn`` performs "round-robin
    within groups of servers of the same load", and nginx's ``least_conn`` tries servers with
    equally few connections "in turn" (weighted round robin). Here: the first least-loaded
    server at or after the one following the last choice, wrapping round. (Sending ties to
    the lowest index instead piles light traffic on server 0: at 4 servers and load 0.3 the
    utilisations come out near [0.56, 0.37, 0.20, 0.08] rather than 0.3 each.)
    """

    name = "fewest_connections"
    _next = 0  # where the search for the least-loaded server starts

    def reset(self, n_servers, n_requests, gen):
        self._next = 0

    def choose(self, state: ClusterState) -> int:
        conns = state.connections
        if state.down:  # a server marked down counts as infinitely busy
            conns = [c if ok else math.inf for c, ok in zip(conns, state.up, strict=True)]
        least = min(conns)
        try:
            i = conns.index(least, self._next)
        except ValueError:  # none at or after the pointer: wrap round
            i = conns.index(least)
        self._next = i + 1
        return i

    def rule(self, n_requests, n_servers):
        return Rule("fewest_connections")

    def servers_examined(self, n_servers: int) -> int:
        return n_servers  # nginx scans every peer (HAProxy keeps a tree: log n)


class PowerOfTwoChoices(Policy):
    """Draw ``choices`` servers at random; send the request to the one with fewer
    connections (HAProxy ``random(2)``, nginx ``random two least_conn``, Envoy
    ``LEAST_REQUEST`` with ``choice_count`` 2).

    Mitzenmacher's supermarket model: with d ≥ 2 draws the longest queues shrink from
    ln n / ln ln n to ln ln n / ln d — most of fewest-connections' benefit for reading two
    servers instead of all n. Draws are independent and with replacement, as in the model;
    ties go to the first draw.
    """

    name = "power_of_two"

    def __init__(self, choices: int = 2):
        self.choices = _check.integer("choices", choices, low=1, high=64)

    def __repr__(self) -> str:
        return f"PowerOfTwoChoices(choices={self.choices})"

    def reset(self, n_servers, n_requests, gen):
        self._draws = gen.integers(0, n_servers, (n_requests, self.choices))
        self._iter = None

    def choose(self, state: ClusterState) -> int:
        if self._iter is None:  # one tuple of draws per request (zip is the fast iterator)
            self._iter = zip(*self._draws.T.tolist(), strict=True)
        draws = next(self._iter)
        conns = state.connections
        if state.down:  # draw among the servers that are up, as HAProxy and Envoy do
            up = state.available()
            draws = [d if state.up[d] else up[int(state.rng.integers(len(up)))] for d in draws]
        elif self.choices == 2:  # the common case, unrolled
            a, b = draws
            return b if conns[b] < conns[a] else a
        best = draws[0]
        for d in draws[1:]:
            if conns[d] < conns[best]:
                best = d
        return best

    def rule(self, n_requests, n_servers):
        return Rule("least_of_draws", self._draws)

    def servers_examined(self, n_servers: int) -> int:
        return self.choices


class LeastWork(Policy):
    """The server whose queue empties soonest: least *work* left, not fewest requests.

    An oracle — it reads ``state.busy_until``, which a real balancer cannot know, because it
    does not know how long each queued request will take. Compare it with
    :class:`FewestConnections` on a heavy-tailed workload: one long report counts as one
    connection but blocks everything queued behind it. Ties (idle servers) rotate.
    """

    name = "least_work"
    _next = 0

    def reset(self, n_servers, n_requests, gen):
        self._next = 0

    def choose(self, state: ClusterState) -> int:
        now, k = state.now, state.n_servers
        left = [b - now if b > now else 0.0 for b in state.busy_until]
        if state.down:
            left = [x if ok else math.inf for x, ok in zip(left, state.up, strict=True)]
        least = min(left)
        start = self._next % k
        i = next(j % k for j in range(start, start + k) if left[j % k] == least)
        self._next = i + 1
        return i

    def rule(self, n_requests, n_servers):
        return Rule("least_work")

    def servers_examined(self, n_servers: int) -> int:
        return n_servers


#: Most distinct clients a hash policy draws (each is hashed once, in Python).
MAX_CLIENTS = 200_000


class HashPolicy(Policy):
    """Shared by the hash policies: every request comes from one of ``clients`` clients.

    Each client has a random IPv4 address (drawn from the run's seed) unless ``addresses``
    gives them — repeat an address to put many users behind one NAT. Each request's client is
    drawn uniformly. A hash policy sends a client's every request to one server: the
    stickiness that sessions need (notebook 03), paid for with uneven load.
    """

    def __init__(self, clients: int = 1000, addresses: Sequence[str] | None = None):
        if addresses is not None:
            if isinstance(addresses, str) or not hasattr(addresses, "__len__"):
                raise TypeError(f"addresses must be a list of IPv4 address strings, "
                                f"got {addresses!r}")
            self.addresses = tuple(addresses)
            if not self.addresses:
                raise ValueError("addresses must hold at least one address, got []")
            if len(self.addresses) > MAX_CLIENTS:
                raise ValueError(f"addresses must hold at most {MAX_CLIENTS:,} addresses, "
                                 f"got {len(self.addresses):,}")
            for a in self.addresses:
                hashing.network_octets(a)  # raises a ValueError naming the bad address
            self.clients = len(self.addresses)
        else:
            self.addresses = None
            self.clients = _check.integer("clients", clients, low=1, high=MAX_CLIENTS)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(clients={self.clients})"

    def _client_addresses(self, gen) -> list[str]:
        if self.addresses is not None:
            return list(self.addresses)
        raw = gen.integers(0, 2**32, self.clients, dtype=np.uint64)
        return [f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}" for x in raw.tolist()]

    def reset(self, n_servers, n_requests, gen):
        self.client_addresses = self._client_addresses(gen)
        self.client_of = gen.integers(0, self.clients, n_requests)
        owners = self._owners(self.client_addresses, n_servers)
        self._picks = owners[self.client_of]

    def _owners(self, addresses: list[str], n_servers: int) -> np.ndarray:
        raise NotImplementedError

    def server_for_address(self, address: str, state: ClusterState) -> int:
        """The server this rule picks for a client ``address``, skipping servers marked
        down — what a retry of that client's request uses."""
        raise NotImplementedError

    def assign(self, n_requests, n_servers, gen):
        return self._picks

    def rule(self, n_requests, n_servers):
        return Rule("assigned", self._picks)

    def choose(self, state: ClusterState) -> int:
        """The server of this request's client, rehashed past servers marked down."""
        i = int(self._picks[state.request])
        if state.down and not state.up[i]:
            i = self.choose_again(state)
        return i

    def choose_again(self, state: ClusterState) -> int:
        """A retry rehashes the same client (nginx, HAProxy): the refusing server is down."""
        address = self.client_addresses[self.client_of[state.request]]
        return self.server_for_address(address, state)

    def servers_examined(self, n_servers: int) -> int:
        return 1


class IpHash(HashPolicy):
    """nginx ``ip_hash``: the client's /24 network picks the server
    (:func:`scalekit.hashing.nginx_ip_hash`); a down server makes nginx hash again."""

    name = "ip_hash"

    def _owners(self, addresses, n_servers):
        return np.array([hashing.nginx_ip_hash(a, n_servers) for a in addresses],
                        dtype=np.int64)

    def server_for_address(self, address, state):
        _check.instance("state", state, ClusterState)
        down = [i for i, ok in enumerate(state.up) if not ok]
        return hashing.nginx_ip_hash(address, state.n_servers, down=down)


class ConsistentHash(HashPolicy):
    """nginx ``hash $remote_addr consistent`` / Envoy ``RING_HASH``: the client's address on
    a ketama ring with ``vnodes`` points per server (:class:`scalekit.hashing.HashRing`);
    a down server's clients move to the next server round the ring, the rest stay put."""

    name = "consistent_hash"

    def __init__(self, clients: int = 1000, addresses: Sequence[str] | None = None,
                 vnodes: int = hashing.DEFAULT_VNODES):
        super().__init__(clients, addresses)
        self.vnodes = _check.integer("vnodes", vnodes, low=1, high=hashing.MAX_VNODES)

    def _owners(self, addresses, n_servers):
        self.ring = hashing.HashRing([f"server-{i}" for i in range(n_servers)], self.vnodes)
        return self.ring.indices_for(addresses)

    def server_for_address(self, address, state):
        address = _check.text("address", address)
        _check.instance("state", state, ClusterState)
        down = [i for i, ok in enumerate(state.up) if not ok]
        return self.ring.index_for(address, down=down)


#: Bound on balls × choices when choices > 1 (each ball is a Python step): about 3 s.
MAX_BALL_DRAWS = 2_000_000


def balls_into_bins(balls: int, bins: int, *, choices: int = 1,
                    seed: int | None = None) -> np.ndarray:
    """Throw ``balls`` balls into ``bins`` bins, each into the least full of ``choices``
    bins drawn at random (ties to the first drawn); return the count in every bin.

    The static picture of :class:`RandomChoice` (choices=1) and :class:`PowerOfTwoChoices`:
    requests that never leave. With n balls in n bins the fullest bin holds about
    ln n / ln ln n with one choice but ln ln n / ln d with d (Azar, Broder, Karlin & Upfal
    1999): see :func:`scalekit.theory.balls_max_load`.
    """
    m = _check.integer("balls", balls, low=0, high=10_000_000)
    n = _check.integer("bins", bins, low=1, high=10_000_000)
    d = _check.integer("choices", choices, low=1, high=64)
    if d > 1 and m * d > MAX_BALL_DRAWS:
        raise ValueError(f"balls × choices = {m * d:,} is more than the {MAX_BALL_DRAWS:,} "
                         f"draws one call allows with choices > 1 (a Python loop); use fewer "
                         f"balls")
    gen = np.random.default_rng(_check.seed(seed))
    if d == 1:
        return np.bincount(gen.integers(0, n, m), minlength=n)
    load = [0] * n
    for draws in gen.integers(0, n, (m, d)).tolist():
        best = draws[0]
        for b in draws[1:]:
            if load[b] < load[best]:
                best = b
        load[best] += 1
    return np.array(load, dtype=np.int64)


#: The three policies of the lecture.
SEED_POLICIES = ("random", "round_robin", "fewest_connections")

POLICIES = {
    cls.name: cls
    for cls in (RandomChoice, RoundRobin, FewestConnections, WeightedRoundRobin,
                PowerOfTwoChoices, LeastWork, IpHash, ConsistentHash)
}


def policy(policy: str) -> Policy:
    """A fresh policy by name, with its default settings: one of :data:`POLICIES`."""
    return POLICIES[_check.choice("policy", policy, POLICIES)]()


def as_policy(policy: str | Policy) -> Policy:
    """A :class:`~scalekit.sim.Policy` instance as given, or a fresh one for a name from
    :data:`POLICIES`."""
    value = policy
    if isinstance(value, Policy):
        return value
    if isinstance(value, str):
        return POLICIES[_check.choice("policy", value, POLICIES)]()
    raise TypeError(f"policy must be a policy name ({', '.join(POLICIES)}) or a "
                    f"scalekit.sim.Policy instance, got {value!r}")
