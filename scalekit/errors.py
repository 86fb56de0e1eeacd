"""The kit's own errors, one ladder.

Bad input is not here: a wrong argument raises :class:`ValueError` or :class:`TypeError`
naming the parameter. What is here is what goes wrong *while* a model runs against
something real::

    ScalekitError
    ├── DatabaseError          a real database (SQLite, PostgreSQL) failed or refused
    │   ├── PartitionError     (scalekit.partitioning)  └── ShardLockedError
    │   ├── StoreError         (scalekit.sessions: the shared session store)
    │   ├── ReplicationError   (scalekit.replication)   └── NotPrimaryError
    │   ├── KeyCollisionError  (scalekit.replication: merging primaries)
    │   └── CacheDbError       (scalekit.caching: the database behind a cache)
    └── EngineError            a real server (scalekit.engines) could not do what was asked
        └── EngineUnavailable, ServerStartError, …

Each topic error is also a :class:`RuntimeError`, as it always was, and chains the
database's or the process's own error as its cause. ``except DatabaseError`` catches any
topic's database failure; ``except ScalekitError`` anything the kit raises that is not a
bad argument.
"""

from __future__ import annotations

__all__ = ["ScalekitError", "DatabaseError"]


class ScalekitError(Exception):
    """Base of the errors the kit raises while running (not for bad arguments)."""


class DatabaseError(ScalekitError, RuntimeError):
    """A real database failed or refused an operation; its own error is the cause."""
