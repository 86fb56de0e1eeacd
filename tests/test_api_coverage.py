"""Issue 18: every public module of scalekit that defines a public callable is walked by some
API table (tests/_walk.py), so a new module cannot skip its argument checks unnoticed.

The convention a table follows to be found: it is a file ``tests/test_api_<topic>.py`` that
assigns a string literal to the module-level name ``PACKAGE`` (``PACKAGE = "scalekit.sim"``)
— or, for a table that walks several, a tuple or list of string literals to ``PACKAGES``.
A table covers each package it names and every module below it. The tables are read with ``ast``,
not imported, so this test walks nothing itself and takes well under a second.
"""

from __future__ import annotations

import ast
from pathlib import Path

import _walk

TESTS = Path(__file__).resolve().parent

# Public modules still without a table, each with the reason. An entry here is a known gap,
# not a pass: delete it as soon as its table lands (the tables of the sim, balancing,
# sessions, servers, hashing, theory and flow topics are being written alongside this one).
PENDING: dict[str, str] = {  # module → why it has no table
    "scalekit.errors": "exception classes only: nothing there takes an argument to get wrong",
}


def table_packages(folder: Path = TESTS) -> dict[str, str]:
    """{package: table file name} for every table in ``folder`` following the convention."""
    found = {}
    for path in sorted(folder.glob("test_api_*.py")):
        for node in ast.parse(path.read_text()).body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)):
                continue
            name, value = node.targets[0].id, node.value
            if name == "PACKAGE" and isinstance(value, ast.Constant) \
                    and isinstance(value.value, str):
                found[value.value] = path.name
            elif name == "PACKAGES" and isinstance(value, ast.Tuple | ast.List):
                for item in value.elts:
                    if isinstance(item, ast.Constant) and isinstance(item.value, str):
                        found[item.value] = path.name
    return found


def covered(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def modules_with_callables() -> list[str]:
    """The public modules of scalekit that define at least one public function or class."""
    return [m.__name__ for m in _walk.public_modules("scalekit")
            if any(True for _ in _walk.defined_here(m))]


def test_the_convention_finds_the_existing_tables():
    packages = table_packages()
    # tables known to exist, each naming its package the documented way
    assert packages["scalekit.replication"] == "test_api_replication.py"
    assert packages["scalekit.sessions.cookies"] == "test_api_cookies.py"
    assert "test_api_coverage.py" not in packages.values()  # this file walks nothing
    assert covered("scalekit.replication.multi", packages)
    assert not covered("scalekit.replicationx", {"scalekit.replication"})


def test_the_convention_reads_package_and_packages_without_importing(tmp_path):
    (tmp_path / "test_api_one.py").write_text('PACKAGE = "scalekit.theory"\nimport nope\n')
    (tmp_path / "test_api_two.py").write_text('PACKAGES = ("scalekit.flow", "scalekit.hashing")\n')
    (tmp_path / "test_api_three.py").write_text('PACKAGE = f"scalekit.{1}"\n')  # not a literal
    (tmp_path / "test_other.py").write_text('PACKAGE = "scalekit.sim"\n')  # not a table
    assert table_packages(tmp_path) == {"scalekit.theory": "test_api_one.py",
                                        "scalekit.flow": "test_api_two.py",
                                        "scalekit.hashing": "test_api_two.py"}


def test_every_public_module_is_walked_by_a_table():
    packages = table_packages()
    missing = [m for m in modules_with_callables()
               if not covered(m, packages) and m not in PENDING]
    assert not missing, ("public modules no API table walks (add them to a "
                         "tests/test_api_<topic>.py table):\n" + "\n".join(missing))


def test_every_pending_entry_is_a_real_module():
    modules = {m.__name__ for m in _walk.public_modules("scalekit")}
    assert not set(PENDING) - modules, sorted(set(PENDING) - modules)
