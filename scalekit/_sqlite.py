"""One SQLite write transaction, for every topic that writes to a real SQLite file.

``with transaction(db, "writing 3 sessions", error=StoreError):`` runs the block inside
``BEGIN IMMEDIATE`` on the open connection ``db`` (opened with ``isolation_level=None``:
the kit, not the :mod:`sqlite3` module, says where a transaction starts and ends); COMMIT
if the block succeeds; ROLLBACK on any exception, so the database is as it was; an SQLite
error comes out as ``error("writing 3 sessions failed: …")`` with the cause chained.
:func:`file_transaction` opens the file first and closes it afterwards.

(SQLite, "Transaction": BEGIN IMMEDIATE takes the write lock at once, so two writers wait
for each other at BEGIN — under ``busy_timeout`` — rather than fail at their first write.)
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

__all__ = ["transaction", "file_transaction"]


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, what: str, *, error: type[Exception],
                begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
    """The block inside one transaction on ``db``: committed, or rolled back and ``error``."""
    try:
        db.execute(begin)
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise error(f"{what} failed: {exc}") from exc


@contextlib.contextmanager
def file_transaction(path: Path, what: str, *, error: type[Exception],
                     foreign_keys: bool = False) -> Iterator[sqlite3.Connection]:
    """:func:`transaction` on a connection to the SQLite file ``path``, closed either way."""
    try:
        db = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise error(f"cannot open the database {str(path)!r}: {exc}") from exc
    try:
        if foreign_keys:
            try:
                db.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise error(f"{what} failed: {exc}") from exc
        with transaction(db, what, error=error) as inside:
            yield inside
    finally:
        db.close()
