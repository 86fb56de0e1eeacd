"""Collect a class's submissions from a folder, whatever shape the download has.

Every file under the folder counts, at any depth (LMS downloads nest: one folder per
student, zips inside), except hidden ones (``.ipynb_checkpoints``, ``.DS_Store``,
``__MACOSX``). A submission is a notebook (``.ipynb``) or the zip that the export cell wrote
(``grader.export()``: the notebook and its check log). Anything else gets a row that says so.

**Which assignment** comes from inside the notebook — otter's ``assignment_name`` in its
metadata — so a renamed file grades as what it is. A notebook without that metadata falls back
to the assignment its file name contains.

**Which student** (the first column of every table) comes from the path, and is stated in the
README: the first folder below the submissions folder when the file sits in one
(``alice/01_servers.ipynb`` → ``alice``), otherwise the file name without the assignment's
name, otter's export timestamp and Jupyter's ``-Copy1`` (``alice-01_servers.ipynb`` →
``alice``).

**Duplicates**: when a student has several submissions of one assignment, the newest is graded
(by otter's export timestamp in the name, else by modification time, else by path) and the
others get a ``duplicate`` row naming it.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from .. import _check
from . import _args

__all__ = ["Submission", "collect", "MAX_NOTEBOOK_BYTES"]

MAX_NOTEBOOK_BYTES = 64 * 2**20  # a submitted notebook above 64 MiB is refused before reading
_EXPORT_STAMP = re.compile(r"_?(\d{4}_\d{2}_\d{2}T\d{2}_\d{2}_\d{2}(?:_\d+)?)")
_COPY = re.compile(r"-Copy\d+$", re.IGNORECASE)


@dataclass(frozen=True)
class Submission:
    """One file in the submissions folder, read just enough to know what it is."""

    path: Path
    relpath: str
    student: str
    assignment: str | None
    problem: str = ""
    status: str = ""  # the row's status when ``problem`` is set (unreadable, duplicate …)


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in rel.parts)


def _read_notebook(path: Path) -> dict:
    """The notebook JSON inside ``path`` (a .ipynb or an export zip); ValueError if none."""
    if path.suffix.lower() == ".ipynb":
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"the notebook is over {MAX_NOTEBOOK_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    elif path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                inner = [i for i in zf.infolist() if i.filename.lower().endswith(".ipynb")
                         and not _hidden(Path(i.filename))]
                if len(inner) != 1:
                    found = ", ".join(i.filename for i in inner) or "none"
                    raise ValueError(f"a submission zip must hold exactly one notebook, this "
                                     f"one holds {len(inner)} ({found})")
                if inner[0].file_size > MAX_NOTEBOOK_BYTES:
                    raise ValueError(f"the notebook in the zip is over "
                                     f"{MAX_NOTEBOOK_BYTES // 2**20} MiB")
                raw = zf.read(inner[0])
        except zipfile.BadZipFile as exc:
            raise ValueError(f"not a readable zip ({exc})") from None
    else:
        raise ValueError(f"not a notebook ({path.suffix or 'no extension'}): submit the "
                         f".ipynb, or the zip that the notebook's export cell writes")
    try:
        nb = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a readable notebook: broken JSON ({exc})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a readable notebook: no list of cells")
    return nb


def _assignment(nb: dict, name: str, known: list[str]) -> str | None:
    meta = nb.get("metadata")
    otter = meta.get("otter") if isinstance(meta, dict) else None
    named = otter.get("assignment_name") if isinstance(otter, dict) else None
    if isinstance(named, str) and named:
        return named
    in_name = [a for a in known if a in name]
    return in_name[0] if len(in_name) == 1 else None


def _student(rel: Path, assignment: str | None) -> str:
    if len(rel.parts) > 1:
        return rel.parts[0]
    stem = _COPY.sub("", _EXPORT_STAMP.sub("", rel.stem))
    if assignment:
        stem = stem.replace(assignment, "")
    stem = stem.strip(" _-.")
    return stem or rel.stem


def _recency(sub: Submission) -> tuple:
    stamp = _EXPORT_STAMP.search(sub.path.name)
    return (stamp.group(1) if stamp else "", sub.path.stat().st_mtime_ns, sub.relpath)


def collect(folder: Path, known: list[str], only: str | None = None) -> list[Submission]:
    """Every submission under ``folder``, sorted by path (see the module docstring).

    ``known`` are the assignments that have an autograder; ``only`` restricts grading to one
    of them (the others then get a ``wrong-assignment`` row).
    """
    folder = _args.path("folder", folder)
    if not folder.is_dir():
        raise _args.NotAFolder(f"folder (the submissions) must be a folder, got {folder}")
    known = _args.names("known", known)
    _check.optional(_check.choice, "only", only, known, meaning="every known assignment")
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() or _hidden(rel) or not path.is_file():
            continue
        try:
            nb = _read_notebook(path)
        except (OSError, ValueError) as exc:
            named = only or _assignment({}, path.name, known)
            found.append(Submission(path, rel.as_posix(), _student(rel, named), named,
                                    str(exc), "unreadable"))
            continue
        assignment = _assignment(nb, path.name, known)
        sub = Submission(path, rel.as_posix(), _student(rel, assignment), assignment)
        if assignment is None:
            sub = replace(sub, assignment=only, status="wrong-assignment", problem=(
                "cannot tell the assignment: the notebook has no otter metadata and its "
                f"name contains none of {', '.join(known)}"))
        elif only is not None and assignment != only:
            sub = replace(sub, status="wrong-assignment", problem=(
                f"wrong assignment: this is {assignment}, not {only}"))
        elif assignment not in known:
            sub = replace(sub, status="wrong-assignment", problem=(
                f"no autograder for assignment {assignment!r} (built: {', '.join(known)})"))
        found.append(sub)
    if not found:
        raise _args.NothingThere(f"folder {str(folder)!r} holds no submissions (no submissions)")
    return _mark_duplicates(found)


def _mark_duplicates(subs: list[Submission]) -> list[Submission]:
    groups: dict[tuple[str, str], list[Submission]] = {}
    for sub in subs:
        if not sub.problem:
            groups.setdefault((sub.student, sub.assignment), []).append(sub)
    superseded = {}
    for group in groups.values():
        newest = max(group, key=_recency)
        for sub in group:
            if sub is not newest:
                superseded[sub.relpath] = newest.relpath
    return [replace(s, status="duplicate", problem=(
                f"duplicate: {s.student} also submitted {superseded[s.relpath]} (newer), "
                f"which is the one graded")) if s.relpath in superseded else s for s in subs]
