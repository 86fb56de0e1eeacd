"""``python -m scalekit.grading``: the instructor's commands (the Makefile calls these).

``assign``   build the student distribution (``student/``) and the autograders
             (``instructor/autograder/NN_topic.zip``) from the masters — ``make student``
``publish``  commit ``student/`` as the branch that Binder and the hub links open — ``make publish``
``links``    print each student notebook's Binder and nbgitpuller links — ``make links``
``grade``    grade a folder of submissions into ``grades/`` — ``make grade``
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .build import build_student, masters
from .distribution import publish
from .grade import autograders, grade_folder, possible_points
from .links import git_remote, launch_links, parse_remote
from .report import summary_rows, write_reports
from .sandbox import Limits

__all__ = ["main"]


def _remote(spec: str, repo: Path, required: bool):
    """``spec`` is a remote's name (origin) or its URL; None if absent and not required."""
    try:
        url = spec if ("/" in spec or ":" in spec) else git_remote(repo, spec)
    except LookupError:
        if required:
            raise
        print(f"note: no git remote {spec!r}: the student notebooks get no launch links and no "
              f"install source (add one: git remote add {spec} URL, then rebuild)",
              file=sys.stderr)
        return None
    return parse_remote(url)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scalekit.grading", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assign", help="build the student distribution and the autograders")
    a.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    a.add_argument("--out", type=Path, default=Path("student"))
    a.add_argument("--instructor", type=Path, default=Path("instructor"))
    a.add_argument("--only", help="one master, e.g. 01_servers")
    a.add_argument("--no-run-tests", action="store_true",
                   help="skip running the tests against the solutions")
    for q in (a, sub.add_parser("links", help="print the hand-out links of each notebook")):
        q.add_argument("--remote", default="origin",
                       help="the git remote (name or URL) students pull from (default origin)")
        q.add_argument("--branch", default="student",
                       help="the published student branch (default student)")
        q.add_argument("--hub", default=os.environ.get("HUB", ""),
                       help="the JupyterHub's URL, for nbgitpuller links")
    sub.choices["links"].add_argument("--notebooks", type=Path, default=Path("notebooks"))
    pb = sub.add_parser("publish", help="commit the student distribution as a git branch")
    pb.add_argument("--dist", type=Path, default=Path("student"))
    pb.add_argument("--branch", default="student")
    pb.add_argument("--remote", default="origin", help="named in the push command printed")
    g = sub.add_parser("grade", help="grade a folder of submissions into grades/")
    g.add_argument("submissions", type=Path)
    g.add_argument("--notebook", help="grade only this assignment, e.g. 01_servers")
    g.add_argument("--autograders", type=Path, default=Path("instructor/autograder"))
    g.add_argument("--out", type=Path, default=Path("grades"))
    g.add_argument("-j", "--jobs", type=int, default=None,
                   help="submissions graded at once (default: the number of cores)")
    d = Limits()
    g.add_argument("--timeout-s", type=float, default=d.timeout_s,
                   help=f"wall-clock limit on a submission's run, from its first cell "
                        f"(default {d.timeout_s:g} s)")
    g.add_argument("--memory-gib", type=float, default=d.memory_gib,
                   help=f"memory limit of a submission's kernel (default {d.memory_gib:g} GiB)")
    g.add_argument("--output-mib", type=float, default=d.output_mib,
                   help=f"output a submission may print (default {d.output_mib:g} MiB)")
    return p


def _assign(args) -> int:
    remote = _remote(args.remote, Path.cwd(), required=False)
    for built in build_student(args.notebooks, args.out, instructor=args.instructor,
                               only=args.only, run_tests=not args.no_run_tests,
                               remote=remote, branch=args.branch, hub=args.hub):
        print(f"wrote {built.student}  and  {built.autograder}")
    return 0


def _links(args) -> int:
    remote = _remote(args.remote, Path.cwd(), required=True)
    names = [f"notebooks/{m.name}" for m in masters(args.notebooks)]
    print(f"# student branch {args.branch!r} of {remote.clone_url}")
    for launch in launch_links(remote, args.branch, names, hub=args.hub):
        print(f"{Path(launch.notebook).stem}")
        if launch.binder:
            print(f"  Binder: {launch.binder}")
        if launch.hub:
            print(f"  hub:    {launch.hub}")
    if not args.hub:
        print("# (give the hub's URL — HUB=https://hub.example.edu — for nbgitpuller links)")
    return 0


def _publish(args) -> int:
    commit, new = publish(args.dist, Path.cwd(), args.branch)
    state = "committed" if new else "unchanged, still"
    print(f"{args.dist} {state} as branch {args.branch!r} ({commit[:12]}); hand it out with:\n"
          f"  git push {args.remote} {args.branch}")
    return 0


def _grade(args) -> int:
    limits = Limits(args.timeout_s, args.memory_gib, args.output_mib)
    grades = grade_folder(args.submissions, args.autograders, notebook=args.notebook,
                          jobs=args.jobs, limits=limits)
    zips = autograders(args.autograders)
    points = {a: possible_points(zips[a]) for a in {g.assignment for g in grades} if a}
    for table in write_reports(grades, points, args.out):
        print(f"wrote {table}")
    for name in sorted(points):
        mine = [g for g in grades if g.assignment == name]
        rows = summary_rows(mine, list(points[name]))
        shown = ", ".join(f"{q} {p}/{n}" for q, p, n, _ in rows)
        print(f"{name}: full points per question, hardest first: {shown}")
    print(f"wrote {args.out / 'gradebook.csv'} and feedback in {args.out / 'feedback'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run = {"assign": _assign, "links": _links, "publish": _publish, "grade": _grade}
    try:
        return run[args.command](args)
    except (FileNotFoundError, NotADirectoryError, LookupError, RuntimeError,
            ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
