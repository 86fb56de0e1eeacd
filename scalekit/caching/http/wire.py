"""HTTP/1.1 on the wire, toward the origin: one request out, one final response back, each
framed exactly once (RFC 9112).

The proxy's own client for the origin side. Why not :mod:`http.client`: it returns a ``102``
or ``103`` as if it were the final answer, leaving the real response unread on a kept-alive
connection, where it is taken as the answer to the *next* request — a cache-poisoning bug —
and it lets a caller add a second ``Content-Length``. Here:

* the request carries its body with one ``Content-Length`` (never ``Transfer-Encoding``,
  and none of the client's framing fields, RFC 9112 §6.1–6.3); a body-less request of a
  method that usually has one (POST, PUT, PATCH) says ``Content-Length: 0``;
* interim responses (1xx other than 101) are read past, each handed to ``on_interim``
  (RFC 9110 §15.2: a client must be able to parse one or more before the final one); a
  101 is an error, as no upgrade was asked for;
* the final response's body length follows RFC 9112 §6.3, in its order: none for a HEAD
  request, 1xx, 204 and 304; ``chunked`` when it is the final transfer coding (trailers
  read and dropped); until the connection closes when Transfer-Encoding names another
  coding; ``Content-Length`` when it is one valid number (repeated equal values allowed);
  an invalid or conflicting one is an unrecoverable error (§6.3 item 5); else until close;
* obs-fold in a response is replaced by a space before use (RFC 9112 §5.2); a field line
  whose name is not a token, or whose value holds a NUL or a bare CR, is dropped rather
  than trusted or passed on (RFC 9110 §5.5); a field line that is no ``name: value`` at all
  makes the response invalid;
* sizes are bounded before anything is allocated (:data:`MAX_HEADER_BYTES`,
  ``max_body_bytes``), and every read has a timeout.

Errors are :class:`~scalekit.caching.http.messages.OriginUnreachable` (nothing usable came
back; ``retryable`` when a kept-alive connection failed before any byte of an answer, so a
fresh connection may be tried once for an idempotent method) or :class:`BadGateway` (an
answer came back that is not valid HTTP: a proxy answers 502, RFC 9110 §15.6.3).
"""

from __future__ import annotations

import re
import select
import socket
from collections.abc import Callable

from scalekit.caching.http.messages import Headers, Interim, OriginUnreachable, Response

__all__ = ["UpstreamConnection", "BadGateway", "MAX_HEADER_BYTES", "MAX_HEADER_LINES",
           "encode_head"]

#: The most bytes a response's status line and header section may take.
MAX_HEADER_BYTES = 65_536
#: The most header field lines one response may have.
MAX_HEADER_LINES = 200
#: The most interim responses read before a final one.
MAX_INTERIM = 20

_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
_DIGITS = re.compile(r"[0-9]{1,18}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BadGateway(Exception):
    """The origin answered with something that is not a valid HTTP/1.1 response."""


class _Closed(Exception):
    """The connection closed before a complete response."""


def encode_head(start_line: str, fields: list[tuple[str, str]]) -> bytes:
    """A message head: the start line, the field lines, the empty line (RFC 9112 §2.1);
    text is sent as ISO-8859-1 (obs-text bytes pass through, RFC 9110 §5.5)."""
    lines = [start_line] + [f"{name}: {value}" for name, value in fields] + ["", ""]
    return "\r\n".join(lines).encode("latin-1")


class UpstreamConnection:
    """One persistent HTTP/1.1 connection to ``host:port`` (opened on first use, reopened
    after the origin closes it). ``timeout_s`` bounds connecting and each read."""

    def __init__(self, host: str, port: int, *, timeout_s: float,
                 max_body_bytes: int = 100_000_000):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.max_body_bytes = max_body_bytes
        self._sock: socket.socket | None = None
        self._buf = bytearray()

    @property
    def open(self) -> bool:
        return self._sock is not None

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._buf.clear()

    def exchange(self, method: str, target: str, fields: list[tuple[str, str]],
                 body: bytes | None, *, on_interim: Callable[[Interim], None] | None = None,
                 retry: bool = True) -> Response:
        """Send one request and return the final response (see the module). ``fields``
        must not hold Content-Length, Transfer-Encoding or Connection: this method frames
        the message. Retries once on a fresh connection when ``retry`` and a reused
        connection failed before any byte of the answer."""
        reused = self._sock is not None
        try:
            return self._exchange(method, target, fields, body, on_interim)
        except OriginUnreachable as exc:
            self.close()
            if reused and retry and getattr(exc, "retryable", False):
                return self._exchange(method, target, fields, body, on_interim)
            raise
        except BadGateway:
            self.close()
            raise

    def _exchange(self, method, target, fields, body, on_interim) -> Response:
        head = list(fields)
        if body or method in _BODY_METHODS:
            head.append(("Content-Length", str(len(body or b""))))
        data = encode_head(f"{method} {target} HTTP/1.1", head) + (body or b"")
        if self._sock is not None and (self._buf or _readable(self._sock)):
            self.close()  # bytes (or a close) nobody asked for: the connection is spent
        fresh = self._sock is None
        try:
            if fresh:
                self._sock = socket.create_connection((self.host, self.port),
                                                      timeout=self.timeout_s)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock.sendall(data)
        except OSError as exc:
            self.close()
            raise _unreachable(self, exc, retryable=not fresh) from exc
        try:
            for _ in range(MAX_INTERIM + 1):
                status, headers, keep = self._read_head(first=not self._buf)
                if status == 101:
                    raise BadGateway("the origin switched protocols (101) unasked")
                if status >= 200:
                    break
                if on_interim is not None:
                    on_interim(Interim(status, headers))
            else:
                raise BadGateway(f"more than {MAX_INTERIM} interim responses")
            content = self._read_body(method, status, headers)
        except _Closed as exc:
            self.close()
            raise _unreachable(self, exc, retryable=exc.args[0] if exc.args else False,
                               note="closed the connection mid-answer") from None
        except TimeoutError as exc:
            self.close()
            raise _unreachable(self, exc, retryable=False, note="timed out") from exc
        except OSError as exc:
            self.close()
            raise _unreachable(self, exc, retryable=False) from exc
        if not keep or self._until_close:
            self.close()
        return Response(status, headers, content)

    # ---------------------------------------------------------------- reading

    def _fill(self, started: bool) -> None:
        chunk = self._sock.recv(65_536)
        if not chunk:
            raise _Closed(not started)
        self._buf += chunk

    def _line(self, limit: int, started: bool = True) -> bytes:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end + 1])
                del self._buf[:end + 1]
                return line.rstrip(b"\r\n")
            if len(self._buf) > limit:
                raise BadGateway(f"a line longer than {limit} bytes")
            self._fill(started or bool(self._buf))

    def _read_head(self, first: bool) -> tuple[int, Headers, bool]:
        """(status, header fields, keep-alive?) of the next response head."""
        line = self._line(MAX_HEADER_BYTES, started=not first)
        while not line and first:  # RFC 9112 §2.2: ignore at least one empty line first
            line = self._line(MAX_HEADER_BYTES, started=True)
        m = _STATUS_LINE.fullmatch(line)
        if m is None:
            raise BadGateway(f"not an HTTP/1.x status line: {line[:60]!r}")
        major, minor, status = int(m[1]), int(m[2]), int(m[3])
        if major != 1 or status < 100:
            raise BadGateway(f"unsupported status line {line[:60]!r}")
        pairs: list[tuple[str, str]] = []
        size = len(line)
        while True:
            raw = self._line(MAX_HEADER_BYTES)
            size += len(raw) + 2
            if size > MAX_HEADER_BYTES or len(pairs) > MAX_HEADER_LINES:
                raise BadGateway("the response header section is too large")
            if not raw:
                break
            if raw[:1] in (b" ", b"\t"):
                if not pairs:
                    raise BadGateway("a folded line before any field")
                name, value = pairs[-1]  # obs-fold: replaced by a space (RFC 9112 §5.2)
                pairs[-1] = (name, f"{value} {raw.strip().decode('latin-1')}".strip())
                continue
            if b":" not in raw:
                raise BadGateway(f"malformed header field line {raw[:60]!r}")
            fm = _FIELD.fullmatch(raw)
            if fm is None or b"\0" in raw or b"\r" in fm[2]:
                continue  # a name that is not a token, a control in the value: dropped
            pairs.append((fm[1].decode("ascii"), fm[2].decode("latin-1")))
        headers = Headers(pairs)
        tokens = {t.strip().lower() for v in headers.get_all("Connection") for t in v.split(",")}
        keep = ("close" not in tokens) and (minor >= 1 or "keep-alive" in tokens)
        return status, headers, keep

    def _read_body(self, method: str, status: int, headers: Headers) -> bytes:
        self._until_close = False
        if method == "HEAD" or status < 200 or status in (204, 304):
            return b""
        codings = [c.strip().lower() for v in headers.get_all("Transfer-Encoding")
                   for c in v.split(",") if c.strip()]
        if codings:
            if codings[-1] == "chunked":
                return self._chunked()
            return self._to_close()
        lengths = {v.strip() for v in headers.get_all("Content-Length")
                   for v in v.split(",")}
        if lengths:
            if len(lengths) != 1 or not _DIGITS.fullmatch(value := lengths.pop()):
                raise BadGateway("invalid or conflicting Content-Length "
                                 f"{headers.get('Content-Length')!r} (RFC 9112 §6.3)")
            return self._exactly(int(value))
        return self._to_close()

    def _exactly(self, length: int) -> bytes:
        if length > self.max_body_bytes:
            raise BadGateway(f"a body of {length} bytes, over the {self.max_body_bytes} limit")
        while len(self._buf) < length:
            self._fill(True)
        data = bytes(self._buf[:length])
        del self._buf[:length]
        return data

    def _chunked(self) -> bytes:
        parts, total = [], 0
        while True:
            line = self._line(4096).split(b";", 1)[0].strip(b" \t")
            if not _HEX.fullmatch(line):
                raise BadGateway(f"malformed chunk size {line[:20]!r}")
            size = int(line, 16)
            if size == 0:
                break
            total += size
            if total > self.max_body_bytes:
                raise BadGateway(f"a chunked body over the {self.max_body_bytes}-byte limit")
            parts.append(self._exactly(size))
            if self._line(4096):
                raise BadGateway("chunk data not followed by CRLF")
        for _ in range(MAX_HEADER_LINES + 1):  # trailer section, dropped (RFC 9112 §7.1.2)
            if not self._line(MAX_HEADER_BYTES):
                return b"".join(parts)
        raise BadGateway("too many trailer fields")

    def _to_close(self) -> bytes:
        self._until_close = True
        while True:
            if len(self._buf) > self.max_body_bytes:
                raise BadGateway(f"a body over the {self.max_body_bytes}-byte limit")
            try:
                self._fill(True)
            except _Closed:
                data = bytes(self._buf)
                self._buf.clear()
                return data

    _until_close = False


def _readable(sock: socket.socket) -> bool:
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _unreachable(conn: UpstreamConnection, exc, *, retryable: bool,
                 note: str = "") -> OriginUnreachable:
    why = note or (str(exc) or type(exc).__name__)
    kind = "timed out" if isinstance(exc, TimeoutError) else "unreachable"
    err = OriginUnreachable(f"origin {conn.host}:{conn.port} {kind}: {why}")
    err.retryable = retryable
    return err
