"""A TCP relay on 127.0.0.1 that delays, and can cut, the link between two servers.

The real mechanism. Replication is shaped by the network between the primary and a standby:
its one-way delay (a commit that waits for a standby waits one round trip) and its failures
(a partition). On one machine, loopback has neither. :class:`Relay` puts them back: a
standby's ``primary_conninfo`` points at the relay's port; every chunk of bytes the relay
reads, in either direction, is forwarded ``delay_s`` s later, plus a uniform jitter in
``[0, jitter_s)`` — never before the chunk ahead of it, because TCP keeps a stream in order.
:meth:`Relay.cut` closes every relayed connection and refuses new ones (the standby sees
its link drop and keeps retrying) until :meth:`Relay.heal`; bytes still in flight are
dropped, as a dead link drops them.

One thread serves every connection of one relay with a selector. The relay stops itself
after ``max_lifetime_s`` and when closed (a context manager); it buffers at most
``max_buffer_bytes`` per direction, and then stops reading that side until the queue drains.
Units: seconds, bytes.
"""

from __future__ import annotations

import collections
import contextlib
import random
import selectors
import socket
import threading
import time

from scalekit import _check

__all__ = ["Relay"]

_CHUNK = 256 * 1024
_TICK_S = 0.05  # the loop looks at its stop flags at least this often
_SELECT_FD_LIMIT = 900  # leave room below select's 1024 for the connections to come
_LATE_KEPT = 100_000  # how many lateness readings :meth:`Relay.lateness_s` keeps


class _Direction:
    """Bytes read from ``src`` waiting to be written to ``dst``: (due instant, bytes)."""

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src, self.dst = src, dst
        self.queue: collections.deque[tuple[float, memoryview]] = collections.deque()
        self.queued = 0
        self.last_due = 0.0
        self.eof = False  # src said goodbye; shut dst's write side once the queue is empty


class _Pair:
    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.sockets = (client, server)
        self.directions = (_Direction(client, server), _Direction(server, client))


class Relay:
    """Listen on 127.0.0.1 (a free port, :attr:`port`) and relay every connection to
    ``target_port`` on ``target_host`` after ``delay_s`` s (+ uniform jitter below
    ``jitter_s`` s, drawn from ``seed``) in each direction.

    ``delay_s`` and ``jitter_s`` may be changed while it runs (chunks read afterwards get the
    new values). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1",
                 delay_s: float = 0.0, jitter_s: float = 0.0, seed: int | None = 0,
                 max_lifetime_s: float = 1800.0, max_buffer_bytes: int = 64 * 2**20,
                 name: str = "relay") -> None:
        _check.text("target_host", target_host)
        _check.text("name", name)
        self.target = (target_host, _check.integer("target_port", target_port, low=1,
                                                   high=65535))
        self.delay_s = delay_s
        self.jitter_s = jitter_s
        self.max_lifetime_s = _check.positive("max_lifetime_s", max_lifetime_s)
        self.max_buffer_bytes = _check.integer("max_buffer_bytes", max_buffer_bytes, low=_CHUNK)
        self.name = name
        self._rng = random.Random(_check.seed(seed))
        self._cut = False
        self._closed = threading.Event()
        self._pairs: list[_Pair] = []
        self.connections = 0
        self.bytes_relayed = 0
        self._late: collections.deque[float] = collections.deque(maxlen=_LATE_KEPT)
        self._late_lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._serve, name=f"scalekit-{name}",
                                        daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- settings
    @property
    def delay_s(self) -> float:
        """The one-way delay (s) added to every chunk, each direction."""
        return self._delay_s

    @delay_s.setter
    def delay_s(self, value: float) -> None:
        self._delay_s = _check.number("delay_s", value, low=0.0, high=60.0)

    @property
    def jitter_s(self) -> float:
        """The upper bound (s) of the uniform extra delay of each chunk."""
        return self._jitter_s

    @jitter_s.setter
    def jitter_s(self, value: float) -> None:
        self._jitter_s = _check.number("jitter_s", value, low=0.0, high=60.0)

    def lateness_s(self, *, clear: bool = False) -> tuple[float, ...]:
        """How late (s) each delayed chunk was written after its due instant, since the
        relay started or the last ``clear=True`` (the last 100,000): on a busy machine the
        relay's thread wakes late, and a measurement through it carries that."""
        clear = _check.boolean("clear", clear)
        with self._late_lock:
            readings = tuple(self._late)
            if clear:
                self._late.clear()
        return readings

    @property
    def is_cut(self) -> bool:
        """True between :meth:`cut` and :meth:`heal`."""
        return self._cut

    @property
    def closed(self) -> bool:
        """True once the relay has stopped (closed, or past its lifetime)."""
        return self._closed.is_set() or not self._thread.is_alive()

    def cut(self) -> None:
        """Partition the link: close every relayed connection, drop the bytes in flight and
        refuse new connections until :meth:`heal`."""
        self._cut = True
        self._wake()

    def heal(self) -> None:
        """End the partition: new connections are relayed again."""
        self._cut = False
        self._wake()

    def close(self) -> None:
        """Stop relaying and close every socket (idempotent)."""
        self._closed.set()
        self._wake()
        if self._thread is not threading.current_thread():
            self._thread.join(5.0)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("cut" if self._cut else "open")
        return (f"Relay(127.0.0.1:{self.port} → {self.target[0]}:{self.target[1]}, "
                f"delay_s={self.delay_s:g}, jitter_s={self.jitter_s:g}, {state})")

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # ----------------------------------------------------------------- the loop
    def _serve(self) -> None:
        # select(2) sleeps to the microsecond; epoll rounds every wait up to a whole
        # millisecond, which would add ~0.5 ms to each delayed hop. select handles
        # descriptors below FD_SETSIZE (1024) only: beyond that, epoll it is.
        small = self._listener.fileno() < _SELECT_FD_LIMIT
        sel = selectors.SelectSelector() if small else selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, "accept")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while not self._closed.is_set():
                if time.monotonic() - self._started_at > self.max_lifetime_s:
                    break
                if self._cut and self._pairs:
                    self._drop_all(sel)
                self._interest(sel)
                for key, events in sel.select(self._timeout()):
                    self._event(sel, key, events)
                self._flush(sel)
        finally:
            self._drop_all(sel)
            sel.close()
            for s in (self._listener, self._wake_r, self._wake_w):
                s.close()
            self._closed.set()

    def _timeout(self) -> float:
        due = [d.queue[0][0] for p in self._pairs for d in p.directions if d.queue]
        if not due:
            return _TICK_S
        return min(max(min(due) - time.monotonic(), 0.0), _TICK_S)

    def _interest(self, sel: selectors.BaseSelector) -> None:
        """Read a side unless its queue is full; watch for writability where a due chunk
        could not be written at once."""
        now = time.monotonic()
        for pair in self._pairs:
            for sock in pair.sockets:
                events = 0
                for d in pair.directions:
                    if d.src is sock and not d.eof and d.queued < self.max_buffer_bytes:
                        events |= selectors.EVENT_READ
                    if d.dst is sock and d.queue and d.queue[0][0] <= now:
                        events |= selectors.EVENT_WRITE
                key = sel.get_map().get(sock)
                if key is None and events:
                    sel.register(sock, events, pair)
                elif key is not None and not events:
                    sel.unregister(sock)
                elif key is not None and key.events != events:
                    sel.modify(sock, events, pair)

    def _event(self, sel, key, events) -> None:
        if key.data == "wake":
            with contextlib.suppress(BlockingIOError):
                self._wake_r.recv(4096)
        elif key.data == "accept":
            self._accept()
        elif events & selectors.EVENT_READ:
            self._read(sel, key.data, key.fileobj)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        if self._cut:
            client.close()
            return
        try:
            server = socket.create_connection(self.target, timeout=2.0)
        except OSError:
            client.close()
            return
        for s in (client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pairs.append(_Pair(client, server))
        self.connections += 1

    def _read(self, sel, pair: _Pair, sock: socket.socket) -> None:
        d = next(d for d in pair.directions if d.src is sock)
        try:
            data = sock.recv(_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            d.eof = True
            if not any(not x.eof or x.queue for x in pair.directions):
                self._drop(sel, pair)
            return
        now = time.monotonic()
        jitter = self._rng.random() * self._jitter_s if self._jitter_s else 0.0
        due = max(now + self._delay_s + jitter, d.last_due)
        d.last_due = due
        d.queue.append((due, memoryview(data)))
        d.queued += len(data)

    def _flush(self, sel) -> None:
        now = time.monotonic()
        delayed = self._delay_s > 0 or self._jitter_s > 0
        for pair in list(self._pairs):
            for d in pair.directions:
                while d.queue and d.queue[0][0] <= now:
                    due, chunk = d.queue[0]
                    try:
                        sent = d.dst.send(chunk)
                    except BlockingIOError:
                        break
                    except OSError:
                        self._drop(sel, pair)
                        break
                    self.bytes_relayed += sent
                    d.queued -= sent
                    if sent < len(chunk):
                        d.queue[0] = (due, chunk[sent:])
                        break
                    d.queue.popleft()
                    if delayed:
                        with self._late_lock:
                            self._late.append(now - due)
                if d.eof and not d.queue and pair in self._pairs:
                    with contextlib.suppress(OSError):
                        d.dst.shutdown(socket.SHUT_WR)

    def _drop(self, sel, pair: _Pair) -> None:
        if pair not in self._pairs:
            return
        self._pairs.remove(pair)
        for s in pair.sockets:
            if s in sel.get_map():
                sel.unregister(s)
            with contextlib.suppress(OSError):
                s.close()

    def _drop_all(self, sel) -> None:
        for pair in list(self._pairs):
            self._drop(sel, pair)
