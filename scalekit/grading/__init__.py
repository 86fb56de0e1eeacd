"""For instructors: build the student versions, hand them out, and grade what comes back.

The notebooks in ``notebooks/`` are otter-assign *masters* (solutions and hidden tests
included). From them:

* :func:`build_student` (``make student``) writes the **student distribution** ``student/``
  — the student notebooks, the package, and what Binder, a hub and ``make lab`` need, with no
  solution and no hidden test in it — and the **instructor's side** ``instructor/``: the
  autograder zips (each carrying a wheel of the kit) and otter's solution notebooks;
* :func:`publish` (``make publish``) commits ``student/`` as a git branch to push to the
  public repository that Binder and nbgitpuller links open (:mod:`scalekit.grading.links`,
  ``make links``);
* :func:`grade_folder` (``make grade``) grades a folder of submissions, each in its own
  limited process (:mod:`scalekit.grading.sandbox`), and :func:`write_reports` writes the
  score tables, the gradebook, the feedback files and the instructor's summary.

Students meet one piece only: :func:`~scalekit.grading.checks.notebook_grader`, the otter
grader of their notebook whatever it is called. Importing this package imports neither otter
nor anything heavy. ``python -m scalekit.grading --help`` lists the commands.
"""

from .build import DISTRIBUTION_NAME, Built, build_student, masters
from .collect import Submission, collect
from .distribution import publish
from .grade import grade_folder, possible_points
from .links import Remote, binder_link, nbgitpuller_link, parse_remote
from .report import write_reports
from .results import Case, Grade, Question
from .sandbox import Limits

__all__ = ["DISTRIBUTION_NAME", "Built", "build_student", "masters", "Submission", "collect",
           "publish", "grade_folder", "possible_points", "Remote", "binder_link",
           "nbgitpuller_link", "parse_remote", "write_reports", "Case", "Grade", "Question",
           "Limits", "main"]


def main(argv: list[str] | None = None) -> int:
    """The command line (``python -m scalekit.grading``)."""
    from .cli import main as run

    return run(argv)
