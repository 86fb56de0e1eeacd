"""Set-up files agree with each other: what Binder installs is what pip installs, under a
distribution name that is not someone else's on PyPI."""

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


def test_the_distribution_name_is_the_kits_own_and_the_import_name_stays():
    # "scalekit" on PyPI is an unrelated project (checked: `pip download scalekit` fetches
    # scalekit-1.0.0, `pip download scalekit-course` finds no distribution)
    from scalekit import grading

    assert _pyproject()["name"] == grading.DISTRIBUTION_NAME == "scalekit-course"
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    assert wheel["targets"]["wheel"]["packages"] == ["scalekit"]


def test_every_notebook_installs_the_kit_by_its_distribution_name_where_missing():
    import nbformat

    for master in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        first = next(c for c in nbformat.read(master, as_version=4).cells
                     if c.cell_type == "code")
        assert 'find_spec("scalekit") is None' in first.source, master.name
        assert '%pip install --quiet "scalekit-course[notebooks] @ {KIT}"' in first.source
        assert "\nKIT = None\n" in first.source, "the student build fills KIT in"


def _student_requirements() -> list[str]:
    """What a student's environment needs: the core and [lab], with the kit's own extras that
    [lab] names ([notebooks], [postgres]) expanded."""
    project = _pyproject()
    extras = project["optional-dependencies"]
    wanted, todo = list(project["dependencies"]), ["lab"]
    while todo:
        for d in extras[todo.pop()]:
            if _name(d) == project["name"]:
                todo += re.search(r"\[(.*)\]", d)[1].split(",")
            else:
                wanted.append(d)
    return wanted


def test_environment_yml_installs_what_pyproject_names_for_students():
    wanted = {_name(d) for d in _student_requirements()}
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
    text = (ROOT / "environment.yml").read_text()
    for spec in (d.split(";")[0].replace(" ", "") for d in _student_requirements()):
        assert spec in text.replace(" ", ""), f"{spec} missing from environment.yml"


def test_binder_installs_the_package_here_and_on_the_student_branch():
    from scalekit.grading import distribution

    for post in (ROOT / "postBuild", Path(distribution.__file__).with_name("student_kit")
                 / "postBuild"):
        text = post.read_text()
        assert "pip install --no-deps ." in text
        # the numba kernels compiled into the image, after the install
        assert text.index("compiled.warm_up()") > text.index("pip install --no-deps .")
        assert post.stat().st_mode & 0o111, f"{post} must be executable"


def test_make_has_the_student_and_instructor_sides():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    assert {"lab", "lab-instructor", "student", "publish", "links", "grade"} <= targets
    lab = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--notebook-dir=student/notebooks" in lab, "make lab opens the student versions"
    instructor = makefile.split("\nlab-instructor:", 1)[1].split("\n\n", 1)[0]
    assert "--notebook-dir=notebooks" in instructor


def test_every_extra_is_installed_by_make():
    makefile = (ROOT / "Makefile").read_text()
    assert "'.[all]'" in makefile
    extras = _pyproject()["optional-dependencies"]
    assert set(extras) >= {"lab", "grade", "dev", "all"}
    assert set(extras) >= {"notebooks"}
    assert all(f"{e}" in extras["all"][0] for e in ("lab", "grade", "dev"))


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block
