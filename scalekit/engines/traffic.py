"""Real web backends behind a real balancer, and the traffic sent to them: the two ends of
every HAProxy experiment.

* :class:`Backends` — N backend processes (:mod:`scalekit.engines.backend`: one worker, a
  FIFO accept queue, a known speed, sessions in memory) on free loopback ports; one can be
  crashed (SIGKILL) and brought back on its port;
* :func:`replay` — an open-loop client: request *i* is sent at its instant ``at_s[i]``
  whether or not earlier ones were answered (as independent users do, and as the model's
  Poisson arrivals are), each on a connection of its own, optionally from a source address
  and with a cookie jar per user. Every answer is recorded: when it was sent and answered,
  its status and the headers the backend and the balancer set.

The client is one :mod:`asyncio` loop in a thread of its own (a notebook kernel already runs
a loop in its main thread); an interrupt (KeyboardInterrupt) cancels every request in
flight before it propagates. Times are seconds on :func:`time.monotonic`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import http.cookies
import math
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalekit import _check
from scalekit.engines.core import ManagedProcess, free_port, log_tail, make_workdir, remove_workdir
from scalekit.engines.errors import EngineUnavailable, ServerStartError

__all__ = ["Backends", "Replay", "replay", "wait_listening", "MAX_REPLAY_REQUESTS"]

HOST = "127.0.0.1"
_SCRIPT = Path(__file__).with_name("backend.py")
#: Most requests one :func:`replay` sends.
MAX_REPLAY_REQUESTS = 20_000
_MAX_HEAD = 64 * 1024


def wait_listening(port: int, timeout_s: float, process: ManagedProcess | None = None,
                   name: str = "server", host: str = HOST) -> float:
    """Wait until ``port`` accepts a TCP connection; return how long that took (s).
    :class:`ServerStartError` (with the log's tail) if ``process`` exits first or
    ``timeout_s`` passes."""
    _check.integer("port", port, low=1, high=65535)
    _check.number("timeout_s", timeout_s, low=0.0, low_open=True, high=3600.0)
    _check.optional(_check.instance, "process", process, ManagedProcess,
                    meaning="no process to watch")
    _check.text("name", name)
    _check.text("host", host)
    start = time.monotonic()
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return time.monotonic() - start
        except OSError:
            pass
        if process is not None and not process.alive:
            raise ServerStartError(name, f"it exited with status {process.returncode}",
                                   log_tail(process.log_path))
        if time.monotonic() - start > timeout_s:
            tail = log_tail(process.log_path) if process is not None else "(no log)"
            raise ServerStartError(name, f"port {port} did not accept connections within "
                                         f"{timeout_s:g} s", tail)
        time.sleep(0.005)


class Backends:
    """``len(speeds)`` backends named ``s1``, ``s2`` … (``names``) at relative ``speeds``
    (1.0: a request of work w takes w seconds), each its own process on a free port of
    127.0.0.1 (``ports``); ``sessions`` keeps sessions in each one's memory. A context
    manager: every process is stopped on exit, on error and on interrupt."""

    def __init__(self, speeds: Sequence[float], *, sessions: bool = False,
                 startup_timeout_s: float = 15.0, max_lifetime_s: float = 600.0) -> None:
        if isinstance(speeds, str | bytes) or not isinstance(speeds, Sequence):
            raise TypeError(f"speeds must be a sequence of relative speeds, got {speeds!r}")
        if not 1 <= len(speeds) <= 16:
            raise ValueError(f"speeds must hold 1 to 16 backends, got {len(speeds)}")
        self.speeds = tuple(_check.number("speeds", s, low=0.01, high=100.0) for s in speeds)
        self.sessions = _check.boolean("sessions", sessions)
        self.startup_timeout_s = _check.positive("startup_timeout_s", startup_timeout_s)
        self.max_lifetime_s = _check.positive("max_lifetime_s", max_lifetime_s)
        self.names = tuple(f"s{i + 1}" for i in range(len(self.speeds)))
        self.ports = tuple(free_port() for _ in self.speeds)
        self._procs: list[ManagedProcess | None] = [None] * len(self.speeds)
        self._dir: Path | None = None
        self.startup_s = math.nan

    def _spawn(self, i: int) -> ManagedProcess:
        argv = [sys.executable, "-I", "-S", str(_SCRIPT), "--port", str(self.ports[i]),
                "--name", self.names[i], "--speed", repr(self.speeds[i]),
                "--max-lifetime-s", repr(self.max_lifetime_s)]
        if self.sessions:
            argv.append("--sessions")
        return ManagedProcess(argv, self._dir / f"{self.names[i]}.log", name=self.names[i],
                              as_service_user=False, stop_timeout_s=2.0, cwd=self._dir)

    def start(self) -> Backends:
        """Start every backend and wait until all listen."""
        if self._dir is not None:
            raise RuntimeError("these backends are already running")
        self._dir = make_workdir("backends-")
        begin = time.monotonic()
        try:
            for i in range(len(self.speeds)):
                self._procs[i] = self._spawn(i)
            for i in range(len(self.speeds)):
                wait_listening(self.ports[i], self.startup_timeout_s, self._procs[i],
                               self.names[i])
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - begin
        return self

    def crash(self, i: int) -> float:
        """SIGKILL backend ``i`` (0-based): its queue is reset, its port refuses from now
        on. Returns the instant (time.monotonic) of the kill."""
        p = self._procs[_check.integer("i", i, low=0, high=len(self.speeds) - 1)]
        at = time.monotonic()
        if p is not None:
            p.kill()
        return at

    def restart(self, i: int) -> float:
        """Start backend ``i`` again, empty, on its port; returns the instant it listens."""
        i = _check.integer("i", i, low=0, high=len(self.speeds) - 1)
        if self._dir is None:
            raise RuntimeError("start the backends first")
        old = self._procs[i]
        if old is not None and old.alive:
            raise RuntimeError(f"backend {self.names[i]} is still running")
        self._procs[i] = self._spawn(i)
        wait_listening(self.ports[i], self.startup_timeout_s, self._procs[i], self.names[i])
        return time.monotonic()

    def stop(self) -> None:
        """Stop every backend (harmless twice)."""
        for p in self._procs:
            if p is not None:
                p.stop(timeout_s=2.0)
        self._procs = [None] * len(self.speeds)
        if self._dir is not None:
            remove_workdir(self._dir)
            self._dir = None

    def __enter__(self) -> Backends:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        listed = ", ".join(f"{n}@{p} speed {s:g}" for n, p, s in
                           zip(self.names, self.ports, self.speeds, strict=True))
        return f"Backends({listed})"


# --------------------------------------------------------------------------- the client


@dataclass(frozen=True, eq=False)
class Replay:
    """Every request's fate, in the order given. ``sent_at``/``answered_at`` (s from the
    replay's start; answered NaN when it failed), ``status`` (0: no HTTP answer — refused,
    reset, timed out), ``backend`` (the ``X-Backend`` that answered, "" if none),
    ``session`` (``X-Session``: new/found/lost, "" if none), ``error`` (why it failed, ""
    if it did not); ``cookies`` — each user's cookie jar at the end; ``started_at`` — the
    instant (time.monotonic) the schedule's zero stands for; ``actions`` — what each action
    returned, in the order given."""

    sent_at: np.ndarray
    answered_at: np.ndarray
    status: np.ndarray
    backend: tuple[str, ...]
    session: tuple[str, ...]
    error: tuple[str, ...]
    cookies: tuple[dict, ...] = field(repr=False)
    started_at: float = math.nan
    actions: tuple = ()

    @property
    def latency_s(self) -> np.ndarray:
        """Answered − sent (s); NaN for failed requests."""
        return self.answered_at - self.sent_at

    @property
    def ok(self) -> np.ndarray:
        """True where the answer was a 200."""
        return self.status == 200


def _parse(raw: bytes) -> tuple[int, dict[str, list[str]]]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = head[0].split(" ")
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return 0, {}
    fields: dict[str, list[str]] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return int(parts[1]), fields


class _Client:
    def __init__(self, port, at_s, paths, users, sources, timeout_s, actions=()):
        self.port, self.at, self.paths = port, at_s, paths
        self.actions = list(actions)
        self.done: list = [None] * len(self.actions)
        self.users, self.sources, self.timeout_s = users, sources, timeout_s
        n = len(at_s)
        self.sent = np.full(n, math.nan)
        self.answered = np.full(n, math.nan)
        self.status = np.zeros(n, dtype=np.int64)
        self.backend = [""] * n
        self.session = [""] * n
        self.error = [""] * n
        self.jars: list[dict] = [{} for _ in range(int(users.max()) + 1 if n else 0)]
        self.t0 = math.nan

    def _request(self, i: int) -> bytes:
        jar = self.jars[self.users[i]]
        lines = [f"GET {self.paths[i]} HTTP/1.1", f"Host: {HOST}:{self.port}",
                 "Connection: close"]
        if jar:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in jar.items()))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def one(self, i: int) -> None:
        source = None if self.sources is None else (self.sources[self.users[i]], 0)
        self.sent[i] = time.monotonic() - self.t0
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, self.port, local_addr=source), self.timeout_s)
            writer.write(self._request(i))
            raw = await asyncio.wait_for(reader.read(_MAX_HEAD), self.timeout_s)
            while raw and b"\r\n\r\n" not in raw:
                more = await asyncio.wait_for(reader.read(_MAX_HEAD), self.timeout_s)
                if not more:
                    break
                raw += more
        except (TimeoutError, OSError) as exc:
            self.error[i] = type(exc).__name__ if not str(exc) else str(exc)[:120]
            return
        finally:
            if writer is not None:
                writer.close()
        status, fields = _parse(raw)
        self.answered[i] = time.monotonic() - self.t0
        self.status[i] = status
        if status == 0:
            self.error[i] = "no HTTP answer (the connection was closed)"
            return
        self.backend[i] = (fields.get("x-backend") or [""])[0]
        self.session[i] = (fields.get("x-session") or [""])[0]
        jar = self.jars[self.users[i]]
        for line in fields.get("set-cookie", []):
            cookie = http.cookies.SimpleCookie()
            with contextlib.suppress(http.cookies.CookieError):
                cookie.load(line)
            jar.update({k: m.value for k, m in cookie.items()})

    async def act(self, j: int, start: float) -> None:
        at, fn = self.actions[j]
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, start + at - loop.time()))
        self.done[j] = await loop.run_in_executor(None, fn)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.02
        self.t0 = time.monotonic() + 0.02
        tasks = [asyncio.ensure_future(self.act(j, start)) for j in range(len(self.actions))]
        try:
            for i in range(len(self.at)):
                delay = start + self.at[i] - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.ensure_future(self.one(i)))
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _check_sources(sources, users: np.ndarray) -> tuple[str, ...] | None:
    if sources is None:
        return None
    if isinstance(sources, str | bytes) or not isinstance(sources, Sequence) or not all(
            isinstance(s, str) for s in sources):
        raise TypeError(f"sources must be a list of IPv4 loopback addresses (str), got "
                        f"{sources!r:.60}")
    for address in sources:
        parts = address.split(".")
        if len(parts) != 4 or parts[0] != "127" or not all(
                p.isdigit() and int(p) < 256 for p in parts):
            raise ValueError(f"sources must be IPv4 loopback addresses (127.x.y.z), got "
                             f"{address!r}")
    sources = tuple(sources)
    if users.size and len(sources) <= users.max():
        raise ValueError(f"sources must give an address to each of the {users.max() + 1} "
                         f"users, got {len(sources)}")
    for address in set(sources):
        with socket.socket() as s:
            try:
                s.bind((address, 0))
            except OSError as exc:
                if exc.errno in (errno.EADDRNOTAVAIL, errno.EINVAL):
                    raise EngineUnavailable(
                        f"this system does not route the loopback address {address} (only "
                        f"Linux routes all of 127.0.0.0/8 to loopback), so clients cannot "
                        f"come from distinct addresses") from None
                raise
    return sources


def replay(port: int, at_s, paths: Sequence[str], *, users=None, sources=None,
           actions: Sequence[tuple[float, Callable[[], object]]] = (),
           timeout_s: float = 15.0) -> Replay:
    """Send request *i* — ``GET paths[i]`` to 127.0.0.1:``port`` — at ``at_s[i]`` seconds
    from now (sorted, ≥ 0), each on a new connection, without waiting for earlier answers.

    ``users[i]`` (ints from 0) makes request *i* one user's: it carries that user's cookies
    (every ``Set-Cookie`` the user was sent so far) and, with ``sources`` (one IPv4 loopback
    address per user, e.g. ``127.1.0.7``), leaves from that user's address. ``actions`` —
    (instant, callable) pairs: each callable runs (in a worker thread) at its instant of the
    same schedule, e.g. a backend's crash. ``timeout_s`` bounds each request (s)."""
    at = _check.array("at_s", at_s, low=0.0, sorted_=True)
    if at.size > MAX_REPLAY_REQUESTS:
        raise ValueError(f"at most {MAX_REPLAY_REQUESTS:,} requests per replay, got {at.size:,}")
    if isinstance(paths, str) or not isinstance(paths, Sequence):
        raise TypeError(f"paths must be a list of URL paths, got {type(paths).__name__}")
    if at.size == 0:
        raise ValueError("at_s must hold at least one instant (one per request), got none")
    if isinstance(actions, str | Mapping) or not isinstance(actions, Sequence):
        raise TypeError(f"actions must be a list of (instant, callable) pairs, got "
                        f"{type(actions).__name__}")
    if len(paths) != at.size:
        raise ValueError(f"paths must hold one path per request ({at.size}), got "
                         f"{paths if isinstance(paths, str) else len(paths)!r}")
    who = np.zeros(at.size, dtype=np.int64) if users is None else \
        np.asarray(_check.array("users", users, low=0.0), dtype=np.int64)
    if who.size != at.size:
        raise ValueError(f"users must name one user per request ({at.size}), got {who.size}")
    for pair in actions:
        if not (isinstance(pair, tuple) and len(pair) == 2 and callable(pair[1])):
            raise TypeError(f"actions must be (instant, callable) pairs, got {pair!r}")
        _check.non_negative("action instant", pair[0])
    client = _Client(_check.integer("port", port, low=1, high=65535), at, list(paths), who,
                     _check_sources(sources, who), _check.positive("timeout_s", timeout_s),
                     actions)
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    finished = threading.Event()  # (not Thread.is_alive: an interrupted join can fool it)

    def work() -> None:
        try:
            loop.run_until_complete(client.run())
        except BaseException as exc:  # noqa: BLE001 (handed to the caller's thread)
            failure.append(exc)
        finally:
            finished.set()

    threading.Thread(target=work, name="scalekit-replay", daemon=True).start()
    try:
        while not finished.wait(0.1):
            pass
    except BaseException:  # KeyboardInterrupt: stop every request in flight, then go on
        def cancel_all() -> None:
            for task in asyncio.all_tasks(loop):
                task.cancel()

        with contextlib.suppress(RuntimeError):  # the loop may have just finished
            loop.call_soon_threadsafe(cancel_all)
        finished.wait(timeout_s + 5)
        raise
    finally:
        if finished.is_set():
            loop.close()
    if failure:
        raise failure[0]
    return Replay(sent_at=_ro(client.sent), answered_at=_ro(client.answered),
                  status=_ro(client.status), backend=tuple(client.backend),
                  session=tuple(client.session), error=tuple(client.error),
                  cookies=tuple(client.jars), started_at=client.t0,
                  actions=tuple(client.done))


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a
