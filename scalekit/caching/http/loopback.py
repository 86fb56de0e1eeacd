"""What the origin and the proxy share: a threaded HTTP server on 127.0.0.1, in a daemon
thread of this process, on a free port, for a bounded time, writing no log lines.

:class:`LoopbackServer` starts and stops it (idempotent, a context manager) and closes its
open connections on close; :class:`QuietHandler` is the request handler base that keeps
quiet, and counts clients that hang up mid-answer instead of printing their tracebacks.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable

from scalekit import _check
from scalekit.caching.http.rules import format_http_date

__all__ = ["HOST", "LoopbackServer", "QuietHandler"]

HOST = "127.0.0.1"  # loopback only, always
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class _Server(http.server.ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its open connections, so closing it closes them too
    (an idle keep-alive connection would otherwise hold a thread for ``timeout`` s)."""

    daemon_threads = True
    block_on_close = False  # close() must not wait for idle keep-alive connections
    request_queue_size = 128

    def __init__(self, address, handler, owner):
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self):  # HTTPServer would resolve the host name (a DNS lookup): skip it
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, _DISCONNECTS):  # a client that hung up: normal on the web
            self.owner.count_disconnect()
            return
        print(f"{type(self.owner).__name__}: error serving {client_address}: {exc!r}",
              file=sys.stderr)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A handler that logs nothing and dates its responses with its owner's clock."""

    protocol_version = "HTTP/1.1"  # keep-alive: a proxy reuses its connection to the origin
    disable_nagle_algorithm = True  # TCP_NODELAY: headers and body are two writes
    default_request_version = "HTTP/1.0"  # never answer HTTP/0.9-style (no status line)
    timeout = 30.0  # s: an idle keep-alive connection is closed after this

    def date_time_string(self, timestamp=None):
        return format_http_date(self.server.owner.clock() if timestamp is None else timestamp)

    def version_string(self):
        return "scalekit"

    def log_message(self, format, *args):  # noqa: A002 - no line per request on stderr
        pass


class LoopbackServer:
    """What :class:`Origin` and the caching proxy share: a threaded HTTP server on
    127.0.0.1 in a daemon thread, started and stopped like a file.

    ``with Server() as s: s.url``; :meth:`start` and :meth:`close` are idempotent, a closed
    server can be started again (on a new port unless ``port`` was fixed), and it closes
    itself after ``max_lifetime_s`` seconds. Subclasses set ``handler``.
    """

    handler: type[http.server.BaseHTTPRequestHandler]

    def __init__(self, *, port: int = 0, max_lifetime_s: float = 3600.0,
                 clock: Callable[[], float] = time.time):
        self.port_requested = _check.integer("port", port, low=0, high=65535)
        self.max_lifetime_s = _check.positive("max_lifetime_s", max_lifetime_s)
        if not callable(clock):
            raise TypeError(f"clock must be callable (like time.time), got {clock!r}")
        self.clock = clock
        self._server: _Server | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._disconnects = 0
        self._disconnects_lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The TCP port it listens on (RuntimeError before :meth:`start`)."""
        if self._server is None:
            raise RuntimeError(f"the {type(self).__name__} is not running; "
                               f"use `with {type(self).__name__}(...) as server:`")
        return self._server.server_port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash: append a path)."""
        return f"http://{HOST}:{self.port}"

    def start(self):
        """Bind the port and serve in a daemon thread; harmless when already running."""
        with self._lock:
            if self._server is not None:
                return self
            try:
                server = _Server((HOST, self.port_requested), self.handler, self)
            except OSError as exc:
                raise RuntimeError(f"could not listen on {HOST}:{self.port_requested}: "
                                   f"{exc}") from exc
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             name=f"{type(self).__name__}:{server.server_port}",
                             daemon=True).start()
            self._timer = threading.Timer(self.max_lifetime_s, self.close)
            self._timer.daemon = True
            self._timer.start()
            self._server = server
        return self

    def close(self) -> None:
        """Stop serving and close every open connection; harmless when already closed."""
        with self._lock:  # held throughout: `running` turns False once the port is closed
            server, timer = self._server, self._timer
            if timer is not None and timer is not threading.current_thread():
                timer.cancel()
            if server is not None:
                server.shutdown()
                server.server_close()
                server.close_connections()
            self._server = self._timer = None

    @property
    def disconnects(self) -> int:
        """Clients that hung up while being answered (a broken pipe, a reset connection)."""
        return self._disconnects

    def count_disconnect(self) -> None:
        with self._disconnects_lock:
            self._disconnects += 1

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "not running"
        return f"{type(self).__name__}({state})"
