"""The files a grading run writes, from grades made by hand: the score table's columns, the
gradebook across notebooks, feedback that never shows a hidden test's code, the summary's
order, and bad arguments. Fast: no notebook is executed here."""

import csv

import pytest

from scalekit import grading
from scalekit.grading import report, worker
from scalekit.grading.results import Case, Grade, Question
from scalekit.grading.sandbox import Limits


def _q(name, points, possible, *cases):
    return Question(name, points, possible, tuple(cases))


def _grades():
    return [
        Grade("ann", "ann/01.ipynb", "01_servers", "graded", 5.0, "", (
            _q("q1", 2, 2, Case(False, True, "passed"), Case(True, True, "passed")),
            _q("q2", 3, 3, Case(False, True, "passed")))),
        Grade("ben", "ben/01.ipynb", "01_servers", "graded", 5.0, "", (
            _q("q1", 2, 2, Case(False, True, "passed")),
            _q("q2", 0, 3, Case(False, False, "Failed example:\n    f(2)\nExpected: 4",
                                "f doubles its input"),
               Case(True, False, "AssertionError: wrong for negatives")))),
        Grade("cat", "cat/01.ipynb", "01_servers", "timeout", 5.0, "stopped after 300 s"),
        Grade("ann", "ann/02.ipynb", "02_balancing", "graded", 4.0, "",
              (_q("q1", 4, 4, Case(False, True, "passed")),)),
        Grade("ann", "ann/02-old.ipynb", "02_balancing", "duplicate", 4.0, "duplicate: …"),
    ]


POINTS = {"01_servers": {"q1": 2.0, "q2": 3.0}, "02_balancing": {"q1": 4.0}}


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_score_table_columns_and_error_rows(tmp_path):
    report.write_reports(_grades(), POINTS, tmp_path)
    rows = _read(tmp_path / "01_servers-scores.csv")
    assert list(rows[0]) == ["student", "submission", "q1", "q2", "total", "possible",
                             "percent", "status", "error"]
    cat = rows[2]
    assert (cat["q1"], cat["q2"], cat["total"], cat["possible"]) == ("", "", "0", "5")
    assert (cat["status"], cat["error"]) == ("timeout", "stopped after 300 s")
    assert [(r["student"], r["total"], r["percent"]) for r in rows[:2]] == [
        ("ann", "5", "100.0"), ("ben", "2", "40.0")]


def test_one_gradebook_across_notebooks_ignores_duplicates(tmp_path):
    report.write_reports(_grades(), POINTS, tmp_path)
    book = {r["student"]: r for r in _read(tmp_path / "gradebook.csv")}
    assert list(book["ann"]) == ["student", "01_servers", "02_balancing", "total",
                                 "possible", "percent"]
    assert (book["ann"]["01_servers"], book["ann"]["02_balancing"], book["ann"]["total"]) == (
        "5", "4", "9")
    assert book["ben"]["02_balancing"] == "" and book["ben"]["possible"] == "9"
    assert book["cat"]["total"] == "0" and book["cat"]["percent"] == "0.0"
    # grading one notebook again rewrites its table and the gradebook, not the others
    report.write_reports(_grades()[3:4], POINTS, tmp_path)
    assert len(_read(tmp_path / "01_servers-scores.csv")) == 3
    assert set(r["student"] for r in _read(tmp_path / "gradebook.csv")) == {"ann", "ben", "cat"}


def test_feedback_shows_hints_and_hides_hidden_test_code(tmp_path):
    report.write_reports(_grades(), POINTS, tmp_path)
    ben = (tmp_path / "feedback" / "01_servers" / "ben.md").read_text()
    assert "**Score: 2 / 5 (40.0%)**" in ben
    assert "- public test 1: failed" in ben and "Expected: 4" in ben
    assert "*Hint:* f doubles its input" in ben
    assert "- hidden test 1: failed\n  (AssertionError: wrong for negatives)" in ben
    cat = (tmp_path / "feedback" / "01_servers" / "cat.md").read_text()
    assert "timeout" in cat and "stopped after 300 s" in cat
    assert sorted(p.name for p in (tmp_path / "feedback" / "02_balancing").iterdir()) == [
        "ann-2.md", "ann.md"]


def test_a_hidden_failure_keeps_only_its_errors_last_line():
    otter_message = (
        "Test case failed\nTrying:\n    assert secret_formula(x) == 42, 'off by a factor'\n"
        "Expecting nothing\n****\nLine 1, in q1 1\nFailed example:\n"
        "    assert secret_formula(x) == 42, 'off by a factor'\nException raised:\n"
        "    Traceback (most recent call last):\n      File \"<doctest q1 1[0]>\", line 1\n"
        "        assert secret_formula(x) == 42, 'off by a factor'\n"
        "    AssertionError: off by a factor\n")
    assert worker.hidden_message(otter_message) == "AssertionError: off by a factor"
    assert "secret_formula" not in worker.hidden_message(otter_message)
    wrong = "Failed example:\n    secret(1)\nExpected:\n    42\nGot:\n    41\n"
    assert worker.hidden_message(wrong) == "the result differs from what the test expects"


def test_summary_lists_the_hardest_question_first(tmp_path):
    rows = report.summary_rows(_grades()[:3], ["q1", "q2"])
    assert [(q, passed, counted) for q, passed, counted, _ in rows] == [
        ("q2", 1, 3), ("q1", 2, 3)]
    report.write_reports(_grades(), POINTS, tmp_path)
    text = (tmp_path / "01_servers-summary.md").read_text()
    assert text.index("| q2 | 1/3 | 33% |") < text.index("| q1 | 2/3 | 67% |")
    assert "`cat/01.ipynb` (cat): timeout — stopped after 300 s" in text


@pytest.mark.parametrize("kwargs, match", [
    ({"timeout_s": 0}, "timeout_s must be"), ({"memory_gib": -1}, "memory_gib must be"),
    ({"output_mib": float("nan")}, "output_mib must be"), ({"timeout_s": "60"}, "timeout_s")])
def test_bad_limits_are_refused_naming_the_parameter(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Limits(**kwargs)


def test_a_bad_status_and_an_unknown_notebook_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="status must be one of"):
        Grade("a", "a.ipynb", "01_servers", "fine", 1.0)
    (tmp_path / "zips").mkdir()
    (tmp_path / "zips" / "01_servers.zip").write_bytes(b"")
    (tmp_path / "subs").mkdir()
    assert grading.main(["grade", str(tmp_path / "subs"), "--notebook", "01_server",
                         "--autograders", str(tmp_path / "zips")]) == 2
    err = capsys.readouterr().err
    assert "no autograder for notebook '01_server'" in err and "there are: 01_servers" in err
    assert grading.main(["grade", str(tmp_path / "subs"), "-j", "0",
                         "--autograders", str(tmp_path / "zips")]) == 2
    assert "jobs must be" in capsys.readouterr().err
