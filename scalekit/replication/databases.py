"""What every multi-node SQLite model here needs: a transaction over several databases, and
a checksum that tells whether two databases hold the same contents.

Real SQLite throughout (:mod:`sqlite3`): each node is its own connection, and a step that
changes several nodes opens a transaction on each (:class:`all_or_nothing`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence

from scalekit import _check

__all__ = ["all_or_nothing", "checksum"]


def checksum(conn: sqlite3.Connection) -> str:
    """SHA-256 of every user table's rows, tables by name and rows sorted: two databases
    with the same contents have the same checksum whatever order the rows arrived in."""
    _check.instance("conn", conn, sqlite3.Connection)
    digest = hashlib.sha256()
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                         " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for table in tables:
        digest.update(table.encode())
        for row in sorted(conn.execute(f'SELECT * FROM "{table}"'), key=repr):
            digest.update(repr(row).encode())
    return digest.hexdigest()


class all_or_nothing:
    """``with all_or_nothing(conns):`` BEGIN on every connection; COMMIT all if the block
    succeeds, else ROLLBACK all. Connections must be opened with ``isolation_level=None``
    (the caller issues BEGIN/COMMIT, not the :mod:`sqlite3` module).

    The COMMITs themselves run one after another: should the second fail, the first stays
    committed — the gap two-phase commit closes. Here every statement has already succeeded
    when the COMMITs run, and a local SQLite COMMIT then fails only on an I/O error."""

    def __init__(self, conns: Sequence[sqlite3.Connection]):
        if isinstance(conns, str) or not isinstance(conns, Sequence):
            raise TypeError(f"conns must be a list of sqlite3.Connection, "
                            f"got {type(conns).__name__}")
        self.conns = [_check.instance(f"conns[{i}]", c, sqlite3.Connection)
                      for i, c in enumerate(conns)]

    def __enter__(self) -> None:
        begun = []
        try:
            for conn in self.conns:
                conn.execute("BEGIN")
                begun.append(conn)
        except BaseException:
            for conn in begun:  # leave no connection half-way into the transaction
                conn.execute("ROLLBACK")
            raise

    def __exit__(self, exc_type, exc, tb) -> bool:
        for conn in self.conns:
            conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
