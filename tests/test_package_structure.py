"""No module reaches into another's private names (issue 14 §3).

A module may import a private *module* of the kit (``scalekit._check``, a package's own
``_kernels``), which is how shared helpers are kept out of the public API; but a name with
a leading underscore inside another module is that module's own business: used from
elsewhere, it becomes a public operation or moves to where it is used.
"""

from __future__ import annotations

import ast
from pathlib import Path

import scalekit

ROOT = Path(scalekit.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_module(dotted: str) -> bool:
    path = ROOT.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _reaches(path: Path, here: str | None = None) -> list[str]:
    here = here or _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    shown = path.relative_to(ROOT.parent) if path.is_relative_to(ROOT) else path.name
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases: dict[str, str] = {}  # local name → the scalekit module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            if not base.startswith("scalekit"):
                continue
            for a in node.names:
                target = f"{base}.{a.name}"
                if _is_module(target):
                    aliases[a.asname or a.name] = target
                elif _private(a.name) and base != here:
                    found.append(f"{shown}: from {base} import {a.name}")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("scalekit"):
                    aliases[a.asname or a.name.split(".")[0]] = a.asname and a.name or "scalekit"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in aliases
                and not _is_module(f"{aliases[node.value.id]}.{node.attr}")):
            found.append(f"{shown}: {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    found = [hit for path in sorted(ROOT.rglob("*.py")) for hit in _reaches(path)]
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_the_scan_sees_a_private_name_borrowed_across_modules(tmp_path):
    """The scan itself: a module borrowing another's ``_name`` is reported, both ways, and
    a private module (``scalekit._check``) is not."""
    probe = tmp_path / "probe.py"
    probe.write_text("from scalekit.partitioning import data\n"
                     "from scalekit.hashing import _secret\n"
                     "from scalekit import _check\n"
                     "x = data._hidden\n")
    hits = _reaches(probe, "probe.module")
    assert len(hits) == 2 and any("_secret" in h for h in hits) and any("_hidden" in h
                                                                         for h in hits)
