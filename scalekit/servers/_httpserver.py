"""The child process that :class:`~scalekit.servers.httpbench.BenchServer` starts: the server.

``python -m scalekit.servers._httpserver --work-ms 2 --max-lifetime-s 300`` binds a free port
on 127.0.0.1, prints ``listening on <port> iterations_per_ms=<n>`` on stdout and serves until
it is stopped. Its shape is what the queueing model assumes:

* **one worker**: no threads, no forking; it accepts one connection, serves it, closes it and
  accepts the next, so requests never overlap;
* **the backlog is the FIFO queue**: connections that arrive while the worker is busy wait in
  the kernel's accept queue (``listen(256)``), accepted in the order their handshakes completed;
* **bounded lifetime**: it shuts down after ``max_lifetime_s`` seconds, and exits hard 5 s
  later if a request is stuck — a timer cancelled as soon as serving ends, so a caller that
  runs :func:`serve` in its own process (a test, a notebook kernel) lives on;
* **stdin watch**: it shuts down on EOF on stdin, which is what a parent that closes the pipe,
  or dies, leaves behind — no orphan server outlives its notebook.

Each request costs ``work_ms`` milliseconds of pure-Python CPU work (calibrated at start; it
holds the GIL) and reports the handler's time in a ``Server-Timing: app;dur=`` header (ms).
``GET /stats`` returns the server's own count: work requests served and ``busy_s``, their
summed accept-to-close time (s).
"""

from __future__ import annotations

import argparse
import http.server
import json
import math
import os
import socketserver
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence

import numpy as np

from scalekit import _check

HOST = "127.0.0.1"  # loopback only, always
BACKLOG = 256  # the accept queue: the FIFO queue in front of the single worker
MAX_WORK_MS = 1000.0  # more than a second of CPU per request is not a web request


def _spin(iterations: int) -> int:
    """CPU-bound work in pure Python: integer arithmetic that holds the GIL throughout."""
    x = 0
    for i in range(iterations):
        x = (x * 31 + i) & 0xFFFF_FFFF
    return x


def _calibrate(iterations: int = 40_000, repeats: int = 5) -> float:
    """Loop iterations per CPU millisecond (median of ``repeats``; CPU time, so a busy
    machine that preempts the calibration does not skew it)."""
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()
        _spin(iterations)
        times.append(time.thread_time() - t0)
    return iterations / (max(float(np.median(times)), 1e-6) * 1e3)


class _Handler(http.server.BaseHTTPRequestHandler):
    """``GET /?work_ms=`` does the work; ``GET /stats`` reports the server's busy time."""

    protocol_version = "HTTP/1.0"  # one request per connection: each waits in the backlog
    timeout = 10.0  # s: a client that connects and says nothing cannot hold the worker forever

    def do_GET(self):  # noqa: N802 (the name http.server dispatches to)
        started = time.perf_counter()
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/stats":
            stats = {"requests": self.server.requests, "busy_s": self.server.busy_s}
            return self._reply(json.dumps(stats).encode())
        try:
            work_ms = float(urllib.parse.parse_qs(url.query).get("work_ms", [math.nan])[0])
        except ValueError:
            work_ms = -1.0
        work_ms = self.server.work_ms if math.isnan(work_ms) else work_ms
        if not 0.0 <= work_ms <= MAX_WORK_MS:
            return self.send_error(400, f"work_ms must be a number in [0, {MAX_WORK_MS:g}]")
        _spin(round(work_ms * self.server.iterations_per_ms))
        self.server.counted = True  # a work request: its accept-to-close time counts as busy
        self._reply(b"ok\n", f"app;dur={(time.perf_counter() - started) * 1e3:.3f}")

    def _reply(self, body: bytes, timing: str | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        if timing:
            self.send_header("Server-Timing", timing)  # W3C Server Timing, milliseconds
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - no line per request on stderr
        pass


class _SingleWorker(http.server.HTTPServer):
    """http.server without threads: accept one connection, serve it, accept the next.

    ``busy_s`` sums, over work requests, the time from accept to close: the server's whole
    per-request cost (parsing, handler, writing, closing), which is what the queue sees.
    """

    request_queue_size = BACKLOG
    requests, busy_s, counted, accepted_at = 0, 0.0, False, 0.0

    def server_bind(self):  # HTTPServer would resolve the host name (a DNS lookup): skip it
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        self.accepted_at, self.counted = time.perf_counter(), False
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        super().shutdown_request(request)
        if self.counted:
            self.requests += 1
            self.busy_s += time.perf_counter() - self.accepted_at

    def handle_error(self, request, client_address):  # e.g. a client that hung up early
        print(f"error serving {client_address}: {sys.exc_info()[1]!r}", file=sys.stderr)


def serve(work_ms: float, max_lifetime_s: float, watch_stdin: bool = True) -> None:
    """Run the server in this process until ``max_lifetime_s`` (s) or EOF on stdin; if a
    handler is still stuck 5 s after the lifetime, exit the process (status 3). Returning
    (or an exception, e.g. KeyboardInterrupt) cancels both timers."""
    server = _SingleWorker((HOST, 0), _Handler)
    server.work_ms, server.iterations_per_ms = work_ms, _calibrate()

    def stop():
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch():  # os.read, not sys.stdin: a buffered read would hold a lock at exit
        while os.read(sys.stdin.fileno(), 4096):
            pass  # EOF: the parent closed the pipe, or died
        stop()

    timers = [threading.Timer(max_lifetime_s, stop),
              threading.Timer(max_lifetime_s + 5.0, os._exit, args=(3,))]  # handler stuck
    watcher = [threading.Thread(target=watch)] if watch_stdin else []
    for t in timers + watcher:
        t.daemon = True
        t.start()
    try:
        print(f"listening on {server.server_port} "
              f"iterations_per_ms={server.iterations_per_ms:.3f}", flush=True)
        server.serve_forever(poll_interval=0.05)
    finally:  # serving ended (or was interrupted): the hard exit is for a stuck handler only
        for t in timers:
            t.cancel()
        server.server_close()


def main(argv: Sequence[str] | None = None,
          prog: str = "python -m scalekit.servers._httpserver") -> None:
    parser = argparse.ArgumentParser(prog=prog, description="a single-worker HTTP server")
    parser.add_argument("--work-ms", type=float, default=2.0, help="CPU work per request, ms")
    parser.add_argument("--max-lifetime-s", type=float, default=300.0, help="exit after, s")
    parser.add_argument("--no-stdin-watch", action="store_true", help="ignore EOF on stdin")
    args = parser.parse_args(argv)
    serve(_check.number("work_ms", args.work_ms, low=0.0, low_open=True, high=MAX_WORK_MS),
          _check.positive("max_lifetime_s", args.max_lifetime_s), not args.no_stdin_watch)


if __name__ == "__main__":
    main()
