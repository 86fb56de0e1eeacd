"""Argument checks of the grading side: paths, folders and lists of names or grades.

Each names the parameter and what it accepts (issue 18), like :mod:`scalekit._check`, which
these build on for everything that is not a path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import _check


class NotAFolder(NotADirectoryError, ValueError):
    """A folder argument that is not an existing directory: a ValueError (a bad argument)
    and, as before, a NotADirectoryError."""


class NothingThere(FileNotFoundError, ValueError):
    """A folder argument that holds none of what it should (no masters, no submissions, no
    autograders): a ValueError naming the parameter and, as before, a FileNotFoundError."""


class UnknownName(LookupError, ValueError):
    """A name argument that names nothing there: a ValueError and, as before, a
    LookupError."""


def path(name: str, value) -> Path:
    """A file-system path (str or os.PathLike, not empty) as a Path."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{name} must be a path (str or pathlib.Path), got "
                        f"{type(value).__name__}")
    if not os.fspath(value):
        raise ValueError(f"{name} must be a path, got an empty string")
    return Path(value)


def new_folder(name: str, value) -> Path:
    """A folder to write into: a path that is not an existing file."""
    p = path(name, value)
    if p.exists() and not p.is_dir():
        raise NotAFolder(f"{name} must be a folder to write into, but {str(value)!r} is a "
                         f"file")
    return p


def folder(name: str, value) -> Path:
    """An existing directory."""
    p = path(name, value)
    if not p.is_dir():
        raise NotAFolder(f"{name} must be an existing folder, got {str(value)!r}")
    return p


def file(name: str, value) -> Path:
    """An existing file."""
    p = path(name, value)
    if not p.is_file():
        raise ValueError(f"{name} must be an existing file, got {str(value)!r}")
    return p


def names(name: str, value, *, min_len: int = 0) -> list[str]:
    """A list (or tuple) of non-empty strings."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of names (str), got {type(value).__name__}")
    if len(value) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} name(s), got none")
    for k, item in enumerate(value):
        _check.text(f"{name}[{k}]", item)
    return list(value)


def items(name: str, value, cls: type, *, min_len: int = 0) -> list:
    """A list (or tuple) of ``cls`` instances."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of {cls.__name__}, got {type(value).__name__}")
    if len(value) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} {cls.__name__}(s), got none")
    for k, item in enumerate(value):
        _check.instance(f"{name}[{k}]", item, cls)
    return list(value)


def points(name: str, value) -> dict[str, float]:
    """A mapping question → points possible (finite numbers >= 0)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict question → points, got {type(value).__name__}")
    for q, p in value.items():
        _check.text(f"{name} key", q)
        _check.non_negative(f"{name}[{q!r}]", p)
    return dict(value)
