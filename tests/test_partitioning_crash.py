"""The crash tool: a write really killed (SIGKILL, a child process) after a chosen step, and
a census of the files that agrees with plain SQLite counts. (The fault matrix that checks
the two-phase commit itself, with its own kill driver, is test_partitioning_commit.py.)"""

import os
import signal
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from scalekit.partitioning import faults as crashing
from scalekit.partitioning.sharding import ShardRouter

SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
ROWS = [{"id": i, "origin": f"K{i % 40}"} for i in range(1, 801)]
GROW = {"op": "reshard", "target": 5}


@pytest.fixture
def shards():
    """A small sharded directory, on tmpfs when there is one (the kills are real either
    way; a disk only adds fsync time)."""
    with tempfile.TemporaryDirectory(dir=SCRATCH, prefix="scalekit-crash-") as tmp:
        folder = Path(tmp) / "shards"
        with ShardRouter(folder, 4, "modulo") as router:
            router.insert_many(ROWS)
        yield folder


def raw_ids(folder) -> Counter:
    ids = Counter()
    for path in sorted(folder.glob("shard-*.sqlite3")):
        with sqlite3.connect(path) as db:
            ids.update(i for (i,) in db.execute("SELECT id FROM flights"))
    return ids


def test_steps_of_a_reshard_are_found_without_changing_anything(shards):
    before = raw_ids(shards)
    steps = crashing.operation_steps(shards, GROW)
    assert steps[0] == "locked" and steps.index("layout written") + 1 == steps.index("decided")
    assert [s for s in steps if s.startswith("staged")] == [f"staged shard {i}" for i in range(5)]
    assert raw_ids(shards) == before and crashing.census(shards).layout_shards == 4


@pytest.mark.parametrize(("step", "decided"), [("staged shard 2", False), ("decided", True),
                                               ("deleted shard 1", True)])
def test_a_real_kill_and_the_census_of_what_it_left(shards, step, decided):
    result = crashing.crash(shards, GROW, step)
    assert result.step == step and result.decided is decided
    ids = raw_ids(shards)
    assert result.before.ids == len(ids) == len(ROWS)  # no row lost, even before recovery
    assert result.before.duplicates == sum(c - 1 for c in ids.values())
    assert result.before.layout_shards == (5 if decided else 4)
    with ShardRouter(shards) as router:
        assert router.n_shards == (5 if decided else 4)
        assert not router.recovery.clean
    after = crashing.census(shards)
    assert after.ids == len(ROWS) and after.duplicates == 0 and not any(after.staged)


def test_the_matrix_reports_every_row_once_after_every_kill(shards):
    matrix = crashing.crash_matrix(shards, GROW)
    assert matrix.exactly_once and len(matrix.before) == len(matrix.steps)
    assert matrix.steps[matrix.decided_at] == "decided"
    assert any(b.duplicates for b in matrix.before)  # kills mid-publish leave old copies
    assert all(a.layout_shards == (5 if k >= matrix.decided_at else 4)
               for k, a in enumerate(matrix.after))
    assert "killed (SIGKILL)" in matrix._repr_html_()


def test_the_child_is_killed_by_sigkill(shards, monkeypatch):
    codes = []
    real = crashing.subprocess.run

    def run(*args, **kw):
        done = real(*args, **kw)
        codes.append(done.returncode)
        return done

    monkeypatch.setattr(crashing.subprocess, "run", run)
    crashing.crash(shards, GROW, 0)
    assert codes == [-signal.SIGKILL]


def test_bad_requests_are_refused(shards, tmp_path):
    with pytest.raises(ValueError, match="not one of this operation's steps"):
        crashing.crash(shards, GROW, "published shard 9")
    with pytest.raises(ValueError, match="step"):
        crashing.crash(shards, GROW, 99)
    with pytest.raises(ValueError, match="no layout.json"):
        crashing.census(tmp_path)
    with pytest.raises(TypeError, match="operation"):
        crashing.crash(shards, "reshard", 0)
    with pytest.raises(ValueError, match="operation\\['op'\\]"):
        crashing.crash(shards, {"op": "drop"}, 0)
    with pytest.raises(TypeError, match="target"):
        crashing.crash(shards, {"op": "reshard", "target": "5"}, 0)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(ValueError, match="empty directory"):
        crashing.crash_every_step(shards, GROW, tmp_path / "busy")
