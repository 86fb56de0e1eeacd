"""Replication on real SQLite databases — the models behind notebook 05.

* :mod:`scalekit.replication.log` — the shared machinery: a simulated clock, a network that
  delivers in order per link after a seeded delay, and nodes that are real SQLite databases
  applying an ordered change log (positions 1, 2 ...) one transaction per entry;
* :mod:`scalekit.replication.single` — one primary and k replicas: commit modes after
  PostgreSQL's ``synchronous_commit`` (async, remote_write, remote_apply), replicas that
  reconnect and re-stream after a gap, a primary restart (nothing lost) as distinct from a
  failover (which may lose acknowledged writes), and fencing of the returning old primary;
* :mod:`scalekit.replication.clients` — clients on such a cluster: replication lag,
  read-your-writes violations and their two fixes, a primary failure followed by a failover
  or a restart (:class:`SinglePrimarySettings` holds every parameter);
* :mod:`scalekit.replication.scaling` — read scaling: replicas multiply read capacity, but
  every write still runs on the one primary (and is replayed everywhere);
* :mod:`scalekit.replication.multi` — several primaries: auto-increment keys colliding on a
  real UNIQUE constraint (and the fixes: increment/offset, UUIDs — in
  :mod:`scalekit.replication.keys`, re-exported by ``multi``), and concurrent updates
  resolved by last-writer-wins, first-committer-wins certification or a counter that loses
  nothing; :mod:`scalekit.replication.databases` holds what both halves share (a transaction
  over several SQLite databases, a content checksum).

``from scalekit import replication; replication.run_single_primary(commit="remote_apply")``.
"""

from scalekit.replication.clients import (
    SinglePrimaryResult,
    SinglePrimarySettings,
    compare_commit_modes,
    run_single_primary,
)
from scalekit.replication.log import (
    Clock,
    LogEntry,
    Network,
    Node,
    NodeDownError,
    NotPrimaryError,
    ReplicationError,
)
from scalekit.replication.multi import (
    RULES,
    ConflictResult,
    CounterMerge,
    FirstCommitterWins,
    KeyCollisionError,
    KeyMergeResult,
    LastWriterWins,
    collide_keys,
    simulate_conflicts,
)
from scalekit.replication.scaling import ReadScaling, read_scaling
from scalekit.replication.single import COMMIT_MODES, EVENTS, READ_POLICIES, SinglePrimary

__all__ = [
    "Clock",
    "LogEntry",
    "Network",
    "Node",
    "NodeDownError",
    "NotPrimaryError",
    "ReplicationError",
    "COMMIT_MODES",
    "READ_POLICIES",
    "EVENTS",
    "SinglePrimary",
    "SinglePrimarySettings",
    "SinglePrimaryResult",
    "compare_commit_modes",
    "run_single_primary",
    "RULES",
    "LastWriterWins",
    "FirstCommitterWins",
    "CounterMerge",
    "KeyCollisionError",
    "KeyMergeResult",
    "ConflictResult",
    "collide_keys",
    "simulate_conflicts",
    "ReadScaling",
    "read_scaling",
]
