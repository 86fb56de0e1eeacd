"""The student side: otter's grader for a notebook, whatever its file is called.

``otter assign`` writes ``grader = otter.Notebook("01_servers.ipynb")`` into each student
notebook, and otter reads the public tests from that file's metadata. A renamed copy
(``01_servers-Copy1.ipynb``, or a download saved under another name) then fails in that cell
(FileNotFoundError, or it silently reads the original's file) and every later
``grader.check`` raises NameError. The student build replaces the line with
``grader = notebook_grader("01_servers")``, which finds the notebook that is running:

1. the file Jupyter says the kernel belongs to (``JPY_SESSION_NAME``, which jupyter_server
   sets for every notebook's kernel: JupyterLab, Notebook 7, JupyterHub, Binder), or VS
   Code's ``__vsc_ipynb_file__``, if it exists and is this assignment;
2. otherwise the notebooks of this assignment (otter's ``assignment_name`` in their metadata)
   in the working folder: the only one, or the most recently saved;
3. otherwise none, and otter falls back to its own search.

Every copy of an assignment carries the same public tests, so checks work from any of them;
``grader.export()`` zips the notebook found. Standard library only, until otter is called.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .. import _check
from . import _args

__all__ = ["notebook_assignment", "notebook_path", "notebook_grader"]

_MAX_NOTEBOOK_BYTES = 64 * 2**20  # a notebook larger than this is not read for its metadata


def notebook_assignment(path: Path | str) -> str | None:
    """The otter assignment a notebook belongs to (its metadata), or None if unreadable."""
    _args.path("path", path)
    try:
        path = Path(path)
        if path.stat().st_size > _MAX_NOTEBOOK_BYTES:
            return None
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    name = meta.get("otter", {}).get("assignment_name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def _session_file() -> Path | None:
    named = os.environ.get("JPY_SESSION_NAME", "")
    if not named:
        try:
            from IPython import get_ipython
        except ImportError:
            return None
        shell = get_ipython()
        named = str(shell.user_ns.get("__vsc_ipynb_file__", "")) if shell else ""
    return Path(named) if named.endswith(".ipynb") else None


def notebook_path(assignment: str, folder: Path | str | None = None) -> Path | None:
    """The running notebook of ``assignment`` (see the module docstring for the order)."""
    if not isinstance(assignment, str) or not assignment:
        raise ValueError(f"assignment must be an assignment name such as '01_servers', "
                         f"got {assignment!r}")
    if folder is not None:
        _args.folder("folder", folder)
    session = _session_file()
    if session is not None and session.is_file() and notebook_assignment(session) in (
            assignment, None):
        return session
    folder = Path(folder) if folder is not None else Path.cwd()
    mine = [p for p in sorted(folder.glob("*.ipynb")) if notebook_assignment(p) == assignment]
    if not mine:
        return None
    return max(mine, key=lambda p: (p.stat().st_mtime, p.name))


def notebook_grader(assignment: str, path: Path | str | None = None):
    """otter's ``Notebook`` grader for this assignment's running notebook (or for ``path``)."""
    _check.text("assignment", assignment)
    if path is not None:
        _args.path("path", path)
    import otter  # the students' environments have otter; the kit's models do not need it

    found = Path(path) if path is not None else notebook_path(assignment)
    if found is not None:
        try:  # relative where it can be: the export zip stores the notebook under this path
            found = found.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            pass
    return otter.Notebook(str(found) if found is not None else None)
