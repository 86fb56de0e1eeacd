"""Load-balancing policies: how a balancer picks a server for each request.

Each policy is a small class with one decision method, named after what the real balancers
call it (nginx ``random``/default round robin/``least_conn``, HAProxy ``random``/``roundrobin``/
``leastconn``, Envoy ``RANDOM``/``ROUND_ROBIN``/``LEAST_REQUEST``). Plug any of them — or one
you write, subclassing :class:`scalekit.sim.Policy` — into :func:`scalekit.sim.run`.
"""

from __future__ import annotations

import numpy as np

from scalekit import _check
from scalekit.sim import ClusterState, Policy

__all__ = ["RandomChoice", "RoundRobin", "FewestConnections", "policy", "POLICIES"]


class RandomChoice(Policy):
    """Every request goes to a server chosen uniformly at random (nginx/HAProxy ``random``
    with one draw). Ignores live state, so a run is fully vectorised."""

    name = "random"

    def reset(self, n_servers, n_requests, gen):
        # Drawn once, up front: the vectorised path and the event loop see the same picks.
        self._picks = gen.integers(0, n_servers, n_requests)
        self._iter = None

    def assign(self, n_requests, n_servers, gen):
        return self._picks

    def choose(self, state: ClusterState) -> int:
        if self._iter is None:
            self._iter = iter(self._picks.tolist())
        return next(self._iter)


class RoundRobin(Policy):
    """Server 0, 1, ..., n−1, 0, 1, ... in turn (HAProxy ``roundrobin`` with equal weights,
    Envoy ``ROUND_ROBIN``). Ignores live state."""

    name = "round_robin"

    def reset(self, n_servers, n_requests, gen):
        self._next = 0

    def assign(self, n_requests, n_servers, gen):
        return np.arange(n_requests, dtype=np.int64) % n_servers

    def choose(self, state: ClusterState) -> int:
        i = self._next % state.n_servers
        self._next += 1
        return i


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
        least = min(conns)
        try:
            i = conns.index(least, self._next)
        except ValueError:  # none at or after the pointer: wrap round
            i = conns.index(least)
        self._next = i + 1
        return i


POLICIES = {cls.name: cls for cls in (RandomChoice, RoundRobin, FewestConnections)}


def policy(name: str) -> Policy:
    """A fresh policy by name: 'random', 'round_robin' or 'fewest_connections'."""
    return POLICIES[_check.choice("policy", name, POLICIES)]()
