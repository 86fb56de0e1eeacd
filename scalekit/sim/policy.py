"""What a balancer policy reads and the hooks it overrides: :class:`ClusterState`,
:class:`Policy`, and :class:`Rule` — a policy's decision in the form the compiled loop runs.

The policies themselves (random, round robin, fewest connections ...) live with their topic,
:mod:`scalekit.balancing`; a policy name is resolved there, never here. This module knows only
the protocol between the event loop (:mod:`scalekit.sim.core`) and a policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scalekit import _check

__all__ = ["ClusterState", "Policy", "Rule", "Assigned"]


class ClusterState:
    """What a policy may read when it chooses: live counts, queues, health, speeds, clock.

    ``connections[i]`` is the number of requests at server i (in service or queued);
    ``busy_until[i]`` the instant server i's queue empties (≤ ``now`` when idle);
    ``up[i]`` whether the balancer currently sends to server i, and ``down`` how many it
    does not; ``marks`` how many times a server has been marked up or down so far (a policy
    that caches decisions depending on ``up`` compares it); ``speeds[i]`` its relative
    speed; ``now`` the instant of the decision (s); ``request`` the index, in arrival order,
    of the request being dispatched; ``rng`` the run's random generator. Policies read it;
    only the event loop changes it (a health check through :meth:`mark`).
    """

    __slots__ = ("connections", "busy_until", "up", "down", "marks", "speeds", "now",
                 "request", "rng")

    def __init__(self, speeds: Sequence[float], gen: np.random.Generator | None = None):
        speeds = _check.array("speeds", speeds, low=0.0, low_open=True, min_len=1).tolist()
        if gen is None:  # trying a policy by hand: a fixed generator, so it repeats
            gen = np.random.default_rng(0)
        if not isinstance(gen, np.random.Generator):
            raise TypeError(f"gen must be a numpy random Generator (scalekit.sim.rng(seed)) "
                            f"or None (one seeded 0, for trying a policy by hand), got {gen!r}")
        self.connections = [0] * len(speeds)
        self.busy_until = [0.0] * len(speeds)
        self.up = [True] * len(speeds)
        self.down = 0
        self.marks = 0
        self.speeds = tuple(speeds)
        self.now = 0.0
        self.request = 0
        self.rng = gen

    @property
    def n_servers(self) -> int:
        return len(self.speeds)

    def available(self) -> list[int]:
        """Indices of the servers the balancer sends to."""
        return [i for i, ok in enumerate(self.up) if ok]

    def mark(self, server: int, up: bool) -> None:
        """Mark ``server`` up or down (what a health check decides)."""
        if self.up[server] != up:
            self.up[server] = up
            self.down += -1 if up else 1
            self.marks += 1


#: The decision rules the compiled loop knows (:class:`Rule`).
RULE_KINDS = ("assigned", "fewest_connections", "least_of_draws", "least_work")


@dataclass(frozen=True, eq=False)
class Rule:
    """A policy's decision in a form the compiled loop (:mod:`scalekit.sim.compiled`) runs
    without calling back into Python — the same decisions :meth:`Policy.choose` makes, and
    tests check the two bit for bit.

    * ``assigned`` — every request's server is known up front: ``servers`` (one int per
      request);
    * ``fewest_connections`` — the fewest requests in progress; ties go to the first at or
      after the server following the last choice, wrapping round;
    * ``least_of_draws`` — of the servers drawn for each request (``servers``, shape
      (requests, d)) the one with the fewest requests in progress, ties to the first drawn;
    * ``least_work`` — the server whose queue empties soonest (work left, clamped at 0);
      ties rotate as for ``fewest_connections``.
    """

    kind: str
    servers: np.ndarray | None = None

    def __post_init__(self):
        if self.kind not in RULE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(RULE_KINDS)}, got {self.kind!r}")
        needs = self.kind in ("assigned", "least_of_draws")
        if needs != (self.servers is not None):
            raise ValueError(f"a {self.kind!r} rule {'needs' if needs else 'takes no'} servers")
        if needs:
            dims = 1 if self.kind == "assigned" else 2
            s = self.servers
            if (not isinstance(s, np.ndarray) or s.ndim != dims
                    or not np.issubdtype(s.dtype, np.integer)):
                raise TypeError(f"servers of a {self.kind!r} rule must be a {dims}-D numpy "
                                f"array of server indices, got {s!r}")
            if s.size and s.min() < 0:
                raise ValueError(f"servers must be indices >= 0, got {int(s.min())}")


class Policy:
    """A balancer's rule for choosing a server. Subclasses override one hook, :meth:`choose`;
    the others have defaults that fit most rules.

    * :meth:`choose` — the live decision, given a :class:`ClusterState`; returns a server index.
    * :meth:`reset` — called once before a run (pre-draw random numbers here).
    * :meth:`assign` — optional: if the rule ignores live state, return every request's server
      at once (an int array) and the run is vectorised; return None to use the event loop.
    * :meth:`choose_again` — the server for a retry of a refused request (default: choose).
    * :meth:`accepted` — told which server accepted the request just chosen for (default:
      nothing; a policy that remembers where a client went — session affinity — records it).
    * :meth:`rule` — optional: the same decisions as a :class:`Rule` the compiled loop runs.
      A policy without one (a student's own class) runs at Python speed.
    * :meth:`servers_examined` — how many servers one decision reads: the balancer's own
      cost per request (a rule that inspects all n servers costs O(n)).
    """

    name = "policy"

    def reset(self, n_servers: int, n_requests: int, gen: np.random.Generator) -> None:
        pass

    def assign(self, n_requests: int, n_servers: int, gen: np.random.Generator):
        return None

    def choose(self, state: ClusterState) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement choose(state)")

    def choose_again(self, state: ClusterState) -> int:
        """A server for request ``state.request``, tried again after a server refused it;
        ``state.up`` already excludes the server that refused. By default: :meth:`choose`."""
        return self.choose(state)

    def accepted(self, state: ClusterState, server: int) -> None:
        """``server`` accepted request ``state.request`` (it was not refused or dropped)."""

    def rule(self, n_requests: int, n_servers: int) -> Rule | None:
        """Called after :meth:`reset`: this policy's decisions as a :class:`Rule`, or None."""
        return None

    def servers_examined(self, n_servers: int) -> int:
        return n_servers  # unless a policy says otherwise, assume it reads every server

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Assigned(Policy):
    """Every request's server decided before the run: request j goes to ``servers[j]`` —
    a dispatch drawn up front (uniformly at random, say), not a balancer reading live state.
    ``name`` labels the results. Blind to live state, so a run is vectorised."""

    def __init__(self, servers, name: str = "assigned"):
        picks = np.asarray(servers)
        if picks.ndim != 1 or not np.issubdtype(picks.dtype, np.integer):
            raise TypeError(f"servers must be a 1-D array of server indices, got {servers!r}")
        if picks.size and picks.min() < 0:
            raise ValueError(f"servers must be indices >= 0, got {int(picks.min())}")
        self.servers = picks.astype(np.int64)
        self.name = _check.text("name", name)

    def __repr__(self) -> str:
        return f"Assigned({self.servers.size} requests, name={self.name!r})"

    def reset(self, n_servers, n_requests, gen):
        if self.servers.size < n_requests:
            raise ValueError(f"servers names {self.servers.size} requests' servers, but the "
                             f"run has {n_requests}")

    def assign(self, n_requests, n_servers, gen):
        return self.servers[:n_requests]

    def choose(self, state: ClusterState) -> int:
        return int(self.servers[state.request])

    def rule(self, n_requests, n_servers):
        return Rule("assigned", self.servers[:n_requests])

    def servers_examined(self, n_servers: int) -> int:
        return 1


def compiled_rule(policy: Policy, n_requests: int, n_servers: int) -> Rule | None:
    """``policy``'s :class:`Rule` — unless its class overrides :meth:`Policy.choose`,
    :meth:`~Policy.choose_again` or :meth:`~Policy.accepted` below the class that gave the
    rule: then the rule no longer says what the policy does (a student's subclass of a
    built-in policy), and it runs in Python."""
    rule = policy.rule(n_requests, n_servers)
    if rule is None:
        return None
    if not isinstance(rule, Rule):
        raise TypeError(f"{policy!r}.rule must return a Rule or None, got {rule!r}")
    cls = type(policy)
    owner = next(c for c in cls.__mro__ if "rule" in vars(c))
    for hook in ("choose", "choose_again", "accepted"):
        if getattr(cls, hook) is not getattr(owner, hook):
            return None
    return rule
