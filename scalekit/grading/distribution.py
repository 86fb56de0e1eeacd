"""The student distribution: what students may see, as a folder and as a git branch.

``make student`` writes ``student/``, a repository of its own that holds no solution:

```
student/
  notebooks/NN_topic.ipynb   the student versions (solutions stripped, public tests only)
  scalekit/                  the kit's package, as in this repository
  pyproject.toml             the same project (pip install -e '.[lab]')
  environment.yml, postBuild Binder: the environment, then `pip install --no-deps .`
  Makefile                   `make lab`: a .venv with the kit, JupyterLab on notebooks/
  README.md                  for students: open, check, submit
```

The masters (``notebooks/``), the autograder zips and otter's solution notebooks
(``instructor/``) never go in. :func:`publish` commits that folder as a branch of this
repository (``student`` by default) without touching the working tree; the instructor pushes
that branch to the public repository that Binder and nbgitpuller links point at, and keeps the
repository with the masters private.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .. import _check
from . import _args
from .links import Launch

__all__ = ["write_kit_files", "write_readme", "publish"]

_KIT = Path(__file__).with_name("student_kit")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


def write_kit_files(kit_root: Path, out: Path) -> None:
    """Copy the package and the project files of ``kit_root`` into the distribution ``out``."""
    kit_root, out = _args.folder("kit_root", kit_root), _args.folder("out", out)
    if not (kit_root / "scalekit").is_dir():
        raise ValueError(f"kit_root must be the kit's folder (with scalekit/ in it), got "
                         f"{str(kit_root)!r}")
    shutil.rmtree(out / "scalekit", ignore_errors=True)
    shutil.copytree(kit_root / "scalekit", out / "scalekit", ignore=_IGNORE)
    for name in ("pyproject.toml", "environment.yml"):
        shutil.copy2(kit_root / name, out / name)
    shutil.copy2(_KIT / "Makefile", out / "Makefile")
    shutil.copy2(_KIT / "gitignore", out / ".gitignore")
    shutil.copy2(_KIT / "postBuild", out / "postBuild")
    (out / "postBuild").chmod(0o755)


def write_readme(out: Path, launches: list[Launch]) -> Path:
    """The students' README: how to open, check and submit, with each notebook's links."""
    out = _args.folder("out", out)
    _args.items("launches", launches, Launch)
    rows = "\n".join(
        f"| `{Path(x.notebook).stem}` | {f'[Binder]({x.binder})' if x.binder else '—'} | "
        f"{f'[hub]({x.hub})' if x.hub else '—'} |" for x in launches)
    table = ("| notebook | Binder | the course's JupyterHub |\n| --- | --- | --- |\n" + rows
             if launches else "Your instructor gives you each notebook's link.")
    text = f"""# scalekit — the course notebooks

Six notebooks on how web applications scale, each over small runnable models (the `scalekit`
package in this folder). Open one of them:

{table}

or on your own machine (Python 3.11+ and `make`): `make lab` installs everything into `.venv/`
(about a minute the first time) and opens JupyterLab on `notebooks/`. On Colab or in a bare
Python, each notebook's first code cell installs the kit.

## Exercises

Each exercise ends with a `grader.check("qN")` cell: run it after your answer and it tells you
at once whether the public checks pass. Your instructor's grading also runs hidden checks, so
passing the public ones is necessary, not sufficient. A renamed or copied notebook checks the
same way.

## Submitting

Save, then run the export cell at the end of the notebook: it writes `NN_topic_<date>.zip`
(your notebook and the log of your checks) next to the notebook. Download it (JupyterLab's
file browser: right-click → *Download*) and upload it where your course collects work. The
`.ipynb` alone is accepted too. Grading runs your notebook from top to bottom in a fresh
kernel, so make sure it does that without errors (*Kernel → Restart and run all*).
"""
    path = Path(out) / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def _git(repo: Path, *args: str, env: dict | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd or repo, capture_output=True, text=True,
                          env=env, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed (exit {done.returncode}): "
                           f"{done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def publish(dist: Path, repo: Path, branch: str = "student",
            message: str = "Student distribution (built by make student)") -> tuple[str, bool]:
    """Commit the folder ``dist`` as branch ``branch`` of the git repository ``repo``.

    Uses a temporary index, so neither the working tree nor the current branch changes.
    Returns the branch's commit and whether it is new (False when ``dist`` has not changed
    since the last publication: nothing is committed twice).
    """
    dist = _args.folder("dist", dist).resolve()
    repo = _args.folder("repo", repo).resolve()
    _check.text("branch", branch)
    _check.text("message", message)
    if not (dist / "notebooks").is_dir():
        raise FileNotFoundError(f"{dist} is not a student distribution (no notebooks/ in it): "
                                f"run `make student` first")
    if not branch or any(ch in branch for ch in " ~^:?*[\\") or branch.startswith("-"):
        raise ValueError(f"branch must be a plain git branch name, got {branch!r}")
    git_dir = Path(_git(repo, "rev-parse", "--absolute-git-dir"))
    ref = f"refs/heads/{branch}"
    with tempfile.TemporaryDirectory(prefix="scalekit-publish-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        base = ["--git-dir", str(git_dir), "--work-tree", str(dist)]
        _git(repo, *base, "add", "--all", ".", env=env, cwd=dist)
        tree = _git(repo, *base, "write-tree", env=env, cwd=dist)
        try:
            parent = _git(repo, "rev-parse", "--verify", "--quiet", ref)
        except RuntimeError:
            parent = ""
        if parent and _git(repo, "rev-parse", f"{parent}^{{tree}}") == tree:
            return parent, False
        commit = _git(repo, "commit-tree", tree, *(["-p", parent] if parent else []),
                      "-m", message)
        _git(repo, "update-ref", ref, commit, *([parent] if parent else []))
    return commit, True
