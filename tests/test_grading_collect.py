"""Collecting a class's submissions (whatever shape an LMS download has) and finding the
running notebook whatever it is called. Fast: no notebook is executed here."""

import json
import os
import zipfile

import pytest

from scalekit.grading import checks
from scalekit.grading.collect import MAX_NOTEBOOK_BYTES, collect

KNOWN = ["01_servers", "02_balancing"]


def _nb(assignment: str | None = "01_servers") -> str:
    meta = {"otter": {"assignment_name": assignment}} if assignment else {}
    return json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _by_path(subs):
    return {s.relpath: s for s in subs}


def test_students_come_from_the_folder_or_the_file_name(tmp_path):
    _write(tmp_path / "alice" / "whatever.ipynb", _nb())
    _write(tmp_path / "lms" / "bob" / "deep" / "01_servers.ipynb", _nb())
    _write(tmp_path / "carol-01_servers.ipynb", _nb())
    _write(tmp_path / "01_servers_dave.ipynb", _nb())
    _write(tmp_path / "erin-Copy1.ipynb", _nb())
    _write(tmp_path / "01_servers_2025_03_01T10_00_00_123456.ipynb", _nb())
    got = {s.relpath: s.student for s in collect(tmp_path, KNOWN)}
    assert got == {"alice/whatever.ipynb": "alice", "lms/bob/deep/01_servers.ipynb": "lms",
                   "carol-01_servers.ipynb": "carol", "01_servers_dave.ipynb": "dave",
                   "erin-Copy1.ipynb": "erin",
                   "01_servers_2025_03_01T10_00_00_123456.ipynb":
                       "01_servers_2025_03_01T10_00_00_123456"}


def test_the_assignment_comes_from_inside_the_notebook(tmp_path):
    _write(tmp_path / "a" / "01_servers.ipynb", _nb("02_balancing"))
    _write(tmp_path / "b" / "no-metadata-02_balancing.ipynb", _nb(None))
    _write(tmp_path / "c" / "no-metadata.ipynb", _nb(None))
    _write(tmp_path / "d" / "capstone.ipynb", _nb("07_capstone"))
    subs = _by_path(collect(tmp_path, KNOWN))
    assert subs["a/01_servers.ipynb"].assignment == "02_balancing"
    assert subs["a/01_servers.ipynb"].problem == ""
    assert subs["b/no-metadata-02_balancing.ipynb"].assignment == "02_balancing"
    assert subs["c/no-metadata.ipynb"].status == "wrong-assignment"
    assert "cannot tell the assignment" in subs["c/no-metadata.ipynb"].problem
    assert "no autograder for assignment '07_capstone'" in subs["d/capstone.ipynb"].problem
    only = _by_path(collect(tmp_path, KNOWN, only="01_servers"))
    assert only["a/01_servers.ipynb"].problem == (
        "wrong assignment: this is 02_balancing, not 01_servers")


def test_export_zips_are_read_and_bad_ones_say_why(tmp_path):
    with zipfile.ZipFile(tmp_path / "good.zip", "w") as zf:
        zf.writestr("01_servers.ipynb", _nb())
        zf.writestr(".OTTER_LOG", b"\x80log")
        zf.writestr("__MACOSX/._01_servers.ipynb", "resource fork")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as zf:
        zf.writestr("a.ipynb", _nb())
        zf.writestr("b.ipynb", _nb())
    with zipfile.ZipFile(tmp_path / "none.zip", "w") as zf:
        zf.writestr("answers.py", "x = 1")
    (tmp_path / "fake.zip").write_bytes(b"PK not really")
    subs = _by_path(collect(tmp_path, KNOWN))
    assert subs["good.zip"].problem == "" and subs["good.zip"].assignment == "01_servers"
    assert "holds 2 (a.ipynb, b.ipynb)" in subs["two.zip"].problem
    assert "holds 0 (none)" in subs["none.zip"].problem
    assert "not a readable zip" in subs["fake.zip"].problem
    assert {subs[k].status for k in ("two.zip", "none.zip", "fake.zip")} == {"unreadable"}


def test_oversized_notebooks_are_refused_before_reading(tmp_path):
    big = tmp_path / "big.ipynb"
    with big.open("wb") as fh:  # sparse: the size is there, the bytes are not
        fh.truncate(MAX_NOTEBOOK_BYTES + 1)
    [sub] = collect(tmp_path, KNOWN)
    assert sub.status == "unreadable" and "over 64 MiB" in sub.problem


def test_hidden_files_are_skipped_and_other_files_get_a_row(tmp_path):
    _write(tmp_path / "a" / ".ipynb_checkpoints" / "01_servers-checkpoint.ipynb", _nb())
    _write(tmp_path / "a" / "01_servers.ipynb", _nb())
    _write(tmp_path / ".DS_Store", "x")
    _write(tmp_path / "b" / "answers.docx", "x")
    subs = _by_path(collect(tmp_path, KNOWN))
    assert set(subs) == {"a/01_servers.ipynb", "b/answers.docx"}
    assert "not a notebook (.docx)" in subs["b/answers.docx"].problem


def test_a_students_newest_submission_is_graded_the_others_are_duplicates(tmp_path):
    old = _write(tmp_path / "ann" / "01_servers_2025_01_02T09_00_00_000000.ipynb", _nb())
    new = _write(tmp_path / "ann" / "01_servers_2025_01_03T09_00_00_000000.ipynb", _nb())
    os.utime(old, (2e9, 2e9))  # modified later, exported earlier: the export stamp wins
    os.utime(new, (1e9, 1e9))
    first = _write(tmp_path / "ben" / "a.ipynb", _nb())
    second = _write(tmp_path / "ben" / "b.ipynb", _nb())
    os.utime(first, (2e9, 2e9))
    os.utime(second, (1e9, 1e9))
    _write(tmp_path / "ben" / "other.ipynb", _nb("02_balancing"))
    subs = _by_path(collect(tmp_path, KNOWN))
    assert subs[new.relative_to(tmp_path).as_posix()].problem == ""
    assert subs[old.relative_to(tmp_path).as_posix()].status == "duplicate"
    assert subs["ben/a.ipynb"].problem == "" and subs["ben/b.ipynb"].status == "duplicate"
    assert "ben also submitted ben/a.ipynb (newer)" in subs["ben/b.ipynb"].problem
    assert subs["ben/other.ipynb"].problem == "", "another assignment is not a duplicate"


def test_a_folder_that_is_missing_or_empty_is_refused(tmp_path):
    with pytest.raises(NotADirectoryError, match="must be a folder"):
        collect(tmp_path / "nope", KNOWN)
    with pytest.raises(FileNotFoundError, match="no submissions"):
        collect(tmp_path, KNOWN)


def test_the_running_notebook_is_found_whatever_it_is_called(tmp_path, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    renamed = _write(tmp_path / "01_servers-Copy1.ipynb", _nb())
    _write(tmp_path / "other.ipynb", _nb("02_balancing"))
    assert checks.notebook_path("01_servers", tmp_path) == renamed
    original = _write(tmp_path / "01_servers.ipynb", _nb())
    os.utime(renamed, (1e9, 1e9))
    assert checks.notebook_path("01_servers", tmp_path) == original, "the newest copy"
    monkeypatch.setenv("JPY_SESSION_NAME", str(renamed))  # what jupyter_server tells a kernel
    assert checks.notebook_path("01_servers", tmp_path) == renamed
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "renamed-since.ipynb"))
    assert checks.notebook_path("01_servers", tmp_path) == original
    assert checks.notebook_path("05_replication", tmp_path) is None
    with pytest.raises(ValueError, match="assignment must be"):
        checks.notebook_path("", tmp_path)
