"""A web backend of known speed for the balancer experiments: one worker, a FIFO queue, and
(optionally) sessions kept in its own memory. Standard library only, run as a script.

``python backend.py --port 8081 --name s1 --speed 0.25 [--sessions]`` listens on
127.0.0.1:8081 and serves until it is stopped (at most ``--max-lifetime-s``). Its shape is
the model's server (:mod:`scalekit.sim`):

* **one worker**: it accepts one connection, answers it, closes it and accepts the next —
  requests never overlap; those that arrive meanwhile wait in the kernel's accept backlog
  (``listen(1024)``), a FIFO queue;
* **known speed**: ``GET /work?w=<seconds>`` is answered ``w / speed`` seconds after the
  worker accepted it — the time spent reading and parsing the request counts, the rest is a
  sleep, so the backend's speed does not depend on how busy the machine's CPUs are (on a
  shared laptop they are) — ``w`` is the request's work on a speed-1 server, as in the
  model; the answer's ``X-Service-S`` header says how long it took from the accept;
* **sessions** (``--sessions``): a request without a ``sid`` cookie gets a new session
  (``X-Session: new`` and ``Set-Cookie: sid=…``); one whose ``sid`` this backend holds is
  ``found``; one whose ``sid`` it does not hold — the session lives in another backend's
  memory — is ``lost``, and a new session starts here (what a framework's in-memory
  session store does);
* ``GET /health`` answers at once (after the requests queued before it); every answer
  carries ``X-Backend: <name>`` and ``Connection: close``.

A crash is the process being killed: the listening socket goes with it, so connections are
refused from then on, and the connections in its queue are reset.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import threading
import time
import urllib.parse

BACKLOG = 1024
MAX_HEAD = 16 * 1024
MAX_SESSIONS = 200_000
MAX_WORK_S = 10.0


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < MAX_HEAD:
        chunk = conn.recv(4096)
        if not chunk:
            return b""
        data += chunk
    return data


def _cookie(head: list[str], name: str) -> str:
    for line in head[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "cookie":
            for part in value.split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return ""


class Backend:
    """The worker: ``name``, ``speed`` and, if ``sessions``, the session ids it holds."""

    def __init__(self, name: str, speed: float, sessions: bool) -> None:
        # standard library only: this file also runs as the backend program itself
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        if (isinstance(speed, bool) or not isinstance(speed, int | float)
                or not 0 < speed < float("inf")):
            raise ValueError(f"speed must be a finite number > 0, got {speed!r}")
        if not isinstance(sessions, bool):
            raise TypeError(f"sessions must be True or False, got {sessions!r}")
        self.name, self.speed, self.sessions = name, speed, sessions
        self.held: set[str] = set()

    def answer(self, request: bytes, accepted_at: float) -> bytes:
        head = request.decode("latin-1").split("\r\n")
        parts = head[0].split(" ")
        target = parts[1] if len(parts) >= 2 else "/"
        url = urllib.parse.urlsplit(target)
        extra = []
        took = 0.0
        if url.path == "/work":
            query = urllib.parse.parse_qs(url.query)
            try:
                work = min(max(float(query.get("w", ["0"])[0]), 0.0), MAX_WORK_S)
            except ValueError:
                return self._reply(400, b"w must be a number of seconds\n", [])
            time.sleep(max(0.0, accepted_at + work / self.speed - time.perf_counter()))
            took = time.perf_counter() - accepted_at
        elif url.path != "/health":
            return self._reply(404, b"no such page\n", [])
        if self.sessions and url.path == "/work":
            sid = _cookie(head, "sid")
            if sid and sid in self.held:
                state = "found"
            else:
                state = "lost" if sid else "new"
                sid = secrets.token_hex(8)
                if len(self.held) < MAX_SESSIONS:
                    self.held.add(sid)
                extra.append(f"Set-Cookie: sid={sid}; Path=/")
            extra.append(f"X-Session: {state}")
        extra.append(f"X-Service-S: {took:.6f}")
        return self._reply(200, f"{self.name}\n".encode(), extra)

    def _reply(self, status: int, body: bytes, extra: list[str]) -> bytes:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/plain",
                 f"Content-Length: {len(body)}", f"X-Backend: {self.name}",
                 "Connection: close", *extra]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def serve(self, sock: socket.socket) -> None:
        while True:
            conn, _ = sock.accept()
            accepted_at = time.perf_counter()
            with conn:
                try:
                    conn.settimeout(5.0)
                    request = _read_head(conn)
                    if request:
                        conn.sendall(self.answer(request, accepted_at))
                except OSError:  # the client (or the balancer's check) went away
                    pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--sessions", action="store_true")
    parser.add_argument("--max-lifetime-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    if not args.speed > 0:
        parser.error(f"--speed must be > 0, got {args.speed}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(BACKLOG)
    timer = threading.Timer(args.max_lifetime_s, os._exit, args=(0,))
    timer.daemon = True
    timer.start()
    print(f"listening on {args.port} as {args.name} at speed {args.speed:g}", flush=True)
    Backend(args.name, args.speed, args.sessions).serve(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
