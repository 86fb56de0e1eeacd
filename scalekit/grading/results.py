"""What grading one submission produced: values, not files (the reports are written from them).

A :class:`Grade` is one row of the score table: who (``student``), which file
(``submission``, relative to the submissions folder), which assignment, the points of each
question, and a ``status`` that says what happened:

=====================  ======================================================================
``graded``             the notebook ran top to bottom and every test ran
``graded-with-errors`` it ran to the end, but some cells raised (``sys.exit()``, a NameError…)
``output-limit``       it printed more than the output limit; the rest was dropped, grading went on
``memory``             a cell ran out of memory (the ``--memory-gib`` limit)
``timeout``            grading stopped at the wall-clock limit (``--timeout-s``)
``crashed``            the notebook's Python died (``os.abort()``, a segfault, ``os._exit``)
``grader-error``       otter could not finish (the notebook deleted the tests, …)
``unreadable``         not a notebook: broken JSON, another kind of file, a zip without one
``wrong-assignment``   a notebook of another assignment (or of none that was built)
``duplicate``          the student has a newer submission of the same assignment; not graded
=====================  ======================================================================

The first three have points for every question; ``memory`` has them when the notebook still
reached the end; the others have none (their question columns stay empty, their total is 0).
``possible`` is the assignment's total on every row, error rows included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import _html

__all__ = ["Case", "Question", "Grade", "STATUSES", "GRADED"]

STATUSES = ("graded", "graded-with-errors", "output-limit", "memory", "timeout", "crashed",
            "grader-error", "unreadable", "wrong-assignment", "duplicate")
GRADED = ("graded", "graded-with-errors", "output-limit", "memory")


@dataclass(frozen=True)
class Case:
    """One test case's outcome. A hidden case's ``message`` is its error's last line only."""

    hidden: bool
    passed: bool
    message: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Question:
    """One question's points and the outcome of each of its test cases."""

    name: str
    points: float
    possible: float
    cases: tuple[Case, ...] = ()

    @property
    def passed(self) -> bool:
        return self.possible > 0 and self.points >= self.possible


@dataclass(frozen=True)
class Grade:
    """One submission's row: see the module docstring for ``status``."""

    student: str
    submission: str
    assignment: str
    status: str
    possible: float
    message: str = ""
    questions: tuple[Question, ...] = field(default=())

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")

    @property
    def total(self) -> float:
        """Points earned (0 where grading stopped)."""
        return float(sum(q.points for q in self.questions))

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.possible if self.possible else 0.0

    @property
    def points(self) -> dict[str, float]:
        return {q.name: q.points for q in self.questions}

    def _repr_html_(self) -> str:
        rows = [(q.name, q.points, q.possible) for q in self.questions]
        note = f"{self.status}: {self.message}" if self.message else self.status
        return _html.rows_table(rows, ["question", "points", "possible"],
                                note=f"{self.student} · {self.assignment} · {self.total:g}/"
                                     f"{self.possible:g} · {note}")
