"""The child process that grades one submission: ``python -m scalekit.grading.worker``.

:mod:`scalekit.grading.sandbox` starts it in a scratch folder with the job's limits in the
environment; it caps its own memory, grades with otter's own grader
(``otter.api.grade_submission``, what ``otter run`` does, without a container) and writes a
JSON summary: each question's points and each test case's outcome, and the cells that raised.
A hidden test case's message is cut to its error's last line (``AssertionError: …``): the
hidden test's code never leaves this process. Not meant to be run by hand.
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
from pathlib import Path

from .. import _check

_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))"
                         r"(?::\s?(.*))?$")
_MAX_MESSAGE = 4000
# doctest's own frame in a failed example's traceback: noise for a student
_DOCTEST_FRAME = re.compile(r"^ *File \"[^\"]*doctest\.py\", line \d+, in \w+\n *exec\(.*\n",
                            re.MULTILINE)


def hidden_message(message: str) -> str:
    """A failed hidden case's message without its code: the first error's last line."""
    _check.optional(_check.text, "message", message, min_len=0, meaning="no message")
    for line in (message or "").splitlines():
        found = _ERROR_LINE.match(line)
        if found:
            text = found.group(1) + (f": {found.group(2)}" if found.group(2) else "")
            return text[:300]
    if "Expected:" in (message or ""):
        return "the result differs from what the test expects"
    return "failed"


def _question(name, test_file) -> dict:
    cases = []
    for result in test_file.test_case_results:
        case = result.test_case
        message = (result.message or "").replace("✅ ", "").replace("❌ ", "").strip()
        message = _DOCTEST_FRAME.sub("", message)
        if case.hidden and not result.passed:
            message = hidden_message(message)
        elif case.hidden:
            message = "passed"
        cases.append({"hidden": bool(case.hidden), "passed": bool(result.passed),
                      "message": message[:_MAX_MESSAGE],
                      "hint": "" if result.passed else (case.failure_message or "")})
    return {"name": name, "points": float(test_file.score), "possible": float(test_file.possible),
            "cases": cases}


def _cell_errors(notebook) -> list[dict]:
    errors = []
    for cell in getattr(notebook, "cells", None) or []:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                lines = cell.get("source", "").strip().splitlines()
                errors.append({"cell": lines[0][:120] if lines else "",
                               "ename": str(output.get("ename", ""))[:100],
                               "evalue": str(output.get("evalue", ""))[:300]})
    return errors


def summarize(results) -> dict:
    """The JSON-ready summary of otter's GradingResults."""
    if results.catastrophic_error is not None:
        exc = results.catastrophic_error
        return {"status": "grader-error",
                "message": f"otter could not grade: {type(exc).__name__}: {exc}"[:600]}
    names = sorted(results.results, key=lambda q: (len(q), q))
    questions = [_question(q, results.results[q]) for q in names]
    return {"status": "graded", "questions": questions,
            "cell_errors": _cell_errors(results.notebook)}


def _limit_self(memory_bytes: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or memory_bytes < hard:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def main(argv: list[str]) -> int:
    submission, autograder, result_path = argv
    limits = json.loads(os.environ.get("SCALEKIT_GRADING_LIMITS") or "{}")
    if limits.get("worker_memory_bytes"):
        _limit_self(int(limits["worker_memory_bytes"]))
    try:
        from otter.api import grade_submission

        summary = summarize(grade_submission(submission, autograder, quiet=True))
    except MemoryError:
        summary = {"status": "memory", "message": "the grader itself ran out of memory"}
    except Exception as exc:  # noqa: BLE001 — the parent turns any failure into a row
        kind = type(exc).__name__
        summary = ({"status": "crashed", "message": "the notebook's Python kernel died"}
                   if kind == "DeadKernelError" else
                   {"status": "grader-error", "message": f"{kind}: {exc}"[:600]})
    tmp = Path(result_path).with_suffix(".tmp")
    tmp.write_text(json.dumps(summary), encoding="utf-8")
    tmp.replace(result_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
