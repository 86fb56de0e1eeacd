"""The caching proxy's two sides on the wire: reading a client's request, writing its answer,
and asking the origin — each message framed exactly once (RFC 9112 §6).

From the client: the request line and fields are parsed by :mod:`http.server`, then
checked as a proxy must before forwarding (RFC 9112 §3, §5, §6): the method a token (any
token: extension methods such as ``M-SEARCH`` are forwarded, RFC 9110 §9.1), field names
tokens, no obs-fold, no NUL, one ``Host``; the body framed by ``Transfer-Encoding: chunked``
(which then overrides any ``Content-Length``, and the connection is closed after the
answer, RFC 9112 §6.1) or by one valid ``Content-Length``; a Transfer-Encoding whose last
coding is not chunked is 400, another coding before chunked is 501 (not decoded here); a
body over :data:`MAX_BODY_BYTES` is 413 before any of it is read.

To the origin (:mod:`~scalekit.caching.http.wire`): the end-to-end fields only — none of
the client's hop-by-hop fields (RFC 9110 §7.6.1), nor its ``Content-Length``,
``Transfer-Encoding`` or ``Expect`` (the proxy answered ``100 Continue`` itself and sends
the whole body with its own single ``Content-Length``); ``Host`` from the URL; ``Via: 1.1
scalekit`` appended (§7.6.3). Interim responses from the origin (``102``, ``103``) are
passed on to an HTTP/1.1 client as they come (never to HTTP/1.0, RFC 9110 §15.2) and never
reach the cache. A response that is not valid HTTP becomes the proxy's own ``502``.

To the client: the cache's answer with one framing — ``Content-Length`` of the body sent;
none for 1xx, 204 and 304; for HEAD the length a GET would have had, when known — plus
``Date``, ``Via``, ``X-Cache`` (what the cache did) and ``X-Cache-Reason`` (why), and
``Connection: close`` when the proxy is about to close the connection.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections.abc import Iterable

from scalekit.caching.http.loopback import HOST, QuietHandler
from scalekit.caching.http.messages import Headers, Interim, OriginUnreachable, Request, Response
from scalekit.caching.http.rules import SURROGATE_DEVICE, is_token
from scalekit.caching.http.wire import BadGateway, UpstreamConnection, encode_head

__all__ = ["ProxyHandler", "Refused", "HOP_BY_HOP", "MAX_BODY_BYTES", "end_to_end",
           "check_target", "authority"]

#: Header fields that describe one connection, not the message (RFC 9110 §7.6.1), plus
#: those meant for this proxy alone. Never forwarded either way.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                        "proxy-authorization", "proxy-authentication-info", "te", "trailer",
                        "transfer-encoding", "upgrade"})
#: The largest request body the proxy accepts (bytes); a larger one is answered ``413
#: Content Too Large`` (RFC 9110 §15.5.14) before any of it is read.
MAX_BODY_BYTES = 10_000_000
_NO_BODY_STATUSES = frozenset({204, 304})
_FRAMING = frozenset({"content-length", "transfer-encoding", "expect", "host", "via"})
_DIGITS = re.compile(r"[0-9]{1,18}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_OWN = frozenset({"content-length", "via", "x-cache", "x-cache-reason", "connection"})


class Refused(ValueError):
    """A request the proxy will not forward: the status to answer and why (a ValueError:
    a bad target is a bad argument of :meth:`CachingProxy.target_url`)."""

    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status, self.why = status, why


def end_to_end(fields: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The fields minus the hop-by-hop ones: those in :data:`HOP_BY_HOP` and those the
    ``Connection`` field names (RFC 9110 §7.6.1)."""
    pairs = list(fields)
    named = {token.strip().lower() for name, value in pairs if name.lower() == "connection"
             for token in value.split(",")}
    return [(name, value) for name, value in pairs
            if name.lower() not in HOP_BY_HOP and name.lower() not in named]


def check_target(url: str, allow_hosts: Iterable[str]) -> urllib.parse.SplitResult:
    """The parsed ``url`` if the proxy may forward to it; else :class:`Refused` saying why."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise Refused(400, f"malformed URL {url[:100]!r}: {exc}") from None
    if parts.scheme != "http":
        raise Refused(400, f"only http:// targets are forwarded, not {parts.scheme!r}: "
                           "this teaching proxy does not speak TLS")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise Refused(400, f"bad port in {url!r}") from None
    host = (parts.hostname or "").lower()
    allowed = tuple(allow_hosts)
    if host not in allowed:
        raise Refused(403, f"refusing to forward to {host or '(no host)'!r}: this teaching "
                           f"proxy only forwards to {', '.join(allowed)} (allow_hosts), so it "
                           "cannot become an open proxy that relays anyone's traffic")
    return parts


def authority(parts: urllib.parse.SplitResult) -> str:
    """``host[:port]`` of a parsed URL, without any ``user:password@`` (RFC 9110 §4.2.4:
    userinfo is deprecated and never sent in ``Host``)."""
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    return host if parts.port is None else f"{host}:{parts.port}"


def _field_value(text: str) -> str:
    """Text safe for a header field: one line of ASCII."""
    line = " ".join(str(text).split())
    for fancy, plain in (("≥", ">="), ("≤", "<="), ("−", "-"), ("→", "->"), ("§", "section ")):
        line = line.replace(fancy, plain)
    return line.encode("ascii", "replace").decode("ascii")[:300]


class ProxyHandler(QuietHandler):
    """Turns each request into a Request, asks the proxy, sends the Exchange's response.
    ``server.owner`` is the proxy (``target_url``, ``exchange``, ``record``, ...)."""

    upstream: UpstreamConnection | None = None

    def __getattr__(self, name: str):
        # http.server dispatches to do_<METHOD> and answers 501 when there is none: every
        # method token is forwarded here (RFC 9110 §9.1), CONNECT excepted
        if name.startswith("do_") and name != "do_CONNECT":
            return self._forward
        raise AttributeError(name)

    def _forward(self) -> None:
        proxy = self.server.owner
        try:
            if not is_token(self.command):
                raise Refused(400, f"method {self.command[:40]!r} is not a token "
                                   "(RFC 9110 section 9.1)")
            url = proxy.target_url(self.path)
            fields = self.request_fields()
            body = self.read_body()
        except Refused as refused:
            return self._refuse(refused)
        request = Request(self.command, url, Headers(fields))
        me = threading.current_thread()
        exchange = proxy.exchange(request, lambda req: self.ask_origin(
            req, body, here=threading.current_thread() is me))
        proxy.record(request, exchange, self._body_sent(exchange.response))  # counted before
        self._send(exchange.response, exchange.outcome, exchange.reason)  # the client sees it

    def do_CONNECT(self):  # noqa: N802
        self._refuse(Refused(501, "CONNECT (HTTPS tunnelling) is not supported: this "
                                  "teaching proxy only forwards plain http:// requests"))

    # ---------------------------------------------------------------- the client side

    def request_fields(self) -> list[tuple[str, str]]:
        """The request's end-to-end header fields; :class:`Refused` (400) for a field the
        proxy could not forward faithfully. A line folded onto the next (obs-fold) is
        rejected, not unfolded: RFC 9112 §5.2 lets a server do either."""
        if self.headers.defects or self.headers.get_payload():
            line = (self.headers.get_payload() or "").partition("\r\n")[0] or str(
                getattr(self.headers.defects[0], "line", "") or "").strip()
            raise Refused(400, f"malformed header field line {line[:60]!r}: the field name "
                               "must be a token (RFC 9110 section 5.1)")
        pairs = self.headers.items()
        for name, value in pairs:
            if not is_token(name):
                raise Refused(400, f"malformed header field name {name[:60]!r}")
            if "\r" in value or "\n" in value:
                raise Refused(400, f"header {name} is folded onto the next line (obs-fold), "
                                   "which RFC 9112 section 5.2 lets a server reject")
            if "\0" in value:
                raise Refused(400, f"header {name} contains a NUL byte")
        if len(self.headers.get_all("Host") or []) > 1:
            raise Refused(400, "more than one Host header line (RFC 9112 section 3.2)")
        return [(n, v) for n, v in end_to_end(pairs) if n.lower() not in _FRAMING - {"via"}]

    def read_body(self) -> bytes:
        """The request body, framed as RFC 9112 §6 says (see the module)."""
        too_large = Refused(413, f"request body larger than {MAX_BODY_BYTES} bytes, this "
                                 "proxy's limit")
        codings = [c.strip().lower() for v in self.headers.get_all("Transfer-Encoding") or []
                   for c in v.split(",") if c.strip()]
        lengths = {v.strip() for line in self.headers.get_all("Content-Length") or []
                   for v in line.split(",")}
        if codings:
            if self.request_version == "HTTP/1.0" or codings[-1] != "chunked":
                raise Refused(400, "Transfer-Encoding without chunked last: the body length "
                                   "cannot be determined (RFC 9112 section 6.3)")
            if len(codings) > 1:
                raise Refused(501, f"transfer coding {codings[0]!r} is not implemented")
            if lengths:
                self.close_connection = True  # RFC 9112 §6.1: both present
            return self._chunked(too_large)
        if not lengths:
            return b""
        if len(lengths) > 1 or not _DIGITS.fullmatch(value := lengths.pop()):
            raise Refused(400, "malformed Content-Length (not one non-negative number)")
        length = int(value)
        if length > MAX_BODY_BYTES:
            raise too_large
        data = self.rfile.read(length) if length > 0 else b""
        if len(data) != length:
            raise Refused(400, f"the body ended after {len(data)} of {length} bytes")
        return data

    def _chunked(self, too_large: Refused) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1000)
            size_text = line.split(b";")[0].strip()
            if not line.endswith(b"\n") or not _HEX.fullmatch(size_text):
                raise Refused(400, f"malformed chunk size {size_text[:30]!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > MAX_BODY_BYTES:
                raise too_large
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise Refused(400, "chunk data not followed by CRLF")
            chunks.append(chunk)
        for _ in range(100):  # the trailer section, dropped (RFC 9112 §7.1.2)
            if self.rfile.readline(65537) in (b"\r\n", b"\n", b""):
                return b"".join(chunks)
        raise Refused(400, "too many trailer fields")

    def _refuse(self, refused: Refused) -> None:
        self.close_connection = True  # the request body, if any, was not read
        headers = Headers([("Content-Type", "text/plain; charset=utf-8"),
                           ("Cache-Control", "no-store")])
        response = Response(refused.status, headers, (refused.why + "\n").encode())
        self.server.owner.record_refusal(self.command, self.path, refused.status,
                                         self._body_sent(response))
        self._send(response, "refused", refused.why)

    def _body_sent(self, response: Response) -> int:
        if self.command == "HEAD" or response.status in _NO_BODY_STATUSES:
            return 0
        return len(response.body)

    def _send(self, response: Response, outcome: str, reason: str) -> None:
        self.log_request(response.status)
        fields = [(n, v) for n, v in end_to_end(response.headers.items())
                  if n.lower() not in _OWN]
        if "Date" not in response.headers:
            fields.insert(0, ("Date", self.date_time_string()))
        sent = self._body_sent(response)
        if self.command == "HEAD" and response.status not in _NO_BODY_STATUSES:
            length = (response.headers.get("Content-Length") or "").strip()
            if _DIGITS.fullmatch(length):
                fields.append(("Content-Length", length))
        elif response.status not in _NO_BODY_STATUSES:
            fields.append(("Content-Length", str(sent)))
        via = ", ".join(response.headers.get_all("Via") + ["1.1 scalekit"])
        fields += [("Via", via), ("X-Cache", outcome.upper()),
                   ("X-Cache-Reason", _field_value(reason))]
        if self.close_connection:
            fields.append(("Connection", "close"))
        phrase = self.responses.get(response.status, ("",))[0]
        self.wfile.write(encode_head(f"HTTP/1.1 {response.status} {phrase}".rstrip(), fields)
                         + (response.body if sent else b""))
        self.wfile.flush()

    def _send_interim(self, interim: Interim) -> None:
        """Pass an interim response on (not to HTTP/1.0 clients, RFC 9110 §15.2; a 100 was
        the proxy's to answer, already done)."""
        if self.request_version != "HTTP/1.1" or interim.status == 100:
            return
        phrase = self.responses.get(interim.status, ("",))[0]
        try:
            self.wfile.write(encode_head(f"HTTP/1.1 {interim.status} {phrase}".rstrip(),
                                         end_to_end(interim.headers.items())))
            self.wfile.flush()
        except OSError:
            pass  # the client went away; the final answer will notice

    def send_error(self, code, message=None, explain=None):
        # http.server's own refusals: a malformed request line, an unsupported version
        owner = self.server.owner
        owner.record_refusal(getattr(self, "command", None) or "-",
                             getattr(self, "path", None) or "-", code, 0)
        super().send_error(code, message, explain)

    # ---------------------------------------------------------------- the origin side

    def ask_origin(self, request: Request, body: bytes, *, here: bool = True) -> Response:
        """One real request to the origin (the kept-alive connection of this client
        connection when ``here``, a one-off one from another thread);
        OriginUnreachable if it cannot be had."""
        proxy = self.server.owner
        parts = urllib.parse.urlsplit(request.url)
        key = (parts.hostname or HOST, parts.port or 80)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        fields = [(n, v) for n, v in request.headers.items() if n.lower() not in _FRAMING]
        fields.append(("Host", authority(parts)))
        # RFC 9110 §7.6.3: a proxy adds itself to Via on requests as well as responses
        fields.append(("Via", ", ".join(request.headers.get_all("Via") + ["1.1 scalekit"])))
        if proxy.surrogate:  # W3C Edge Architecture §2.1: a surrogate says what it is
            fields.append(("Surrogate-Capability", f'{SURROGATE_DEVICE}="Surrogate/1.0"'))
        if here:
            if self.upstream is None or (self.upstream.host, self.upstream.port) != key:
                self._close_upstream()
                self.upstream = UpstreamConnection(*key, timeout_s=proxy.timeout_s)
            conn, interim = self.upstream, self._send_interim
        else:
            conn, interim = UpstreamConnection(*key, timeout_s=proxy.timeout_s), None
        try:
            answer = conn.exchange(request.method, target, fields, body or None,
                                   on_interim=interim, retry=request.method in _IDEMPOTENT)
        except BadGateway as exc:
            text = f"502 Bad Gateway: the origin's answer was not valid HTTP/1.1: {exc}\n"
            return Response(502, Headers([("Content-Type", "text/plain; charset=utf-8"),
                                          ("Cache-Control", "no-store")]), text.encode())
        except OriginUnreachable:
            raise
        finally:
            if not here:
                conn.close()
        return Response(answer.status, Headers(end_to_end(answer.headers.items())),
                        answer.body)

    def _close_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
        self.upstream = None

    def finish(self):
        self._close_upstream()
        super().finish()
