"""Issue 18: every public callable of scalekit.grading, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery and its rules: tests/_walk.py.

Grading is the instructors' side: folders in, files out. The walk gives each writer a fresh
folder of its own (the walk runs in a scratch directory). The calls that start processes —
``otter assign`` (build_student), ``pip wheel`` (build_wheel), git (publish, git_remote), a
sandboxed kernel per submission (sandbox.run, grade_folder) — are walked in this process
with the process start patched (``_walk.walk_before_start``): every bad value must be
refused before anything starts.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest

import _walk

PACKAGE = "scalekit.grading"

G = "scalekit.grading"
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="walk-", dir="."))


def _grade(status: str = "graded"):
    from scalekit.grading import Case, Grade, Question
    q = Question("q1", 1.0, 2.0, (Case(False, True), Case(True, False, "wrong", "")))
    return Grade("ada", "ada/01_servers.ipynb", "01_servers", status, 2.0, "",
                 (q,) if status == "graded" else ())


def _remote():
    from scalekit.grading import parse_remote
    return parse_remote("https://github.com/course/scalekit-student.git")


def _launches():
    from scalekit.grading.links import launch_links
    return launch_links(_remote(), "student", ["notebooks/01_servers.ipynb"])


def _notebook_file() -> Path:
    path = _folder() / "01_servers.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {
        "otter": {"assignment_name": "01_servers"}}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _scores_folder() -> Path:
    from scalekit.grading.report import write_scores
    folder = _folder()
    write_scores([_grade()], ["q1"], folder / "01_servers-scores.csv")
    return folder


def _student_nb():
    """A notebook as prepare_student_notebook reads it: nbformat's NotebookNode gives
    attribute access to cells, cell_type and source; this stands in for it without
    importing nbformat (seconds of jsonschema on a loaded machine)."""
    cell = types.SimpleNamespace
    return cell(cells=[cell(cell_type="code", source="# Initialize Otter\nimport otter"),
                       cell(cell_type="markdown", source="intro")])


def _submission():
    from scalekit.grading import Submission
    return Submission(Path("ada/01_servers.ipynb"), "ada/01_servers.ipynb", "ada", "01_servers")


def _outcome():
    from scalekit.grading.sandbox import Outcome
    return Outcome({"status": "graded", "message": "", "questions": [
        {"name": "q1", "points": 1.0, "possible": 1.0,
         "cases": [{"hidden": False, "passed": True, "message": "", "hint": ""}]}]},
        (), 0, "", 1.0)


def _limits():
    from scalekit.grading import Limits
    return Limits()


EXAMPLES = {
    f"{G}.build.masters": lambda: {"notebooks": NOTEBOOKS},
    f"{G}.build.kit_config": lambda: {"master_config": {"name": "01_servers"},
                                      "wheel_name": "scalekit-0.1-py3-none-any.whl"},
    f"{G}.build.prepare_student_notebook": lambda: {"nb": _student_nb(),
                                                    "assignment": "01_servers"},
    f"{G}.checks.notebook_assignment": lambda: {"path": _notebook_file()},
    f"{G}.checks.notebook_path": lambda: {"assignment": "01_servers",
                                          "folder": _notebook_file().parent},
    f"{G}.collect.collect": lambda: {"folder": _notebook_file().parent,
                                     "known": ["01_servers"]},
    f"{G}.distribution.write_readme": lambda: {"out": _folder(), "launches": _launches()},
    f"{G}.grade.grade_outcome": lambda: {"sub": _submission(), "table": "01_servers",
                                         "possible": 1.0, "outcome": _outcome(),
                                         "limits": _limits()},
    f"{G}.links.parse_remote": lambda: {
        "url": "https://github.com/course/scalekit-student.git"},
    f"{G}.links.binder_link": lambda: {"remote": _remote(), "ref": "student",
                                       "path": "notebooks/01_servers.ipynb"},
    f"{G}.links.nbgitpuller_link": lambda: {"hub": "https://hub.example.edu",
                                            "remote": _remote(), "branch": "student",
                                            "path": "notebooks/01_servers.ipynb"},
    f"{G}.links.launch_links": lambda: {"remote": _remote(), "branch": "student",
                                        "notebooks": ["notebooks/01_servers.ipynb"]},
    f"{G}.report.write_scores": lambda: {"grades": [_grade()], "questions": ["q1"],
                                         "path": _folder() / "01_servers-scores.csv"},
    f"{G}.report.write_gradebook": lambda: {"folder": _scores_folder()},
    f"{G}.report.write_feedback": lambda: {"grades": [_grade()],
                                           "folder": _folder() / "feedback"},
    f"{G}.report.write_summary": lambda: {"grades": [_grade(), _grade("timeout")],
                                          "questions": ["q1"], "possible": {"q1": 2.0},
                                          "path": _folder() / "01_servers-summary.md"},
    f"{G}.report.write_reports": lambda: {"grades": [_grade()],
                                          "points": {"01_servers": {"q1": 2.0}},
                                          "folder": _folder()},
    f"{G}.report.feedback_text": lambda: {"g": _grade()},
    f"{G}.report.summary_rows": lambda: {"grades": [_grade()], "questions": ["q1"]},
    f"{G}.worker.hidden_message": lambda: {"message": "Traceback\nAssertionError: no"},
    f"{G}.distribution.write_kit_files": lambda: {"kit_root": ROOT, "out": _folder()},
    f"{G}.grade.autograders": lambda: {"folder": _zips()},
    f"{G}.sandbox.Limits.environment": lambda: {"events": Path("events.jsonl")},
}


def _zips() -> Path:
    folder = _folder()
    (folder / "01_servers.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    return folder


INSTANCES = {f"{G}.sandbox.Limits": _limits}

A_PATH = {"string": "a relative path: written in the walk's scratch folder"}

ACCEPTED = {
    (f"{G}.build.prepare_student_notebook", "assignment"): {
        "string": "any assignment name (the grader line names it)"},
    (f"{G}.build.prepare_student_notebook", "kit_url"): {
        "string": "any install URL (written into the install line as it is)"},
    (f"{G}.build.prepare_student_notebook", "launch"): {
        "string": "any Markdown for the launch line"},
    (f"{G}.checks.notebook_assignment", "path"): {
        "string": "a path that is not a readable notebook: None (documented)"},
    (f"{G}.collect.collect", "known"): {
        "empty list": "no autograders known: every submission gets a wrong-assignment row"},
    (f"{G}.distribution.write_readme", "launches"): {
        "empty list": "no links: the README says the instructor hands them out "
                      "(documented)"},
    (f"{G}.checks.notebook_path", "assignment"): {
        "string": "an assignment with no notebook here: None (documented)"},
    (f"{G}.grade.grade_outcome", "table"): {
        "string": "any assignment name labels the row"},
    (f"{G}.links.binder_link", "ref"): {"string": "any git ref"},
    (f"{G}.links.binder_link", "path"): {"string": "any path in the repository"},
    (f"{G}.links.nbgitpuller_link", "branch"): {"string": "any branch name"},
    (f"{G}.links.nbgitpuller_link", "path"): {"string": "any path in the repository"},
    (f"{G}.links.launch_links", "branch"): {"string": "any branch name"},
    (f"{G}.links.launch_links", "notebooks"): {
        "empty list": "no notebooks: no links", "string": "one name as a list? refused"},
    (f"{G}.report.write_scores", "grades"): {
        "empty list": "no submissions: a table with its header only"},
    (f"{G}.report.write_scores", "questions"): {
        "empty list": "an assignment without questions: only the fixed columns"},
    (f"{G}.report.write_scores", "path"): A_PATH,
    (f"{G}.report.write_feedback", "grades"): {"empty list": "no submissions: no files"},
    (f"{G}.report.write_feedback", "folder"): A_PATH,
    (f"{G}.report.write_summary", "grades"): {
        "empty list": "no submissions: a summary saying so"},
    (f"{G}.report.write_summary", "questions"): {
        "empty list": "no questions: no per-question rows"},
    (f"{G}.report.write_summary", "possible"): {
        "empty dict": "no points listed: each question shows 0 possible"},
    (f"{G}.report.write_summary", "path"): A_PATH,
    (f"{G}.report.summary_rows", "grades"): {"empty list": "no submissions: 0 counted"},
    (f"{G}.report.summary_rows", "questions"): {"empty list": "no questions: no rows"},
    (f"{G}.report.write_reports", "grades"): {
        "empty list": "no submissions: only the (empty) gradebook"},
    (f"{G}.report.write_reports", "points"): {
        "empty dict": "no points known: tables without question columns"},
    (f"{G}.report.write_reports", "folder"): A_PATH,
    (f"{G}.sandbox.Limits.environment", "events"): {
        "string": "any path: the worker writes its events there"},
    (f"{G}.worker.hidden_message", "message"): {
        "None": "None: no message, 'failed' (documented)",
        "string": "any text: its error line, or 'failed'"},
}

SKIP = {
    f"{G}.main": "the command line: argparse answers a bad argv with its usage and exit "
                 "status 2 (tests/test_grading_cli.py)",
    f"{G}.cli.main": "the command line (as scalekit.grading.main)",
    f"{G}.worker.main": "the sandboxed worker's entry point, run only by sandbox.run with "
                        "the argv it builds",
    f"{G}.build.Built": "a result dataclass built only by build_student",
    f"{G}.collect.Submission": "a result dataclass built only by collect",
    f"{G}.links.Remote": "a result dataclass built only by parse_remote",
    f"{G}.links.Launch": "a result dataclass built only by launch_links",
    f"{G}.results.Case": "a result dataclass built only by grade_outcome",
    f"{G}.results.Question": "a result dataclass built only by grade_outcome",
    f"{G}.results.Grade": "a result dataclass built only by grade_outcome (its status is "
                          "checked: tests/test_grading_*.py)",
    f"{G}.sandbox.Outcome": "a result dataclass built only by sandbox.run",
    f"{G}.sandbox.stop_all": "takes no arguments",
    f"{G}.sandbox.resume": "takes no arguments",
    f"{G}.worker.summarize": "takes otter's GradingResults, built only by otter inside the "
                             "sandboxed worker",
    # the calls below start processes or import otter (seconds): walked before the start
    **{f"{G}.{name}": "starts a process or imports otter: walked before it, "
                      "test_process_starters_refuse_before_starting"
       for name in ("build.build_student", "build.build_wheel", "build.kit_config",
                    "distribution.publish", "links.git_remote", "sandbox.run",
                    "grade.grade_folder", "grade.possible_points", "checks.notebook_grader")},
}


def test_walk_api():
    _walk.assert_clean(__file__)


class _Otter(types.ModuleType):
    """otter, as the walk sees it: importing works, using anything starts (seconds)."""

    def __getattr__(self, name):
        raise _walk.Started(f"otter.{name} would be used here")


@pytest.fixture
def started(monkeypatch, tmp_path):
    """Every process start and every use of otter raises _walk.Started."""
    from scalekit.grading import build, distribution, grade

    def start(*args, **kwargs):
        raise _walk.Started("a process would start here")
    real = {"build_wheel": build.build_wheel, "possible_points": grade.possible_points}
    for name in ("otter", "otter.nbmeta_config", "otter.test_files", "otter.api"):
        monkeypatch.setitem(sys.modules, name, _Otter(name))
    monkeypatch.setattr(subprocess, "run", start)
    monkeypatch.setattr(subprocess, "Popen", start)
    monkeypatch.setattr(build, "build_wheel", start)
    monkeypatch.setattr(distribution, "_git", start)
    monkeypatch.setattr(grade, "possible_points", start)
    return tmp_path, real


def test_process_starters_refuse_before_starting(started, monkeypatch):
    from scalekit.grading import build, checks, distribution, grade, links, sandbox
    tmp, real = started
    for name in ("out", "work", "instructor", "dist/notebooks", "repo", "subs/ada", "zips"):
        (tmp / name).mkdir(parents=True)
    nb = tmp / "subs" / "ada" / "01_servers.ipynb"
    nb.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                              "nbformat_minor": 5}))
    (tmp / "zips" / "01_servers.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    walks = {
        "build.build_student": (build.build_student, {
            "notebooks": NOTEBOOKS, "out": tmp / "out", "work": tmp / "work",
            "instructor": tmp / "instructor", "kit_root": ROOT, "only": "01_servers",
            "log": lambda line: None}),
        "build.build_wheel": (real["build_wheel"], {
            "kit_root": ROOT, "dest": tmp / "wheel"}),
        "build.kit_config": (build.kit_config, {
            "master_config": {"name": "01_servers"}, "wheel_name": "kit-0.1-py3-none-any.whl"}),
        "checks.notebook_grader": (checks.notebook_grader, {"assignment": "01_servers",
                                                            "path": nb}),
        "distribution.publish": (distribution.publish, {"dist": tmp / "dist",
                                                        "repo": tmp / "repo"}),
        "links.git_remote": (links.git_remote, {"repo_dir": tmp / "repo"}),
        "sandbox.run": (sandbox.run, {"submission": nb,
                                      "autograder": tmp / "zips" / "01_servers.zip"}),
        "grade.grade_folder": (grade.grade_folder, {"submissions": tmp / "subs",
                                                    "autograder_dir": tmp / "zips",
                                                    "log": lambda line: None}),
        "grade.possible_points": (real["possible_points"], {
            "autograder": tmp / "zips" / "01_servers.zip"}),
    }
    accepts = {
        (f"{G}.build.build_student", "only"): {
            "None": "None: every master (documented)"},
        (f"{G}.build.build_student", "hub"): {"string": "any hub URL text"},
        **{(f"{G}.build.build_student", name): A_PATH
           for name in ("out", "work", "instructor")},
        (f"{G}.build.build_wheel", "dest"): A_PATH,
        (f"{G}.build.build_student", "branch"): {"string": "any branch name"},
        (f"{G}.distribution.publish", "branch"): {"string": "any plain branch name"},
        (f"{G}.distribution.publish", "message"): {"string": "any commit message"},
        (f"{G}.links.git_remote", "remote"): {"string": "any remote name (git answers)"},
        (f"{G}.build.kit_config", "master_config"): {
            "empty dict": "a master without settings of its own: the kit's"},
        (f"{G}.checks.notebook_grader", "assignment"): {"string": "any assignment name"},
        (f"{G}.checks.notebook_grader", "path"): {
            "None": "None: the running notebook (documented)",
            "string": "any path: otter opens it (or says it is missing)"},
    }
    problems, total, expected = [], 0, 0
    for name, (call, kwargs) in walks.items():
        expected += 8 * len(_walk.walked(inspect.signature(call), kwargs))
        scratch = tmp / "cwd" / name  # relative paths land here, fresh for each callable
        scratch.mkdir(parents=True)
        monkeypatch.chdir(scratch)
        calls, findings = _walk.walk_before_start(f"{G}.{name}", call, kwargs, accepts)
        total += calls
        problems += findings
    assert not problems, "\n".join(problems)
    assert total == expected


def test_a_refused_report_leaves_every_file_as_it_was(monkeypatch, tmp_path):
    """The report writers, given each bad value: refused, and the grades folder byte for byte
    as before (write_feedback used to delete its folder before looking at its grades)."""
    from scalekit.grading import report
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "grades"
    report.write_reports([_grade()], {"01_servers": {"q1": 2.0}}, out)
    writers = [
        ("report.write_scores", report.write_scores,
         {"grades": [_grade()], "questions": ["q1"], "path": out / "01_servers-scores.csv"}),
        ("report.write_feedback", report.write_feedback,
         {"grades": [_grade()], "folder": out / "feedback" / "01_servers"}),
        ("report.write_summary", report.write_summary,
         {"grades": [_grade()], "questions": ["q1"], "possible": {"q1": 2.0},
          "path": out / "01_servers-summary.md"}),
        ("report.write_reports", report.write_reports,
         {"grades": [_grade()], "points": {"01_servers": {"q1": 2.0}}, "folder": out}),
    ]
    problems, checked = [], 0
    for name, call, kwargs in writers:
        n, findings = _walk.walk_writer(f"{G}.{name}", call, kwargs, out)
        checked += n
        problems += findings
    assert not problems, "\n".join(problems)
    assert checked >= 60, checked
