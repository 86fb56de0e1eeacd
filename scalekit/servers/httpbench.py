"""A real benchmark of a real HTTP server on 127.0.0.1, set against the queueing model.

What is modelled: a server with **one worker** that serves one request at a time, like a single
synchronous gunicorn or uWSGI worker. Requests that arrive while it is busy wait in the
kernel's accept backlog (``listen(256)``), which is a FIFO queue: connections are accepted in
the order their handshakes completed. Each request costs CPU time in pure Python (it holds the
GIL), ``work_ms`` milliseconds on this machine, calibrated when the server starts. The load
comes from a **closed loop** like ``ab -c N`` or ``wrk -c N``: N client threads, each sending a
request, waiting for the whole answer and sending the next at once (no think time).

The prediction is exact mean value analysis (:func:`scalekit.theory.mva_closed`) of one FIFO
server with service demand D and a delay Z, both measured from single requests: D is the
server's own processing time (the ``Server-Timing: app;dur=`` header each response carries),
Z the rest of the end-to-end latency (connect, send, parse, the client's own work). With N
users the throughput is at most min(N/(D + Z), 1/D): beyond N* = (D + Z)/D the server is
saturated, throughput stays at 1/D and every extra user only adds D to everyone's latency.

Units: ``work_ms`` in milliseconds (it is what the header reports); every other time in
seconds, throughput in requests per second. The server runs in a separate process, binds a
free port, exits by itself after ``max_lifetime_s`` or when its parent goes away, and is
stopped by the :class:`BenchServer` context manager. This needs a real Python kernel: it
starts a process and opens sockets (JupyterLite cannot).
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import math
import os
import queue
import re
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalekit import _check, theory

__all__ = [
    "BenchServer",
    "LoadRun",
    "SingleRequest",
    "BenchStep",
    "BenchmarkResult",
    "run_load",
    "measure_single",
    "benchmark",
    "MAX_RUN_S",
]

HOST = "127.0.0.1"  # loopback only, always
BACKLOG = 256  # the accept queue: the FIFO queue in front of the single worker
MAX_WORK_MS = 1000.0  # more than a second of CPU per request is not a web request
MAX_USERS = 128  # well inside the backlog, so no connection is ever refused for lack of room
#: Longest benchmark accepted, in seconds (sum of its steps): a notebook cell must end.
MAX_RUN_S = 120.0
_HEADER = re.compile(r"\b(app|total|prev);dur=([0-9.]+)")

# --------------------------------------------------------------------------- the server (child)


def _spin(iterations: int) -> int:
    """CPU-bound work in pure Python: integer arithmetic that holds the GIL throughout."""
    x = 0
    for i in range(iterations):
        x = (x * 31 + i) & 0xFFFF_FFFF
    return x


def _calibrate(iterations: int = 30_000, repeats: int = 9) -> float:
    """Loop iterations per millisecond on this machine (median of ``repeats`` timings)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _spin(iterations)
        times.append(time.perf_counter() - t0)
    return iterations / (float(np.median(times)) * 1e3)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: each waits in the backlog

    def do_GET(self):  # noqa: N802 (the name http.server dispatches to)
        started = time.perf_counter()
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        try:
            work_ms = float(query.get("work_ms", [self.server.work_ms])[0])
            if not 0.0 <= work_ms <= MAX_WORK_MS:
                raise ValueError(work_ms)
        except ValueError:
            return self.send_error(400, f"work_ms must be a number in [0, {MAX_WORK_MS:g}]")
        _spin(round(work_ms * self.server.iterations_per_ms))
        done = time.perf_counter()
        app_ms, total_ms = (done - started) * 1e3, (done - self.server.accepted_at) * 1e3
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.send_header("Server-Timing", f"app;dur={app_ms:.3f}, total;dur={total_ms:.3f}, prev;dur={self.server.prev_ms:.3f}")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - no line per request on stderr
        pass


class _SingleWorker(http.server.HTTPServer):
    """http.server without threads: accept one connection, serve it, accept the next."""

    request_queue_size = BACKLOG

    def server_bind(self):  # HTTPServer would resolve the host name (a DNS lookup): skip it
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        self.accepted_at = time.perf_counter()
        super().process_request(request, client_address)

    prev_ms = 0.0
    def shutdown_request(self, request):
        super().shutdown_request(request)
        self.prev_ms = (time.perf_counter() - self.accepted_at) * 1e3

    def handle_error(self, request, client_address):  # a client that hung up early
        print(f"error serving {client_address}: {sys.exc_info()[1]!r}", file=sys.stderr)


def serve(work_ms: float, max_lifetime_s: float, watch_stdin: bool = True) -> None:
    """Run the server in this process until ``max_lifetime_s`` or EOF on stdin."""
    server = _SingleWorker((HOST, 0), _Handler)
    server.work_ms, server.iterations_per_ms = work_ms, _calibrate()

    def stop():
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch():
        sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
        stop()

    threading.Timer(max_lifetime_s, stop).start()
    hard_stop = threading.Timer(max_lifetime_s + 5.0, os._exit, args=(3,))
    hard_stop.daemon = True  # if a handler never returns, leave anyway
    hard_stop.start()
    if watch_stdin:
        threading.Thread(target=watch, daemon=True).start()
    print(f"listening on {server.server_port} iterations_per_ms={server.iterations_per_ms:.3f}",
          flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
        os._exit(0)  # the lifetime timer thread need not be waited for


# --------------------------------------------------------------------------- the server (parent)


def _terminate(proc: subprocess.Popen, timeout_s: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


class BenchServer:
    """A single-worker HTTP server in its own process: ``with BenchServer(work_ms=2.0) as s:``.

    ``work_ms`` (ms, > 0, <= 1000) is the CPU time each request costs; ``max_lifetime_s``
    (s) is how long the process may live at most; ``startup_timeout_s`` (s) how long
    :meth:`start` waits for it to listen. ``url``, ``port`` and ``pid`` describe the running
    server; ``returncode`` is set once it has exited. Stopping twice is harmless; a stopped
    server can be started again (on a new port).
    """

    def __init__(self, work_ms: float = 2.0, *, max_lifetime_s: float = 300.0,
                 startup_timeout_s: float = 10.0):
        self.work_ms = _check.number("work_ms", work_ms, low=0.0, low_open=True, high=MAX_WORK_MS)
        self.max_lifetime_s = _check.number("max_lifetime_s", max_lifetime_s, low=0.0,
                                            low_open=True, high=3600.0)
        self.startup_timeout_s = _check.number("startup_timeout_s", startup_timeout_s,
                                               low=0.0, low_open=True, high=120.0)
        self._proc: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None
        self.port: int | None = None
        self.iterations_per_ms = math.nan

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started; use `with BenchServer() as s:`")
        return f"http://{HOST}:{self.port}/"

    def start(self) -> BenchServer:
        if self.running:
            raise RuntimeError(f"the server is already running on port {self.port}")
        root = str(Path(__file__).resolve().parents[2])  # so the child imports this scalekit
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        cmd = [sys.executable, "-m", "scalekit.servers.httpbench", "serve",
               "--work-ms", repr(self.work_ms), "--max-lifetime-s", repr(self.max_lifetime_s)]
        self._proc = proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=tempfile.TemporaryFile(), env=env)
        self._finalizer = weakref.finalize(self, _terminate, proc)  # also runs at exit
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=self.startup_timeout_s)
        except queue.Empty:
            line = b""
        found = re.match(rb"listening on (\d+) iterations_per_ms=([0-9.]+)", line)
        if not found:
            self.stop()
            raise RuntimeError(
                f"the HTTP server did not start within {self.startup_timeout_s:g} s "
                f"(exit code {proc.returncode}); its stderr said: {self._stderr_text()!r}")
        self.port, self.iterations_per_ms = int(found[1]), float(found[2])
        return self

    def stop(self) -> None:
        """Terminate the process (then kill it if it lingers); harmless when already stopped."""
        if self._proc is not None:
            self._stderr = self._stderr_text()
            self._finalizer()

    def _stderr_text(self) -> str:
        err = self._proc.stderr
        if err is None or err.closed:
            return getattr(self, "_stderr", "")
        err.seek(0)
        return err.read().decode(errors="replace")[-2000:]

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else (
            "not started" if self._proc is None else f"stopped (exit code {self.returncode})")
        return f"BenchServer(work_ms={self.work_ms:g}, {state})"


def _require_running(server) -> BenchServer:
    if not isinstance(server, BenchServer):
        raise TypeError(f"server must be a BenchServer, got {type(server).__name__}")
    if not server.running:
        raise RuntimeError(f"server is not running ({server!r}); "
                           "use it inside `with BenchServer(...) as server:`")
    return server


# --------------------------------------------------------------------------- the load generator


@dataclass(frozen=True, eq=False)
class LoadRun:
    """What a closed loop of ``users`` clients measured over a window of ``duration_s``.

    Arrays hold one entry per request that completed inside the window: end-to-end latency as
    the client saw it, the server's ``app`` time (handler work) and its ``total`` time (from
    accept to the answer, parsing included), all in seconds. Requests that finished after
    the window closed are counted in ``late`` only; failed ones in ``errors`` (by kind in
    ``error_kinds``).
    """

    users: int
    duration_s: float
    completed: int
    late: int
    errors: int
    error_kinds: dict = field(default_factory=dict)
    latencies_s: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    service_s: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    server_busy_s: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    @property
    def throughput_rps(self) -> float:
        return self.completed / self.duration_s if self.duration_s > 0 else math.nan


def _client(port, path, timeout_s, window, ticket, records, errors) -> None:
    """One user: send, wait for the whole answer, send the next, until the deadline."""
    window["go"].wait()
    while time.perf_counter() < window["deadline"] and ticket():
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise http.client.HTTPException(f"HTTP status {resp.status}")
            timing = dict(_HEADER.findall(resp.getheader("Server-Timing", "")))
        except (OSError, http.client.HTTPException) as exc:
            errors.append(type(exc).__name__)
            time.sleep(0.01)  # a dead server must not turn the loop into a busy spin
            continue
        finally:
            conn.close()
        app, total = (float(timing.get(k, "nan")) / 1e3 for k in ("app", "prev"))
        records.append((t0, time.perf_counter(), app, total))


def _tickets(max_requests: int | None) -> Callable[[], bool]:
    if max_requests is None:
        return lambda: True
    lock, issued = threading.Lock(), [0]

    def ticket() -> bool:
        with lock:
            issued[0] += 1
            return issued[0] <= max_requests

    return ticket


def run_load(server: BenchServer, users: int, duration_s: float, *,
             max_requests: int | None = None, work_ms: float | None = None,
             timeout_s: float = 5.0) -> LoadRun:
    """Drive ``server`` with a closed loop of ``users`` threads for ``duration_s`` seconds.

    Zero think time: each thread opens a connection, sends GET, reads the whole response and
    starts again. Stops at the deadline or after ``max_requests`` requests in all; a request
    still in flight is waited for at most ``timeout_s`` (s, the socket timeout), so the call
    returns within ``duration_s + timeout_s`` plus thread start-up. ``work_ms`` (ms) overrides
    the server's work per request.
    """
    server = _require_running(server)
    users = _check.integer("users", users, low=1, high=MAX_USERS)
    duration_s = _check.number("duration_s", duration_s, low=0.0, low_open=True, high=MAX_RUN_S)
    timeout_s = _check.number("timeout_s", timeout_s, low=0.0, low_open=True, high=60.0)
    if max_requests is not None:
        max_requests = _check.integer("max_requests", max_requests, low=1, high=1_000_000)
    path = "/"
    if work_ms is not None:
        path += f"?work_ms={_check.number('work_ms', work_ms, low=0.0, high=MAX_WORK_MS)!r}"
    window = {"go": threading.Event(), "deadline": math.inf}
    ticket, records, errors = _tickets(max_requests), [], []
    threads = [threading.Thread(target=_client, daemon=True,
                                args=(server.port, path, timeout_s, window, ticket, records,
                                      errors)) for _ in range(users)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    window["deadline"] = deadline = start + duration_s
    window["go"].set()
    for t in threads:
        t.join(max(0.0, deadline + timeout_s + 1.0 - time.perf_counter()))
    rec = np.array(records, dtype=float).reshape(-1, 4)
    end = deadline
    if max_requests is not None and len(records) + len(errors) >= max_requests and rec.size:
        end = min(deadline, float(rec[:, 1].max()))  # stopped early: the window is shorter
    inside = rec[rec[:, 1] <= end]
    kinds = {k: errors.count(k) for k in sorted(set(errors))}
    return LoadRun(users=users, duration_s=end - start, completed=len(inside),
                   late=len(rec) - len(inside), errors=len(errors), error_kinds=kinds,
                   latencies_s=inside[:, 1] - inside[:, 0], service_s=inside[:, 2],
                   server_busy_s=inside[:, 3])


def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scalekit.servers.httpbench")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("serve", help="run a single-worker HTTP server on 127.0.0.1")
    cmd.add_argument("--work-ms", type=float, default=2.0, help="CPU work per request, ms")
    cmd.add_argument("--max-lifetime-s", type=float, default=300.0, help="exit after this, s")
    cmd.add_argument("--no-stdin-watch", action="store_true", help="do not exit on stdin EOF")
    args = parser.parse_args(argv)
    serve(_check.number("work_ms", args.work_ms, low=0.0, low_open=True, high=MAX_WORK_MS),
          _check.positive("max_lifetime_s", args.max_lifetime_s),
          watch_stdin=not args.no_stdin_watch)


if __name__ == "__main__":
    _main()
