"""Set-up files agree with each other: what Binder installs is what pip installs."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_models_need_only_numpy():
    assert [_name(d) for d in _pyproject()["dependencies"]] == ["numpy"]


def test_environment_yml_installs_what_pyproject_names_for_students():
    project = _pyproject()
    extras = project["optional-dependencies"]
    wanted = {_name(d) for d in project["dependencies"] + extras["lab"] + extras["grade"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip |= {_name(d) for d in dep.get("pip", [])}
        else:
            conda.add(_name(dep))
    listed = (conda | pip) - {"python", "pip"}
    assert listed == wanted, f"environment.yml {sorted(listed)} vs pyproject {sorted(wanted)}"


def test_environment_yml_pins_the_same_lower_bounds():
    project = _pyproject()
    extras = project["optional-dependencies"]
    bounds = {_name(d): d.replace(" ", "") for d in
              project["dependencies"] + extras["lab"] + extras["grade"]}
    text = (ROOT / "environment.yml").read_text()
    for spec in bounds.values():
        assert spec in text.replace(" ", ""), f"{spec} missing from environment.yml"


def test_binder_installs_the_package_and_builds_student_notebooks():
    post = (ROOT / "postBuild").read_text()
    assert "pip install" in post and "scalekit.grading assign" in post
    assert (ROOT / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_every_extra_is_installed_by_make():
    makefile = (ROOT / "Makefile").read_text()
    assert "'.[all]'" in makefile
    extras = _pyproject()["optional-dependencies"]
    assert set(extras) >= {"lab", "grade", "dev", "all"}
    assert all(f"{e}" in extras["all"][0] for e in ("lab", "grade", "dev"))


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block
