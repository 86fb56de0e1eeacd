"""One error ladder and one SQLite write transaction for every topic (issue 14 §3).

Source for the transaction's behaviour: SQLite, "Transaction" (sqlite.org/lang_transaction.html)
— BEGIN IMMEDIATE takes the write lock at once; ROLLBACK undoes every change since BEGIN.
"""

from __future__ import annotations

import sqlite3

import pytest

from scalekit import _sqlite, errors
from scalekit.caching.serverside.aside import CacheDbError
from scalekit.engines.errors import EngineError, EngineUnavailable
from scalekit.partitioning.data import PartitionError
from scalekit.partitioning.twophase import ShardLockedError
from scalekit.replication.keys import KeyCollisionError
from scalekit.replication.log import NodeDownError, NotPrimaryError, ReplicationError
from scalekit.sessions.store import StoreError

DATABASE = [PartitionError, ShardLockedError, StoreError, ReplicationError, NotPrimaryError,
            KeyCollisionError, CacheDbError]


@pytest.mark.parametrize("error", DATABASE, ids=lambda e: e.__name__)
def test_every_topic_database_error_is_a_database_error_and_still_a_runtime_error(error):
    assert issubclass(error, errors.DatabaseError)
    assert issubclass(error, errors.ScalekitError) and issubclass(error, RuntimeError)


def test_engine_errors_and_a_down_node_are_the_kits_errors_too():
    assert issubclass(EngineError, errors.ScalekitError) and issubclass(EngineError,
                                                                        RuntimeError)
    assert issubclass(EngineUnavailable, errors.ScalekitError)
    assert not issubclass(EngineError, errors.DatabaseError)
    # a read from a down node is a bad request (ValueError) and the kit's own error
    assert issubclass(NodeDownError, ValueError) and issubclass(NodeDownError,
                                                                errors.ScalekitError)


@pytest.fixture
def db(tmp_path):
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    conn.execute("INSERT INTO t VALUES (1, 'one')")
    yield conn
    conn.close()


def _rows(conn):
    return conn.execute("SELECT k, v FROM t ORDER BY k").fetchall()


def test_a_block_that_succeeds_is_committed_and_the_connection_stays_open(db, tmp_path):
    with _sqlite.transaction(db, "adding two", error=StoreError) as inside:
        assert inside is db and db.in_transaction
        db.execute("INSERT INTO t VALUES (2, 'two')")
    assert not db.in_transaction
    other = sqlite3.connect(tmp_path / "t.db")
    assert _rows(other) == [(1, "one"), (2, "two")]  # committed: another connection sees it
    other.close()


def test_any_exception_in_the_block_rolls_back_and_comes_out_unchanged(db):
    with pytest.raises(KeyError), _sqlite.transaction(db, "adding", error=StoreError):
        db.execute("INSERT INTO t VALUES (2, 'two')")
        raise KeyError("stop")
    assert _rows(db) == [(1, "one")] and not db.in_transaction


def test_an_sqlite_error_is_the_topics_error_naming_what_failed_with_the_cause(db):
    with pytest.raises(PartitionError, match=r"^adding a duplicate failed: UNIQUE") as info, \
            _sqlite.transaction(db, "adding a duplicate", error=PartitionError):
        db.execute("INSERT INTO t VALUES (3, 'three')")
        db.execute("INSERT INTO t VALUES (1, 'again')")
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    assert _rows(db) == [(1, "one")]  # the first insert rolled back too
    with pytest.raises(errors.DatabaseError):  # and one except catches every topic's
        with _sqlite.transaction(db, "again", error=CacheDbError):
            db.execute("INSERT INTO t VALUES (1, 'again')")


def test_a_locked_database_is_refused_at_begin_and_nothing_is_written(db, tmp_path):
    holder = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    impatient = sqlite3.connect(tmp_path / "t.db", timeout=0, isolation_level=None)
    try:
        with pytest.raises(StoreError, match="^writing failed: database is locked"):
            with _sqlite.transaction(impatient, "writing", error=StoreError):
                impatient.execute("INSERT INTO t VALUES (9, 'nine')")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        impatient.close()
    assert _rows(db) == [(1, "one")]


def test_a_file_that_cannot_be_opened_is_the_topics_error(tmp_path):
    missing = tmp_path / "no such dir" / "x.db"
    with pytest.raises(PartitionError, match="cannot open the database"):
        with _sqlite.file_transaction(missing, "reading", error=PartitionError):
            pass
