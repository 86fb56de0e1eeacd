"""The autograder zip is right wherever it runs: in a fresh virtual environment that never saw
this repository, installing only what the zip's own environment.yml lists (what Gradescope's
and ``otter grade``'s setup.sh install, with conda replaced by pip), a solved notebook gets
100% from ``otter run`` — otter's documented non-containerised grader (otter-grader docs,
"Non-containerized grading: otter run").

Before the zip carried the kit, such an environment could not import scalekit and a perfect
notebook scored 5.33/10 without an error (issue 21).
"""

import ast
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from scalekit import grading

import _grading as g

pytestmark = pytest.mark.slow

SOURCE = "file:///autograder/source"  # where the zip's requirements expect it unpacked


def _clean_env() -> dict:
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "JPY_SESSION_NAME"}
    # PIP_COMPILE=0 is pip's --no-compile for every install here, the install cell's too
    # (byte-compiling thousands of files is much of an install's time, and changes nothing)
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "PIP_COMPILE": "0"}


def _imports_of_masters() -> set[str]:
    """Every top-level module the masters import (what a grading env must provide)."""
    names = set()
    for master in grading.masters(g.ROOT / "notebooks"):
        for cell in nbformat.read(master, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join(line for line in cell.source.splitlines()
                             if not line.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return names


def _install_cell(kit: str) -> str:
    """The masters' install cell (notebook 01's first code cell) with KIT filled in, as the
    student build fills it."""
    nb = nbformat.read(g.ROOT / "notebooks" / "01_servers.ipynb", as_version=4)
    cell = next(c.source for c in nb.cells if c.cell_type == "code")
    assert "\nKIT = None\n" in cell
    return cell.replace("\nKIT = None\n", f"\nKIT = {kit!r}\n")


def _run(python: Path, *args: str, cwd: Path, timeout: float = 900) -> str:
    done = subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd,
                          env=_clean_env(), timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def test_the_install_cell_and_the_autograder_zip_work_in_a_fresh_env(tmp_path):
    built = g.build_tiny(tmp_path / "tiny", run_tests=False)
    source = tmp_path / "autograder" / "source"
    with zipfile.ZipFile(built.autograder) as zf:
        zf.extractall(source)
    env_yml = yaml.safe_load((source / "environment.yml").read_text())
    [otter_line, kit_line] = next(d["pip"] for d in env_yml["dependencies"]
                                  if isinstance(d, dict))
    assert otter_line.startswith("otter-grader[grading]==")
    wheel = re.fullmatch(rf"scalekit-course\[notebooks\] @ {SOURCE}/(files/scalekit_course-"
                         r"[\w.]+-py3-none-any\.whl)", kit_line)
    assert wheel, kit_line

    venv, work = tmp_path / "venv", tmp_path / "elsewhere"  # far from the repository
    work.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", otter_line, cwd=work)
    missing = _run(python, "-c", "import importlib.util as u; print(u.find_spec('scalekit'))",
                   cwd=work)
    assert missing.strip() == "None", "the fresh environment must start without the kit"
    # the notebooks' first cell installs the kit from KIT: here the zip's own wheel, which
    # makes it install exactly the zip's requirement line
    kit = (source / wheel.group(1)).as_uri()
    _run(python, "-m", "IPython", "--quick", "-c", _install_cell(kit), cwd=work)
    where = _run(python, "-c", "import scalekit; print(scalekit.__file__)", cwd=work).strip()
    assert Path(where).is_relative_to(venv), f"scalekit imported from {where}, not the venv"
    _run(python, "-c", f"import {', '.join(sorted(_imports_of_masters()))}", cwd=work,
         timeout=300)

    solved = work / "submitted-under-another-name.ipynb"
    solved.write_bytes(built.solutions.read_bytes())
    _run(python, "-m", "otter", "run", "-a", str(built.autograder), "-o", str(work),
         str(solved), cwd=work, timeout=600)
    # results.json is Gradescope's results format (otter writes what Gradescope reads)
    tests = json.loads((work / "results.json").read_text())["tests"]
    scores = {t["name"]: (t["score"], t["max_score"]) for t in tests if "score" in t}
    assert scores == {"q1": (2.0, 2.0), "q2": (3.0, 3.0)}
