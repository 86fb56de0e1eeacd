"""A class's worth of bad submissions, graded in bounded time, each with the row that says
what happened, and a feedback file each; parallel grading equals serial grading.

The submissions are the tiny master's student version (tests/_grading.py), answered or
broken on purpose: solved, unsolved, an infinite loop, sys.exit(), os.abort(), a notebook
that deletes files, 100 MB of output, a 3 GiB allocation, broken JSON, a PDF, another
assignment's notebook, and two export zips of one student (the older is a duplicate).
Behaviours the rows rely on: IPython catches SystemExit in a cell and goes on (IPython docs,
"sys.exit() in a cell"); os.abort() raises SIGABRT (Python docs, os.abort) and
jupyter_client reports the dead kernel; RLIMIT_AS makes an allocation beyond it fail with
MemoryError (getrlimit(2), Python docs resource.RLIMIT_AS).
"""

import csv
import math
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest

from scalekit import grading
from scalekit.grading.sandbox import Limits

import _grading as g

pytestmark = pytest.mark.slow

MARK = "SCALEKIT_TEST_GRADING_RUN"
# the limit counts from the notebook's first cell (Python, otter and the kernel starting first
# are the grader's cost): a tiny notebook then runs in a few seconds even on a loaded machine
TIMEOUT_S = 30
JOBS = 2


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return g.build_tiny(tmp_path_factory.mktemp("tiny"), run_tests=False)


def _bad_folder(built, subs: Path) -> None:
    solved = g.SOLVED
    g.copy_solved(built, subs / "alice" / "99_tiny.ipynb")
    g.write(g.answered(built, None, None), subs / "carol" / "99_tiny.ipynb")
    g.write(g.answered(built, *solved, ["while True:\n    pass"]), subs / "abe" / "99_tiny.ipynb")
    g.write(g.answered(built, *solved, ["import sys\nsys.exit(3)"]),
            subs / "erin" / "99_tiny.ipynb")
    g.write(g.answered(built, *solved, ["import os\nos.abort()"]),
            subs / "frank" / "99_tiny.ipynb")
    g.write(g.answered(built, *solved, [
        "import shutil\nfrom pathlib import Path\n"
        "for gone in (Path.cwd().parent, Path.home(), Path.cwd()):\n"
        "    shutil.rmtree(gone, ignore_errors=True)"]), subs / "grace" / "99_tiny.ipynb")
    g.write(g.answered(built, *solved, ['print("x" * 100_000_000)']),
            subs / "heidi" / "99_tiny.ipynb")
    g.write(g.answered(built, *solved, ["block = bytearray(3 * 2**30)"]),
            subs / "ivan" / "99_tiny.ipynb")
    (subs / "judy-99_tiny.ipynb").write_text("{ not json")
    (subs / "ken").mkdir()
    (subs / "ken" / "99_tiny.pdf").write_bytes(b"%PDF-1.4 \x00\x01")
    leo = g.answered(built, *solved)
    leo.metadata["otter"]["assignment_name"] = "01_servers"
    g.write(leo, subs / "leo" / "99_tiny.ipynb")
    g.export_zip(g.answered(built, *solved),
                 subs / "mallory" / "99_tiny_2025_01_01T10_00_00_000000.zip")
    g.export_zip(g.answered(built, solved[0], None),
                 subs / "mallory" / "99_tiny_2025_01_02T10_00_00_000000.zip")


def _grade(built, subs: Path, out: Path, jobs: int) -> float:
    started = time.monotonic()
    code = grading.main(["grade", str(subs), "--notebook", g.TINY, "--autograders",
                         str(built.autograder.parent), "--out", str(out), "-j", str(jobs),
                         "--timeout-s", str(TIMEOUT_S), "--memory-gib", "1"])
    assert code == 0
    return time.monotonic() - started


def _rows(out: Path) -> dict[str, dict]:
    with open(out / f"{g.TINY}-scores.csv", newline="") as fh:
        return {r["submission"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    subs = tmp / "submissions"
    _bad_folder(built, subs)
    before = {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    # this run's own temp folder and environment mark, so other grading runs (another test
    # worker's) neither hide nor fake a leftover
    scratch, mark = tmp / "scratch", uuid.uuid4().hex
    scratch.mkdir()
    saved = tempfile.tempdir
    os.environ[MARK] = mark
    tempfile.tempdir = str(scratch)
    try:
        elapsed = _grade(built, subs, tmp / "grades", JOBS)
    finally:
        tempfile.tempdir = saved
        del os.environ[MARK]
    return {"subs": subs, "out": tmp / "grades", "rows": _rows(tmp / "grades"),
            "before": before, "elapsed": elapsed, "scratch": scratch, "mark": mark}


EXPECTED = {
    "alice/99_tiny.ipynb": ("graded", 5),
    "carol/99_tiny.ipynb": ("graded", 0),
    "abe/99_tiny.ipynb": ("timeout", 0),
    "erin/99_tiny.ipynb": ("graded-with-errors", 5),
    "frank/99_tiny.ipynb": ("crashed", 0),
    "grace/99_tiny.ipynb": ("grader-error", 0),
    "heidi/99_tiny.ipynb": ("output-limit", 5),
    "ivan/99_tiny.ipynb": ("memory", 5),
    "judy-99_tiny.ipynb": ("unreadable", 0),
    "ken/99_tiny.pdf": ("unreadable", 0),
    "leo/99_tiny.ipynb": ("wrong-assignment", 0),
    "mallory/99_tiny_2025_01_01T10_00_00_000000.zip": ("duplicate", 0),
    "mallory/99_tiny_2025_01_02T10_00_00_000000.zip": ("graded", 2),
}


def test_every_submission_gets_its_row_with_what_happened(graded):
    rows = graded["rows"]
    assert set(rows) == set(EXPECTED)
    got = {s: (r["status"], float(r["total"])) for s, r in rows.items()}
    assert got == EXPECTED
    assert all(float(r["possible"]) == 5 for r in rows.values()), "possible on error rows too"


def test_messages_say_what_happened(graded):
    msg = {s: r["error"] for s, r in graded["rows"].items()}
    assert f"stopped after {TIMEOUT_S} s" in msg["abe/99_tiny.ipynb"]
    assert "`while True:`" in msg["abe/99_tiny.ipynb"]
    assert "kernel died" in msg["frank/99_tiny.ipynb"]
    assert "`import os`" in msg["frank/99_tiny.ipynb"]
    assert "sys.exit()" in msg["erin/99_tiny.ipynb"]
    assert "more than 16 MiB of output" in msg["heidi/99_tiny.ipynb"]
    assert "out of memory" in msg["ivan/99_tiny.ipynb"] and "1 GiB" in msg["ivan/99_tiny.ipynb"]
    assert "deleted files" in msg["grace/99_tiny.ipynb"]
    assert "broken JSON" in msg["judy-99_tiny.ipynb"]
    assert "not a notebook (.pdf)" in msg["ken/99_tiny.pdf"]
    assert "this is 01_servers, not 99_tiny" in msg["leo/99_tiny.ipynb"]
    assert "99_tiny_2025_01_02T10_00_00_000000.zip (newer)" in msg[
        "mallory/99_tiny_2025_01_01T10_00_00_000000.zip"]
    assert msg["alice/99_tiny.ipynb"] == msg["carol/99_tiny.ipynb"] == ""


def test_points_per_question_and_empty_columns_where_grading_stopped(graded):
    rows = graded["rows"]
    assert (rows["alice/99_tiny.ipynb"]["q1"], rows["alice/99_tiny.ipynb"]["q2"]) == ("2", "3")
    newer = rows["mallory/99_tiny_2025_01_02T10_00_00_000000.zip"]
    assert (newer["q1"], newer["q2"]) == ("2", "0")
    for stopped in ("abe/99_tiny.ipynb", "frank/99_tiny.ipynb", "judy-99_tiny.ipynb"):
        assert rows[stopped]["q1"] == rows[stopped]["q2"] == ""
    assert [r["student"] for s, r in sorted(rows.items())][:3] == ["abe", "alice", "carol"]
    assert rows["judy-99_tiny.ipynb"]["student"] == "judy"


def test_grading_ends_in_bounded_time_and_leaves_no_process_or_scratch(graded):
    waves = math.ceil(9 / JOBS)  # nine submissions need a grading process
    assert graded["elapsed"] < waves * (TIMEOUT_S + Limits().startup_s) + 60
    leftovers = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARK) == graded["mark"]:
                leftovers.append(proc.pid)
        except psutil.Error:
            continue
    assert leftovers == [], "a grading job's process outlived the run"
    assert list(graded["scratch"].iterdir()) == [], "a scratch folder was left behind"


def test_a_notebook_that_deletes_files_touches_only_its_scratch(graded):
    now = {p: p.read_bytes() for p in graded["subs"].rglob("*") if p.is_file()}
    assert now == graded["before"]
    assert (g.ROOT / "notebooks" / "01_servers.ipynb").is_file()


def test_a_feedback_file_for_every_submission_without_hidden_code(graded):
    folder = graded["out"] / "feedback" / g.TINY
    students = sorted(r["student"] for r in graded["rows"].values())
    assert sorted(p.stem for p in folder.glob("*.md")) == sorted(
        set(students) | {"mallory-2"})
    carol = (folder / "carol.md").read_text()
    assert "**Score: 0 / 5 (0.0%)**" in carol
    assert f"*Hint:* {g.HINT}" in carol, "the master's failure_message is the hint"
    assert "- hidden test 1: failed\n  (TypeError: unsupported operand" in carol
    for secret in ("abs(latency_ms - 50.0)", "utilisation(80, 100)", "the hidden check"):
        assert secret not in carol, f"hidden test code leaked: {secret}"
    assert "public test 1: failed" in carol and "latency_ms must be a float" in carol
    abe = (folder / "abe.md").read_text()
    assert "timeout" in abe and "No question could be graded" in abe


def test_summary_lists_the_hardest_question_first(graded):
    text = (graded["out"] / f"{g.TINY}-summary.md").read_text()
    table = [line for line in text.splitlines() if re.match(r"\| q\d", line)]
    # q1 earned by alice, erin, heidi, ivan and mallory's newer zip; q2 by the first four only
    assert table[0].startswith("| q2 | 4/12 |") and table[1].startswith("| q1 | 5/12 |")


def test_parallel_grading_equals_serial_and_regrading_rewrites_whole(built, graded, tmp_path):
    subset = ["alice/99_tiny.ipynb", "judy-99_tiny.ipynb", "leo/99_tiny.ipynb",
              "mallory/99_tiny_2025_01_01T10_00_00_000000.zip",
              "mallory/99_tiny_2025_01_02T10_00_00_000000.zip"]
    subs = tmp_path / "submissions"
    for rel in subset:
        (subs / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(graded["subs"] / rel, subs / rel)
    out = tmp_path / "grades"
    (out / "feedback" / g.TINY).mkdir(parents=True)
    (out / "feedback" / g.TINY / "stale.md").write_text("from an earlier run")
    (out / f"{g.TINY}-scores.csv").write_text("student,submission\nzed,zed.ipynb\n")
    _grade(built, subs, out, jobs=1)
    serial, parallel = _rows(out), graded["rows"]
    assert set(serial) == set(subset)
    assert all(serial[s] == parallel[s] for s in subset)
    fb, fb_parallel = out / "feedback" / g.TINY, graded["out"] / "feedback" / g.TINY
    assert sorted(p.name for p in fb.iterdir()) == ["alice.md", "judy.md", "leo.md",
                                                    "mallory-2.md", "mallory.md"]
    for name in ("alice.md", "mallory.md", "mallory-2.md", "judy.md"):
        assert (fb / name).read_text() == (fb_parallel / name).read_text()
