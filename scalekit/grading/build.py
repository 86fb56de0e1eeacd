"""Build the student versions and the autograders from the master notebooks (``make student``).

Each master in ``notebooks/`` is an otter-assign master. For each, :func:`build_student`

1. copies the master into ``build/otter/NN_topic/`` with the kit-wide assignment settings
   merged into its ``ASSIGNMENT CONFIG`` (:data:`KIT_CONFIG`: an export cell with the
   submission instructions, no PDF, and the autograder's requirements);
2. runs ``otter assign`` on the copy (with ``run_tests``, otter first runs every test against
   the solutions and refuses to build if one fails);
3. writes the student notebook into the student distribution (``student/notebooks/``) after
   three changes: otter's init cell becomes ``notebook_grader("NN_topic")`` (checks work in a
   renamed copy, see :mod:`scalekit.grading.checks`), the install cell learns where to install
   the kit from, and the launch marker becomes the notebook's Binder / JupyterHub links — both
   read from the repository's git remote;
4. puts the autograder zip in ``instructor/autograder/NN_topic.zip`` and otter's solution
   notebook in ``instructor/solutions/``.

The autograder zip carries the kit itself: a wheel of this repository (``files/<wheel>`` in
the zip) that the zip's ``environment.yml`` installs (``scalekit-course[notebooks] @
file:///autograder/source/files/<wheel>``, the path where Gradescope and ``otter grade`` unpack
the zip), next to the pinned otter. Grading then works in an environment that never saw this
repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import _check
from . import _args
from .links import Remote, binder_link, launch_links, nbgitpuller_link

__all__ = ["KIT_CONFIG", "Built", "masters", "build_wheel", "build_student", "kit_config",
           "prepare_student_notebook", "DISTRIBUTION_NAME"]

DISTRIBUTION_NAME = "scalekit-course"  # on PyPI "scalekit" is another project; import name stays
AUTOGRADER_SOURCE = "/autograder/source"  # where Gradescope and `otter grade` unpack the zip
LAUNCH_MARKER = "<!-- launch -->"
_KIT_LINE = re.compile(r"^KIT = .*$", re.MULTILINE)

SUBMIT_INSTRUCTIONS = (
    "The cell below writes a zip next to this notebook, named after it and the time "
    "(`{assignment}_<date>.zip`): your notebook and the log of your checks. In JupyterLab it "
    "appears in the file browser on the left: right-click it, choose *Download*, and upload "
    "it where your course collects work (Gradescope, the LMS or the hub's submission folder); "
    "the `.ipynb` itself is accepted too. A renamed file is fine: grading reads the assignment "
    "from inside the notebook, and runs it from top to bottom in a fresh kernel, so check "
    "that *Kernel → Restart and run all* runs without errors first.")

KIT_CONFIG: dict = {
    "init_cell": True,
    "check_all_cell": False,
    "solutions_pdf": False,
    "export_cell": {"pdf": False, "run_tests": False},
    "overwrite_requirements": True,
}


@dataclass(frozen=True)
class Built:
    """One master's outputs: the student notebook, the autograder zip, the solutions."""

    assignment: str
    student: Path
    autograder: Path
    solutions: Path


def masters(notebooks: Path) -> list[Path]:
    """The master notebooks (NN_topic.ipynb) in ``notebooks``."""
    notebooks = _args.folder("notebooks", notebooks)
    found = sorted(p for p in Path(notebooks).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise _args.NothingThere(f"notebooks holds no master notebooks (NN_topic.ipynb): "
                                 f"{notebooks}")
    return found


def build_wheel(kit_root: Path, dest: Path) -> Path:
    """A wheel of the kit at ``kit_root`` (its pyproject.toml) written into ``dest``."""
    kit_root = _args.folder("kit_root", kit_root)
    if not (kit_root / "pyproject.toml").is_file():
        raise ValueError(f"kit_root must hold a pyproject.toml, got {str(kit_root)!r}")
    dest = _args.path("dest", dest)
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(dest), str(kit_root)],
        capture_output=True, text=True, timeout=300)
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        raise RuntimeError(f"could not build a wheel of {kit_root} (exit {done.returncode}):\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wheels[0]


def kit_config(master_config: dict, wheel_name: str) -> dict:
    """The master's assignment settings with the kit-wide ones (and the wheel) merged in."""
    if not isinstance(master_config, dict):
        raise TypeError(f"master_config must be a dict (the master's ASSIGNMENT CONFIG), got "
                        f"{type(master_config).__name__}")
    _check.text("wheel_name", wheel_name)
    if not wheel_name.endswith(".whl") or "/" in wheel_name:
        raise ValueError(f"wheel_name must be a wheel's file name (…​.whl), got {wheel_name!r}")
    import otter

    config = {**master_config, **KIT_CONFIG}
    assignment = str(config.get("name") or "")
    config["export_cell"] = {**KIT_CONFIG["export_cell"],
                             "instructions": SUBMIT_INSTRUCTIONS.format(assignment=assignment)}
    config["requirements"] = [
        f"otter-grader[grading]=={otter.__version__}",
        f"{DISTRIBUTION_NAME}[notebooks] @ file://{AUTOGRADER_SOURCE}/files/{wheel_name}",
    ]
    config["autograder_files"] = [wheel_name]
    config.setdefault("python_version", f"{sys.version_info.major}.{sys.version_info.minor}")
    return config


def _merge_config(master: Path, dest: Path, wheel_name: str) -> str:
    """Write ``master`` to ``dest`` with :func:`kit_config` merged; return the assignment."""
    import nbformat
    import yaml

    nb = nbformat.read(master, as_version=4)
    cell = next((c for c in nb.cells if c.cell_type == "raw"
                 and c.source.lstrip().startswith("# ASSIGNMENT CONFIG")), None)
    if cell is None:
        raise ValueError(f"{master.name} has no '# ASSIGNMENT CONFIG' raw cell")
    own = yaml.safe_load(cell.source.split("\n", 1)[1]) or {}
    if not isinstance(own, dict):
        raise ValueError(f"{master.name}: the ASSIGNMENT CONFIG is not a YAML mapping")
    own.setdefault("name", master.stem)
    merged = kit_config(own, wheel_name)
    cell.source = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(merged, sort_keys=False)
    nbformat.write(nb, dest)
    return str(merged["name"])


def prepare_student_notebook(nb, assignment: str, *, kit_url: str | None = None,
                             launch: str = "") -> None:
    """Change otter's student notebook ``nb`` in place (see the module docstring, step 3)."""
    if not isinstance(getattr(nb, "cells", None), list):
        raise TypeError(f"nb must be a notebook (nbformat.NotebookNode), got "
                        f"{type(nb).__name__}")
    _check.text("assignment", assignment)
    _check.optional(_check.text, "kit_url", kit_url, meaning="no install line to fill in")
    _check.text("launch", launch, min_len=0)
    cells = nb.cells
    init = next((k for k, c in enumerate(cells) if c.cell_type == "code"
                 and c.source.startswith("# Initialize Otter")), None)
    if init is not None:
        cell = cells.pop(init)
        cell.source = ("# Initialize Otter (finds this notebook whatever its file is called)\n"
                       "from scalekit.grading.checks import notebook_grader\n"
                       f"grader = notebook_grader({assignment!r})")
        install = next((k for k, c in enumerate(cells) if c.cell_type == "code"
                        and _KIT_LINE.search(c.source)), None)
        cells.insert(init if install is None else install + 1, cell)
        if install is not None and kit_url:
            cells[install].source = _KIT_LINE.sub(f"KIT = {kit_url!r}", cells[install].source)
    for c in cells:
        if c.cell_type == "markdown" and LAUNCH_MARKER in c.source:
            c.source = c.source.replace(LAUNCH_MARKER, launch)


def _launch_line(remote: Remote | None, branch: str, relpath: str, hub: str) -> str:
    if remote is None:
        return ""
    parts = []
    if remote.host:
        parts.append(f"[![Binder](https://mybinder.org/badge_logo.svg)]"
                     f"({binder_link(remote, branch, relpath)})")
    if hub:
        parts.append(f"[open on the course's JupyterHub]"
                     f"({nbgitpuller_link(hub, remote, branch, relpath)})")
    return " · ".join(parts)


def _otter_assign(master_copy: Path, result: Path, run_tests: bool) -> None:
    shutil.rmtree(result, ignore_errors=True)
    cmd = [sys.executable, "-m", "otter", "assign", str(master_copy), str(result)]
    if not run_tests:
        cmd.append("--no-run-tests")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=master_copy.parent)
    if done.returncode != 0:
        raise RuntimeError(f"otter assign failed for {master_copy.name} (exit "
                           f"{done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def build_student(
    notebooks: Path | None = None,
    out: Path | None = None,
    work: Path | None = None,
    *,
    instructor: Path | None = None,
    kit_root: Path | None = None,
    run_tests: bool = True,
    only: str | None = None,
    remote: Remote | None = None,
    branch: str = "student",
    hub: str = "",
    log: Callable[[str], None] = print,
) -> list[Built]:
    """Run ``otter assign`` on every master (or ``only`` one); return what was built.

    ``out`` is the student distribution (default ``student/``), ``instructor`` gets the
    autograder zips and solutions (default ``instructor/``), ``work`` holds otter's full
    output (default ``build/otter/``). ``remote``/``branch`` (the published student branch,
    see :mod:`scalekit.grading.distribution`) and ``hub`` fill in the launch links and the
    install cell; without a remote the notebooks get neither.
    """
    from . import distribution

    for name, value in (("notebooks", notebooks), ("out", out), ("work", work),
                        ("instructor", instructor), ("kit_root", kit_root)):
        _check.optional(_args.path, name, value, meaning="the default under the current folder")
    if kit_root is not None and not (_args.folder("kit_root", kit_root)
                                     / "pyproject.toml").is_file():
        raise ValueError(f"kit_root must be the kit's folder (with its pyproject.toml), got "
                         f"{str(kit_root)!r}")
    _check.boolean("run_tests", run_tests)
    _check.optional(_check.text, "only", only, meaning="every master")
    _check.optional(_check.instance, "remote", remote, Remote, meaning="no launch links")
    _check.text("branch", branch)
    _check.text("hub", hub, min_len=0)
    _check.function("log", log)
    root = Path.cwd()
    kit_root = Path(kit_root or root).resolve()
    notebooks = Path(notebooks or root / "notebooks").resolve()
    out = Path(out or root / "student").resolve()
    instructor = Path(instructor or root / "instructor").resolve()
    work = Path(work or root / "build" / "otter").resolve()
    chosen = [m for m in masters(notebooks) if only in (None, m.stem)]
    if not chosen:
        known = ", ".join(m.stem for m in masters(notebooks))
        raise _args.NothingThere(f"only={only!r}: no master notebook of that name in "
                                 f"{notebooks} (there are: {known})")
    for folder in (out / "notebooks", instructor / "autograder", instructor / "solutions"):
        if only is None:
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(kit_root, work / f"wheel-{'all' if only is None else only}")
    kit_url = f"git+{remote.clone_url}@{branch}" if remote is not None else None
    built = []
    for k, master in enumerate(chosen, 1):
        log(f"[{k}/{len(chosen)}] otter assign {master.name}")
        src = work / master.stem / "src"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        shutil.copy2(wheel, src / wheel.name)
        assignment = _merge_config(master, src / master.name, wheel.name)
        result = work / master.stem / "out"
        _otter_assign(src / master.name, result, run_tests)
        built.append(_collect(master, result, assignment, out, instructor, remote, branch, hub,
                              kit_url))
    distribution.write_kit_files(kit_root, out)
    handed_out = [f"notebooks/{p.name}" for p in sorted((out / "notebooks").glob("*.ipynb"))]
    distribution.write_readme(out, launch_links(remote, branch, handed_out, hub=hub)
                              if remote is not None else [])
    return built


def _collect(master, result, assignment, out, instructor, remote, branch, hub, kit_url):
    import nbformat

    student_nb = result / "student" / master.name
    zips = sorted((result / "autograder").glob("*.zip"))
    if not student_nb.exists() or not zips:
        raise RuntimeError(f"otter assign wrote no student notebook/autograder for {master}")
    nb = nbformat.read(student_nb, as_version=4)
    relpath = f"notebooks/{master.name}"
    prepare_student_notebook(nb, assignment, kit_url=kit_url,
                             launch=_launch_line(remote, branch, relpath, hub))
    nbformat.write(nb, out / "notebooks" / master.name)
    zip_path = instructor / "autograder" / f"{master.stem}.zip"
    shutil.copy2(zips[-1], zip_path)
    solutions = instructor / "solutions" / master.name
    solved = nbformat.read(result / "autograder" / master.name, as_version=4)
    prepare_student_notebook(solved, assignment)  # its grader too finds it under any name
    nbformat.write(solved, solutions)
    return Built(assignment, out / "notebooks" / master.name, zip_path, solutions)
