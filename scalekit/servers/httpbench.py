"""A real benchmark of a real HTTP server on 127.0.0.1, set against the queueing model.

What is modelled: a server with **one worker** that serves one request at a time, like a single
synchronous gunicorn or uWSGI worker. Requests that arrive while it is busy wait in the
kernel's accept backlog (``listen(256)``), which is a FIFO queue: connections are accepted in
the order their handshakes completed. Each request costs CPU time in pure Python (it holds the
GIL), ``work_ms`` milliseconds of CPU, calibrated when the server starts. The load comes from
a **closed loop** like ``ab -c N`` (a new connection per request): N client threads, each
sending a request, waiting for the whole answer and sending the next at once (no think time).

The prediction is exact mean value analysis (:func:`scalekit.theory.mva_closed`) of one FIFO
server with service demand D and a delay Z, both measured one request at a time: D is the
server's own time per request from accept to close, which it counts itself; Z is the rest
of the end-to-end latency (the client's work, connecting, sending). The handler's share of D
is in the ``Server-Timing: app;dur=`` header of every response, but D = handler time alone
would leave out parsing, writing and closing — serial work too — and put the ceiling 10–30%
too high at ``work_ms=2`` (measured on a 2-core VM). With N users the throughput is at most
min(N/(D + Z), 1/D): beyond N* = (D + Z)/D the server is saturated, throughput stays at 1/D
and every extra user only adds D to everyone's latency.

Units: ``work_ms`` in milliseconds (it is what the header reports); every other time in
seconds, throughput in requests per second. The server runs in a separate process
(:mod:`scalekit.servers._httpserver`), binds a free port, exits by itself after
``max_lifetime_s`` or when its parent goes away, and is stopped by the :class:`BenchServer`
context manager. This needs a real Python kernel: it starts a process and opens sockets
(JupyterLite cannot).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from scalekit import _check, _html, theory
from scalekit.servers import _httpserver
from scalekit.servers._httpserver import BACKLOG, HOST, MAX_WORK_MS  # noqa: F401 (re-exported)

__all__ = ["BenchServer", "SingleRequest", "BenchStep", "BenchmarkResult", "run_load",
           "measure_single", "benchmark", "ramp_steps", "MAX_RUN_S"]

MAX_USERS = 128  # well inside the backlog, so no connection is ever refused for lack of room
#: Longest benchmark accepted, in seconds (sum of its steps): a notebook cell must end.
MAX_RUN_S = 120.0
_APP_TIMING = re.compile(r"\bapp;dur=([0-9.]+)")

# --------------------------------------------------------------------------- the server


def _terminate(proc: subprocess.Popen, stderr, timeout_s: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)
    for f in (proc.stdin, proc.stdout, stderr):
        f.close()


class BenchServer:
    """A single-worker HTTP server in its own process: ``with BenchServer(work_ms=2.0) as s:``.

    ``work_ms`` (ms, > 0, <= 1000) is the CPU time each request costs; ``max_lifetime_s``
    (s) how long the process may live at most; ``startup_timeout_s`` (s) how long
    :meth:`start` waits for it to listen. ``url``, ``port`` and ``pid`` describe the server;
    ``returncode`` is set once it has exited. Stopping twice, or after the process died, is
    harmless; a stopped server can be started again (on a new port).
    """

    def __init__(self, work_ms: float = 2.0, *, max_lifetime_s: float = 300.0,
                 startup_timeout_s: float = 10.0):
        self.work_ms = _check.number("work_ms", work_ms, low=0.0, low_open=True, high=MAX_WORK_MS)
        self.max_lifetime_s = _check.number("max_lifetime_s", max_lifetime_s, low=0.0,
                                            low_open=True, high=3600.0)
        self.startup_timeout_s = _check.number("startup_timeout_s", startup_timeout_s,
                                               low=0.0, low_open=True, high=120.0)
        self._proc: subprocess.Popen | None = None
        self._stop: weakref.finalize | None = None
        self.port: int | None = None
        self.iterations_per_ms = math.nan

    running = property(lambda self: self._proc is not None and self._proc.poll() is None)
    returncode = property(lambda self: self._proc and self._proc.poll())
    pid = property(lambda self: self._proc and self._proc.pid)

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started; use `with BenchServer() as s:`")
        return f"http://{HOST}:{self.port}/"

    def start(self) -> BenchServer:
        """Start the process and wait until it listens; RuntimeError (with its stderr) if not."""
        if self.running:
            raise RuntimeError(f"the server is already running on port {self.port}")
        root = str(Path(__file__).resolve().parents[2])  # so the child imports this scalekit
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        cmd = [sys.executable, "-m", "scalekit.servers._httpserver",
               "--work-ms", repr(self.work_ms), "--max-lifetime-s", repr(self.max_lifetime_s)]
        err = tempfile.TemporaryFile()  # a file, not a pipe: it can never fill up and block
        try:
            self._proc = proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                                 stdout=subprocess.PIPE, stderr=err, env=env)
        except OSError as exc:
            err.close()
            raise RuntimeError(f"could not start the HTTP server: {exc}") from exc
        self._stop = weakref.finalize(self, _terminate, proc, err)  # also runs at exit
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
        try:
            found = re.match(rb"listening on (\d+) iterations_per_ms=([0-9.]+)",
                             lines.get(timeout=self.startup_timeout_s))
        except queue.Empty:
            found = None
        if not found:
            err.seek(0)
            said = err.read().decode(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"the HTTP server did not start within {self.startup_timeout_s:g}"
                               f" s (exit code {proc.returncode}); its stderr said: {said!r}")
        self.port, self.iterations_per_ms = int(found[1]), float(found[2])
        return self

    def stop(self) -> None:
        """Terminate the process (kill it if it lingers); harmless when already stopped."""
        if self._stop is not None:
            self._stop()

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


# --------------------------------------------------------------------------- measurements


def _scalars(result) -> dict:
    """A result's numbers and names, for tables (arrays and dicts left out)."""
    return {f.name: getattr(result, f.name) for f in fields(result)
            if isinstance(getattr(result, f.name), (int, float, str))}


@dataclass(frozen=True, eq=False)
class BenchStep:
    """What ``users`` closed-loop clients measured in ``duration_s`` seconds, and the model.

    Throughput counts the ``completed`` requests that finished inside the window; ``late``
    ones finished after it (in flight at the deadline), ``errors`` failed (by kind in
    ``error_kinds``). Latency statistics (end to end, as the client saw it) cover every
    request but each user's first, which met the initial burst rather than the steady state.
    ``service_demand_s`` and ``utilisation`` are the server's own count for the run: mean
    time per request from accept to close, and the fraction of time it was busy. ``handler_s``
    holds those requests' ``Server-Timing: app`` times. Predictions (NaN without a
    single-request measurement) are MVA with its D and Z: ``predicted_mean_s`` is end to end,
    R + Z = N/X; ``bound_throughput_rps`` is min(N/(D + Z), 1/D).
    """

    users: int
    throughput_rps: float
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    errors: int
    predicted_throughput_rps: float
    predicted_mean_s: float
    bound_throughput_rps: float
    service_demand_s: float
    utilisation: float
    completed: int
    late: int
    duration_s: float
    error_kinds: dict = field(default_factory=dict)
    latencies_s: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    handler_s: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    def _repr_html_(self) -> str:
        return _html.rows_table([_scalars(self)])


@dataclass(frozen=True, eq=False)
class SingleRequest:
    """One request at a time: the service demand D and the delay Z the model needs.

    ``service_demand_s`` (D) is the server's mean time per request from accept to close;
    ``handler_s`` the median ``Server-Timing: app`` time, the handler's work alone (D minus
    parsing, writing, closing). ``overhead_s`` (Z) = mean end-to-end latency − D: the client's
    work, connecting and sending — a delay that other users' service can overlap.
    """

    requests: int
    service_demand_s: float
    overhead_s: float
    handler_s: float
    mean_s: float
    p50_s: float
    errors: int
    latencies_s: np.ndarray = field(repr=False)

    def _repr_html_(self) -> str:
        return _html.rows_table([_scalars(self)])


def _stats(server: BenchServer, timeout_s: float = 10.0) -> dict:
    """The server's own counters (requests, busy_s) and the instant they were read.

    The request waits behind any work still queued, including requests whose clients gave
    up: a client's timeout does not cancel the server's work.
    """
    conn = http.client.HTTPConnection(HOST, server.port, timeout=timeout_s)
    try:
        conn.request("GET", "/stats")
        out = json.loads(conn.getresponse().read())
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise RuntimeError(f"the server at {server.url} does not answer: {exc!r}") from exc
    finally:
        conn.close()
    return {**out, "at": time.perf_counter()}


def _client(port, path, timeout_s, window, ticket, records, errors) -> None:
    """One user: send, wait for the whole answer, send the next, until the deadline."""
    window["go"].wait()
    first = True
    while time.perf_counter() < window["deadline"] and ticket():
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise http.client.HTTPException(f"HTTP status {resp.status}")
            app = _APP_TIMING.search(resp.getheader("Server-Timing", ""))
        except (OSError, http.client.HTTPException) as exc:
            errors.append(type(exc).__name__)
            time.sleep(0.01)  # a dead server must not turn the loop into a busy spin
            continue
        finally:
            conn.close()
        records.append((first, t0, time.perf_counter(), float(app[1]) / 1e3 if app else math.nan))
        first = False


def _tickets(max_requests: int | None) -> Callable[[], bool]:
    lock, issued = threading.Lock(), [0]

    def ticket() -> bool:
        with lock:
            issued[0] += 1
            return max_requests is None or issued[0] <= max_requests

    return ticket


def run_load(server: BenchServer, users: int, duration_s: float, *,
             single: SingleRequest | None = None, max_requests: int | None = None,
             work_ms: float | None = None, timeout_s: float = 5.0) -> BenchStep:
    """Drive ``server`` with a closed loop of ``users`` threads for ``duration_s`` seconds.

    Zero think time: each thread opens a connection, sends GET, reads the whole response and
    starts again. Stops at the deadline or after ``max_requests`` requests in all; a request
    in flight is waited for at most ``timeout_s`` (s, the socket timeout), so the call returns
    within about ``duration_s + timeout_s``. ``work_ms`` (ms) overrides the server's work per
    request; ``single`` (from :func:`measure_single`) adds the model's predictions.
    """
    users = _check.integer("users", users, low=1, high=MAX_USERS)
    duration_s = _check.number("duration_s", duration_s, low=0.0, low_open=True, high=MAX_RUN_S)
    timeout_s = _check.number("timeout_s", timeout_s, low=0.0, low_open=True, high=60.0)
    if max_requests is not None:
        max_requests = _check.integer("max_requests", max_requests, low=1, high=1_000_000)
    path = "/"
    if work_ms is not None:
        path += f"?work_ms={_check.number('work_ms', work_ms, low=0.0, high=MAX_WORK_MS)!r}"
    if single is not None and not isinstance(single, SingleRequest):
        raise TypeError(f"single must be a SingleRequest or None, got {type(single).__name__}")
    server = _require_running(server)
    window = {"go": threading.Event(), "deadline": math.inf}
    ticket, records, errors = _tickets(max_requests), [], []
    args = (server.port, path, timeout_s, window, ticket, records, errors)
    threads = [threading.Thread(target=_client, args=args, daemon=True) for _ in range(users)]
    for t in threads:
        t.start()
    before = _stats(server)
    window["deadline"] = deadline = (start := time.perf_counter()) + duration_s
    window["go"].set()
    for t in threads:
        t.join(max(0.0, deadline + timeout_s + 1.0 - time.perf_counter()))
    after = _stats(server)
    rec = np.array(records, dtype=float).reshape(-1, 4)
    end = deadline
    if max_requests is not None and len(records) + len(errors) >= max_requests and rec.size:
        end = min(deadline, float(rec[:, 2].max()))  # stopped early: the window is shorter
    completed = int(np.count_nonzero(rec[:, 2] <= end))
    steady = rec[rec[:, 0] == 0] if np.any(rec[:, 0] == 0) else rec  # drop the first burst
    lat = steady[:, 2] - steady[:, 1]
    q = np.percentile(lat, [50, 95, 99]) if lat.size else np.full(3, math.nan)
    served, busy = after["requests"] - before["requests"], after["busy_s"] - before["busy_s"]
    x = r = bound = math.nan
    if single is not None:
        d, z = single.service_demand_s, single.overhead_s
        x, r = theory.mva_closed(users, d, z)
        r, bound = r + z, min(users / (d + z), 1.0 / d)
    return BenchStep(
        users=users, throughput_rps=completed / (end - start),
        mean_s=float(lat.mean()) if lat.size else math.nan, p50_s=float(q[0]),
        p95_s=float(q[1]), p99_s=float(q[2]), errors=len(errors), predicted_throughput_rps=x,
        predicted_mean_s=r, bound_throughput_rps=bound,
        service_demand_s=busy / served if served else math.nan,
        utilisation=busy / (after["at"] - before["at"]), completed=completed,
        late=len(rec) - completed, duration_s=end - start,
        error_kinds={k: errors.count(k) for k in sorted(set(errors))}, latencies_s=lat,
        handler_s=steady[:, 3])


def measure_single(server: BenchServer, requests: int = 200, *, warmup: int = 5,
                   max_duration_s: float = 10.0, timeout_s: float = 5.0) -> SingleRequest:
    """Send ``requests`` requests one after another (concurrency 1) and measure D and Z.

    The first ``warmup`` requests are not recorded; the run stops after ``max_duration_s`` (s)
    even if fewer requests were sent.
    """
    requests = _check.integer("requests", requests, low=10, high=100_000)
    warmup = _check.integer("warmup", warmup, low=0, high=1000)
    max_duration_s = _check.number("max_duration_s", max_duration_s, low=0.0, low_open=True,
                                   high=MAX_RUN_S)
    if warmup:
        run_load(server, 1, max_duration_s, max_requests=warmup, timeout_s=timeout_s)
    run = run_load(server, 1, max_duration_s, max_requests=requests, timeout_s=timeout_s)
    if run.completed < 5:  # too few for a mean
        raise RuntimeError(f"only {run.completed} of {requests} requests completed in "
                           f"{max_duration_s:g} s (errors: {run.error_kinds or 'none'}); "
                           "is the server too slow for this, or dying?")
    d = run.service_demand_s
    return SingleRequest(
        requests=run.completed, service_demand_s=d, overhead_s=max(0.0, run.mean_s - d),
        handler_s=float(np.median(run.handler_s)), mean_s=run.mean_s, p50_s=run.p50_s,
        errors=run.errors, latencies_s=run.latencies_s)


@dataclass(frozen=True, eq=False, repr=False)
class BenchmarkResult:
    """A ramp of closed-loop steps against one server, with the MVA prediction for each.

    Column accessors (``users``, ``throughput_rps``, ``predicted_throughput_rps``, ``mean_s``
    ...) return numpy arrays, one entry per step, ready to plot; ``column(name)`` any other
    field of :class:`BenchStep`. ``saturation_users`` is N* = (D + Z)/D, where the two
    asymptotes cross; ``max_throughput_rps`` is 1/D.
    """

    steps: tuple[BenchStep, ...]
    single: SingleRequest
    work_ms: float
    step_s: float
    started_at: float
    duration_s: float

    def column(self, name: str) -> np.ndarray:
        _check.choice("name", name, BenchStep.__dataclass_fields__)
        return np.array([getattr(s, name) for s in self.steps])

    users = property(lambda self: self.column("users"))
    throughput_rps = property(lambda self: self.column("throughput_rps"))
    predicted_throughput_rps = property(lambda self: self.column("predicted_throughput_rps"))
    bound_throughput_rps = property(lambda self: self.column("bound_throughput_rps"))
    mean_s = property(lambda self: self.column("mean_s"))
    predicted_mean_s = property(lambda self: self.column("predicted_mean_s"))
    p95_s = property(lambda self: self.column("p95_s"))
    errors = property(lambda self: self.column("errors"))
    max_throughput_rps = property(lambda self: 1.0 / self.single.service_demand_s)
    saturation_users = property(
        lambda self: 1.0 + self.single.overhead_s / self.single.service_demand_s)

    def __repr__(self) -> str:
        d, z = self.single.service_demand_s * 1e3, self.single.overhead_s * 1e3
        lines = [f"BenchmarkResult(work_ms={self.work_ms:g}, D={d:.3f} ms, Z={z:.3f} ms, "
                 f"N*={self.saturation_users:.2f}, {len(self.steps)} steps of {self.step_s:g} s)",
                 "  users   X req/s  MVA req/s  mean ms  MVA ms   p95 ms  errors"]
        lines += [f"  {s.users:5d} {s.throughput_rps:9.1f} {s.predicted_throughput_rps:10.1f} "
                  f"{s.mean_s * 1e3:8.2f} {s.predicted_mean_s * 1e3:7.2f} {s.p95_s * 1e3:8.2f} "
                  f"{s.errors:7d}" for s in self.steps]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        note = (f"one request at a time: D = {self.single.service_demand_s * 1e3:.3f} ms, "
                f"Z = {self.single.overhead_s * 1e3:.3f} ms; saturation at N* = "
                f"{self.saturation_users:.2f} users, at most {self.max_throughput_rps:.0f} req/s")
        # The columns a student compares, latencies in ms; every field is in .steps.
        columns = ["users", "throughput /s", "model /s", "mean ms", "model mean ms", "p95 ms",
                   "server busy", "errors"]
        rows = [(s.users, s.throughput_rps, s.predicted_throughput_rps, s.mean_s * 1e3,
                 s.predicted_mean_s * 1e3, s.p95_s * 1e3, s.utilisation, s.errors)
                for s in self.steps]
        return _html.rows_table(rows, columns, note=note)


def ramp_steps(users: Sequence[int], step_s: float) -> tuple[list[int], float]:
    """``users`` (closed-loop users per step) and ``step_s`` (s per step) checked as
    :func:`benchmark` takes them: at least one step, at most :data:`MAX_USERS` users, the
    whole ramp within :data:`MAX_RUN_S` seconds. Returns them as (list of ints, float) — for
    a caller that must refuse them before it starts a server."""
    if isinstance(users, (str, bytes)) or not isinstance(users, (Sequence, np.ndarray)):
        raise TypeError(f"users must be a sequence of integers, got {type(users).__name__}")
    if len(users) == 0:
        raise ValueError("users must hold at least one number of users, got an empty sequence")
    users = [_check.integer(f"users[{i}]", n, low=1, high=MAX_USERS) for i, n in enumerate(users)]
    step_s = _check.number("step_s", step_s, low=0.0, low_open=True, high=MAX_RUN_S)
    if len(users) * step_s > MAX_RUN_S:
        raise ValueError(f"step_s × len(users) = {len(users) * step_s:g} s is longer than the "
                         f"{MAX_RUN_S:g} s a benchmark may take; use fewer users or less step_s")
    return users, step_s


def benchmark(server: BenchServer, users: Sequence[int] = (1, 2, 4, 8, 16), step_s: float = 1.0,
              *, requests: int = 200, progress: Callable[[int, int, str], object] | None = None,
              timeout_s: float = 5.0) -> BenchmarkResult:
    """Measure one request at a time, then ramp closed-loop ``users`` for ``step_s`` s each.

    ``progress(done_steps, total_steps, message)``, if given, is called before and after each
    step (the single-request measurement, at most ``max(1, step_s)`` s, is the first). The
    ramp takes ``len(users) * step_s`` seconds; more than ``MAX_RUN_S`` is refused.
    """
    users, step_s = ramp_steps(users, step_s)
    requests = _check.integer("requests", requests, low=10, high=100_000)
    timeout_s = _check.number("timeout_s", timeout_s, low=0.0, low_open=True, high=60.0)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {type(progress).__name__}")
    server = _require_running(server)
    report = progress or (lambda done, total, message: None)
    total, started_at, t0 = len(users) + 1, time.time(), time.perf_counter()
    report(0, total, "measuring one request at a time")
    single = measure_single(server, requests, max_duration_s=max(1.0, step_s),
                            timeout_s=timeout_s)
    report(1, total, f"D = {single.service_demand_s * 1e3:.2f} ms, "
                     f"Z = {single.overhead_s * 1e3:.2f} ms")
    steps = []
    for i, n in enumerate(users, start=1):
        report(i, total, f"running {n} users for {step_s:g} s")
        steps.append(run_load(server, n, step_s, single=single, timeout_s=timeout_s))
        report(i + 1, total, f"{n} users: {steps[-1].throughput_rps:.0f} req/s")
    return BenchmarkResult(steps=tuple(steps), single=single, work_ms=server.work_ms,
                           step_s=step_s, started_at=started_at,
                           duration_s=time.perf_counter() - t0)


def _main(argv: Sequence[str] | None = None) -> None:
    """The older spelling, kept: ``python -m scalekit.servers.httpbench serve [options]``."""
    prog = "python -m scalekit.servers.httpbench"
    parser = argparse.ArgumentParser(prog=prog, add_help=False,
                                     description="serve: a single-worker HTTP server")
    parser.add_argument("command", choices=["serve"])
    args, rest = parser.parse_known_args(argv)
    _httpserver.main(rest, prog=f"{prog} {args.command}")


if __name__ == "__main__":
    _main()
