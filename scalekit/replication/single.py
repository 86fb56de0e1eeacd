"""Single-primary replication: commit modes, lag, restarts, failover and fencing.

The real mechanism. One primary takes every write and ships its log to ``k`` replicas
(PostgreSQL streaming replication, MySQL source/replica). When it acknowledges a commit
depends on the commit mode, after PostgreSQL's ``synchronous_commit``:

* ``"async"`` (``local``) — at once; a replica may not have the change yet;
* ``"remote_write"`` — once one replica has *received* it (its report back at the primary);
* ``"remote_apply"`` — once one replica has *applied* it (a read there would see it).

Replicas lag: a client that writes, then reads a replica a moment later, may miss its own
write (a read-your-writes violation; :mod:`scalekit.replication.clients` measures it).

Failures, as PostgreSQL and its failover managers treat them (:class:`SinglePrimary` lists
the rules): a replica that dies or loses its connection reconnects and streams again from its
own position; a primary that dies and restarts with nobody promoted is a *restart* — crash
recovery from its own log, no data lost, same term; *failover* promotes the most advanced
replica into a new term, and acknowledged writes it never received are LOST — possible in
``async``, impossible in the sync modes while a replica that acknowledged them is up to be
promoted. Only after a failover is the returning old primary *fenced*: it learns the new
term, refuses writes, rewinds and follows. Without fencing it still believes it is primary
and accepts writes from clients that did not hear of the failover: split brain.

Every node is a real SQLite database (:class:`~scalekit.replication.log.Node`); time is
simulated (:class:`~scalekit.replication.log.Clock`). Units: seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from scalekit import _check, _seeds
from scalekit.replication.log import (
    MAX_TEXT,
    MAX_TIME_S,
    Clock,
    LogEntry,
    Network,
    Node,
    NotPrimaryError,
)

__all__ = ["COMMIT_MODES", "READ_POLICIES", "EVENTS", "SinglePrimary"]

COMMIT_MODES = ("async", "remote_write", "remote_apply")
READ_POLICIES = ("any", "primary_after_write", "wait_for_position")
#: What :meth:`SinglePrimary.subscribe` can observe on a follower.
EVENTS = ("received", "applied")
#: Positions in :func:`scalekit._seeds.streams` (seed): the network's jitter, the write
#: arrivals, the clients' choices (keys, which replica to read, stale clients).
NETWORK_STREAM, ARRIVALS_STREAM, CLIENTS_STREAM = range(3)


class SinglePrimary:
    """One primary (``n0``) and ``replicas`` replicas (``n1`` ...) on one simulated network.

    ``commit`` is one of :data:`COMMIT_MODES`; ``delay_s`` and ``jitter_s`` (s) the one-way
    network delay and its uniform jitter; ``apply_s`` (s) how long a replica takes to replay a
    received entry; ``fencing`` whether an old primary that returns after a failover is
    refused writes. ``seed`` draws the jitter (stream 0 of :func:`scalekit._seeds.streams`).

    The rules, after PostgreSQL:

    * **Streaming.** Each write is shipped to every follower that is up; a follower reports
      its received and applied positions back (PostgreSQL's *standby status update*), and a
      report acknowledges every waiting write up to that position.
    * **Gaps.** When the network cuts a connection (``network.cut(name)``: what was in flight
      is lost), each follower whose stream broke reconnects and asks the primary to stream
      again from its received position (PostgreSQL's walreceiver: ``START_REPLICATION`` at
      its flush position). A follower that receives an entry beyond its next position drops
      it and asks the same, once per position and connection; duplicates are dropped.
      A node that is down receives nothing: what is sent to it then is lost, not delivered
      when it returns; it catches up when it recovers.
    * **Restart ≠ failover.** :meth:`fail` then :meth:`recover` of the primary with nobody
      promoted in between is a restart: its log is on disk, so it comes back with all its data
      as the primary of the same term, and the followers reconnect and catch up.
    * **Failover and fencing.** :meth:`promote` makes the live replica with the most advanced
      log (latest term first, then position) primary of a new term. Only then does fencing
      apply: an old primary that returns learns the new term, is demoted, rewinds its log to
      the last entry it shares with the new primary (``pg_rewind``) and follows; unfenced, it
      still believes it is primary (split brain).
    """

    def __init__(self, replicas: int = 2, *, commit: str = "async", delay_s: float = 0.05,
                 jitter_s: float = 0.01, apply_s: float = 0.005, fencing: bool = True,
                 seed: int | None = 0) -> None:
        self.replicas = _check.integer("replicas", replicas, low=1, high=100)
        self.commit = _check.choice("commit", commit, COMMIT_MODES)
        self.apply_s = _check.number("apply_s", apply_s, low=0.0, high=MAX_TIME_S)
        self.fencing = _check.boolean("fencing", fencing)
        self.clock = Clock()
        network_stream = _seeds.streams(seed, 1)[NETWORK_STREAM]
        self.network = Network(self.clock, delay_s, jitter_s, seed=network_stream)
        self.network.on_cut(self._reconnect)
        self.nodes = [Node("n0", "primary")] + [Node(f"n{i}") for i in range(1, replicas + 1)]
        self.primary: Node | None = self.nodes[0]
        self.term = 1
        self.fork_lsn: int | None = None
        self._waiting: dict[tuple[int, int], tuple] = {}
        self._asked: dict[str, tuple] = {}
        self._hooks: dict[str, list[Callable[[Node, LogEntry], None]]] = {e: [] for e in EVENTS}

    # ------------------------------------------------------------------ lookup
    def node(self, name: str) -> Node:
        """The node called ``name``."""
        return self._named("name", name)

    def _named(self, param: str, name) -> Node:
        """The node called ``name``, passed as the parameter ``param``."""
        names = [n.name for n in self.nodes]
        _check.choice(param, name, names)
        return self.nodes[names.index(name)]

    def followers(self) -> list[Node]:
        """The nodes that replicate from the current primary."""
        return [n for n in self.nodes if n is not self.primary and n.role == "replica"]

    def subscribe(self, event: str, callback: Callable[[Node, LogEntry], None]) -> None:
        """Call ``callback(node, entry)`` each time a follower has ``"received"`` an entry
        or ``"applied"`` it (one of :data:`EVENTS`), at that simulated instant."""
        _check.choice("event", event, EVENTS)
        self._hooks[event].append(_check.function("callback", callback))

    # ------------------------------------------------------------------ writes
    def write(self, key: str, value: str, *, node: str | None = None,
              on_ack: Callable[[LogEntry, float], None] | None = None) -> LogEntry:
        """Write ``key = value`` on ``node`` (default: the primary). Ships the entry to the
        followers; ``on_ack(entry, at)`` runs when the commit mode acknowledges it. Raises
        :class:`NotPrimaryError` on a replica or a fenced (demoted) old primary, and when no
        primary is up; :class:`NodeDownError` when ``node`` is down."""
        key = _check.text("key", key, min_len=0, max_len=MAX_TEXT)
        value = _check.text("value", value, min_len=0, max_len=MAX_TEXT)
        target = self.primary if node is None else self._named("node", node)
        if on_ack is not None:
            _check.function("on_ack", on_ack)
        if target is None:
            raise NotPrimaryError("no primary is up (it is down, or a failover is in "
                                  "progress); retry later", "")
        if target.role != "primary":
            raise NotPrimaryError(self._refusal(target), target.name)
        entry = target.append(key, value, self.clock.now)
        if target is not self.primary:  # split brain: an unfenced old primary
            return entry
        self._waiting[(entry.term, entry.lsn)] = (entry, on_ack or (lambda e, at: None))
        if self.commit == "async":
            self._acknowledge(entry.term, entry.lsn)
        for f in self.followers():
            self._ship(target, f, entry)
        return entry

    def _refusal(self, node: Node) -> str:
        who = "a demoted primary" if node.demoted else "a replica"
        primary = repr(self.primary.name) if self.primary else "(none is up: retry later)"
        return (f"node {node.name!r} is {who} (term {node.term}) and refuses writes; "
                f"write to the primary {primary}")

    # ------------------------------------------------------------------ streaming
    def _ship(self, src: Node, dst: Node, entry: LogEntry) -> None:
        self.network.send(src.name, dst.name, lambda: self._receive(dst, entry))

    def _receive(self, node: Node, entry: LogEntry) -> None:
        if node.gap(entry):
            self._ask(node)
            return
        if not node.receive(entry):
            return
        for hook in self._hooks["received"]:
            hook(node, entry)
        if self.commit == "remote_write":
            self._report(node)
        self.clock.at(self.clock.now + self.apply_s, lambda: self._apply(node))

    def _apply(self, node: Node) -> None:
        done = node.apply_pending()
        for entry in done:
            for hook in self._hooks["applied"]:
                hook(node, entry)
        if done and self.commit == "remote_apply":
            self._report(node)

    def _position(self, node: Node) -> tuple[int, int]:
        """(term, lsn) a follower reports: received for remote_write, applied otherwise."""
        if self.commit == "remote_write":
            return node.received_term, node.received_lsn
        return node.applied_term, node.applied_lsn

    def _report(self, node: Node) -> None:
        """The follower tells the primary how far it has got (a standby status update)."""
        if self.primary is not None:
            term, lsn = self._position(node)
            self.network.send(node.name, self.primary.name,
                              lambda: self._acknowledge(term, lsn))

    def _acknowledge(self, term: int, lsn: int) -> None:
        """Acknowledge every waiting write of ``term`` up to position ``lsn``: a follower
        whose entry at ``lsn`` is of the primary's term has the primary's log up to there."""
        for key in [k for k in self._waiting if k[0] == term and k[1] <= lsn]:
            entry, callback = self._waiting.pop(key)
            callback(entry, self.clock.now)

    def _ask(self, node: Node) -> None:
        """A follower that saw a gap asks the primary to stream from its received position
        (and reports it): once per position and connection, so a burst of entries after
        one gap asks once, and a request lost with a broken connection is asked again."""
        primary = self.primary
        if primary is None or not node.up:
            return
        start = node.received_lsn
        asked = (primary.name, start, self.network.link(node.name, primary.name))
        if self._asked.get(node.name) == asked:
            return
        self._asked[node.name] = asked
        term, lsn = self._position(node)

        def arrive() -> None:
            if primary is self.primary and node.role == "replica":
                self._acknowledge(term, lsn)
                self._stream(node, start)

        self.network.send(node.name, primary.name, arrive)

    def _stream(self, follower: Node, start: int) -> None:
        """Ship the primary's log after position ``start`` to ``follower``."""
        for entry in self.primary.entries_after(start):
            self._ship(self.primary, follower, entry)

    def _follow(self, follower: Node) -> None:
        """``follower`` (re)connects to the current primary: it replays what it received,
        rewinds what the primary's log does not hold (written in a term the cluster has moved
        past while it was away), then streams from its position."""
        self._apply(follower)
        common = follower.last_common_lsn(self.primary)
        if common < follower.applied_lsn:
            follower.rewind(common)
        follower.term = self.term
        self._stream(follower, follower.received_lsn)

    # ------------------------------------------------------------------ failures
    def fail(self, name: str) -> None:
        """Node ``name`` dies: its connections break and nothing reaches it until it
        recovers. If it was the primary, no primary is up: its clients never hear back."""
        n = self._require(name, up=True)
        n.up = False
        if n is self.primary:
            self.primary = None
            self._waiting.clear()
        self.network.take_down(n.name)

    def _reconnect(self, name: str) -> None:
        """The network cut ``name``'s connections (:meth:`Network.cut`): the followers whose
        stream broke reconnect — each asks the primary to stream from its position."""
        if self.primary is None:
            return
        if name == self.primary.name:
            broken = self.followers()
        else:
            broken = [n for n in self.nodes if n.name == name]
        for f in broken:
            if f.up and f.role == "replica":
                self._ask(f)

    def promote(self) -> Node:
        """Fail over: promote the live replica whose log goes furthest (latest term, then
        position). It replays what it received, starts term ``term + 1``, and every live
        follower rewinds to it and catches up."""
        if self.primary is not None:
            raise RuntimeError(f"{self.primary.name} is a live primary: fail it before "
                               f"promoting another (two primaries would split the cluster)")
        live = [n for n in self.nodes if n.up and n.role == "replica"]
        if not live:
            raise RuntimeError("no live replica to promote")
        best = max(live, key=lambda n: (n.received_term, n.received_lsn, -self.nodes.index(n)))
        self._apply(best)
        self.term += 1
        best.role, best.term = "primary", self.term
        self.primary = best
        self.fork_lsn = best.applied_lsn
        self._waiting.clear()
        for f in self.followers():
            if f.up:
                self._follow(f)
        return best

    def recover(self, name: str) -> None:
        """Node ``name`` comes back with the data it had on disk.

        The primary of the current term (nobody was promoted while it was down) restarts as
        the primary, and the followers reconnect. An old primary — another node was promoted
        meanwhile — is fenced when ``fencing``: it learns the current term, is demoted and
        follows; unfenced, it still believes it is primary. A replica follows the primary,
        if one is up (otherwise it follows the next one promoted or restarted)."""
        n = self._require(name, up=False)
        n.up = True
        self.network.bring_up(n.name)
        if n.role == "primary" and n.term == self.term:  # a restart, not a failover
            self.primary = n
            for f in self.followers():
                if f.up:
                    self._follow(f)
            return
        if n.role == "primary":
            if not self.fencing:
                return
            n.role, n.demoted, n.term = "replica", True, self.term
        if self.primary is not None:
            self._follow(n)
        else:
            self._apply(n)  # what it received before it went down

    def _require(self, name: str, *, up: bool) -> Node:
        """The node ``name``, which must be up (or down): failing a node twice is a slip."""
        n = self.node(name)
        if n.up != up:
            raise RuntimeError(f"node {name!r} is {'up' if n.up else 'down'} already")
        return n

    def quiesce(self) -> None:
        """Run the clock until the network is idle (everything delivered and applied)."""
        self.clock.run()

    def live_checksums(self) -> dict[str, str]:
        """Checksums of the nodes that are up."""
        return {n.name: n.checksum() for n in self.nodes if n.up}
