"""The caching proxy between strict, independent HTTP/1.1 peers: an origin and a client built
on h11 (the state machine behind httpx and uvicorn), and curl, all over real sockets on
127.0.0.1. Nothing here trusts the kit's own HTTP code to judge the kit's HTTP code.

The strict origin is stricter than h11 where Node's parser (llhttp) is: a request with more
than one Content-Length field line, or with both Content-Length and Transfer-Encoding, is
answered 400 — RFC 9112 §6.3 (item 3: such framing "ought to be handled as an error"; item
5: an invalid Content-Length is unrecoverable) and RFC 9110 §8.6 (a sender MUST NOT send
Content-Length in a message with Transfer-Encoding). h11 alone would quietly merge two equal
Content-Length lines, which is how the duplicate went unseen.

Sources: RFC 9112 (§6.1 Transfer-Encoding, §6.3 message body length, §9.3 persistence),
RFC 9110 (§9.1 methods, §15.2 informational responses), RFC 8297 (103 Early Hints).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalekit.caching.http.proxy import CachingProxy

CURL = shutil.which("curl")
ROOT = Path(__file__).resolve().parents[1]
_CL_LINE = re.compile(rb"(?im)^content-length[ \t]*:")
_TE_LINE = re.compile(rb"(?im)^transfer-encoding[ \t]*:")


# ---------------------------------------------------------------- a strict origin (h11)

class StrictOrigin:
    """An h11 server on 127.0.0.1: ``respond(method, target, headers, body)`` returns
    ``(interims, status, headers, body)``; ``seen`` records each request as parsed,
    ``violations`` every framing error found, ``open`` the connections open now."""

    def __init__(self, respond):
        self.respond = respond
        self.seen: list[dict] = []
        self.violations: list[str] = []
        self.open = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _accept(self):
        while not self._stop.is_set():
            try:
                sock, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.open += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _flag(self, text):
        with self._lock:
            self.violations.append(text)

    def _serve(self, sock):
        conn = h11.Connection(h11.SERVER)
        sock.settimeout(10)
        raw, start = bytearray(), 0

        def receive() -> bool:
            """Feed h11 the next bytes (kept in ``raw`` too); False at end of input."""
            data = sock.recv(65536)
            raw.extend(data)
            conn.receive_data(data)
            return bool(data)

        try:
            while not self._stop.is_set():
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    if not receive():
                        return
                    continue
                if isinstance(event, h11.ConnectionClosed):
                    return
                if isinstance(event, h11.Request):
                    head = bytes(raw[start:len(raw) - len(conn.trailing_data[0])])
                    if len(_CL_LINE.findall(head)) > 1 or (_CL_LINE.search(head)
                                                          and _TE_LINE.search(head)):
                        self._flag(f"framing: {head[:400]!r}")
                        sock.sendall(conn.send(h11.Response(
                            status_code=400, headers=[("Content-Length", "0"),
                                                      ("Connection", "close")])))
                        sock.sendall(conn.send(h11.EndOfMessage()))
                        return
                    body = b""
                    while True:
                        part = conn.next_event()
                        if part is h11.NEED_DATA:
                            if not receive():
                                return
                        elif isinstance(part, h11.Data):
                            body += part.data
                        elif isinstance(part, h11.EndOfMessage):
                            break
                    start = len(raw) - len(conn.trailing_data[0])
                    headers = [(n.decode(), v.decode("latin-1")) for n, v in event.headers]
                    record = {"method": event.method.decode(), "target": event.target.decode(),
                              "headers": headers, "body": body, "head": head}
                    with self._lock:
                        self.seen.append(record)
                    interims, status, out, content = self.respond(
                        record["method"], record["target"], headers, body)
                    for code, fields in interims:
                        sock.sendall(conn.send(h11.InformationalResponse(
                            status_code=code, headers=fields)))
                    framing = [] if (record["method"] == "HEAD" or status in (204, 304)) else [
                        ("Content-Length", str(len(content)))]
                    sock.sendall(conn.send(h11.Response(status_code=status,
                                                        headers=out + framing)))
                    if content and record["method"] != "HEAD" and status not in (204, 304):
                        sock.sendall(conn.send(h11.Data(data=content)))
                    sock.sendall(conn.send(h11.EndOfMessage()))
                    if conn.our_state is h11.MUST_CLOSE:
                        return
                    conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            self._flag(f"h11 rejected a request: {exc}")
        except OSError:
            pass
        finally:
            sock.close()
            with self._lock:
                self.open -= 1


def echo(method, target, headers, body):
    """Answer every request afresh (no-store), saying what arrived."""
    text = f"{method} {target} {len(body)}".encode()
    return [], 200, [("Cache-Control", "no-store"), ("Content-Type", "text/plain")], text


# ---------------------------------------------------------------- a strict client (h11)

class StrictClient:
    """An h11 client over one socket; every response it reads must parse in h11, and its
    head must carry at most one framing (RFC 9112 §6.3)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.conn = h11.Connection(h11.CLIENT)

    def request(self, method, target, headers=(), body=b"", chunked=False, close=False):
        """(interims, response, body, raw head) for one request."""
        fields = [("Host", "127.0.0.1")] + list(headers)
        if close:
            fields.append(("Connection", "close"))
        if body and chunked:
            fields.append(("Transfer-Encoding", "chunked"))
        elif body or method in ("POST", "PUT", "PATCH"):
            fields.append(("Content-Length", str(len(body))))
        out = self.conn.send(h11.Request(method=method, target=target, headers=fields))
        if body:
            out += self.conn.send(h11.Data(data=body))
        out += self.conn.send(h11.EndOfMessage())
        self.sock.sendall(out)
        interims, response, content, raw = [], None, b"", b""
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                data = self.sock.recv(65536)
                raw += data
                self.conn.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse):
                interims.append(event)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                content += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise AssertionError("the proxy closed mid-response")
        head = raw.split(b"\r\n\r\n")[len(interims)] if raw else b""
        assert len(_CL_LINE.findall(head)) <= 1 and not (_CL_LINE.search(head)
                                                         and _TE_LINE.search(head)), head
        return interims, response, content, head

    def next_cycle(self) -> bool:
        """Ready for another request on this connection? (False: it must close.)"""
        if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is h11.MUST_CLOSE:
            return False
        self.conn.start_next_cycle()
        return True

    def close(self):
        self.sock.close()


def _fields(response):
    return {n.decode().lower(): v.decode("latin-1") for n, v in response.headers}


# ---------------------------------------------------------------- the matrix

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "M-SEARCH"]
CASES = [(m, body, chunked, keep) for m in METHODS for body, chunked in
         [(b"", False), (b"payload=1", False), (b"payload=1", True)]
         for keep in (True, False)]


@pytest.fixture(scope="module")
def strict_pair():
    with StrictOrigin(echo) as origin, \
            CachingProxy(origin.url, max_lifetime_s=300.0) as proxy:
        yield origin, proxy


@pytest.mark.parametrize("method, body, chunked, keep", CASES)
def test_every_method_body_framing_and_persistence_reaches_a_strict_origin_intact(
        strict_pair, method, body, chunked, keep):
    """RFC 9112 §6.3 / RFC 9110 §8.6: each forwarded message is framed exactly once; an
    extension method (M-SEARCH) is forwarded, not answered 501 (RFC 9110 §9.1); HEAD gets
    no body (§9.3.2); keep-alive keeps the connection for the next request, close closes
    it (RFC 9112 §9.3, §9.6)."""
    origin, proxy = strict_pair
    client = StrictClient(proxy.port)
    try:
        for n in range(2):
            before = len(origin.seen)
            interims, response, content, head = client.request(
                method, f"/m/{method}/{n}", body=body, chunked=chunked, close=not keep)
            assert response.status_code == 200, (response, content)
            got = origin.seen[before]
            assert got["method"] == method and got["body"] == body
            lines = len(_CL_LINE.findall(got["head"]))
            assert not _TE_LINE.search(got["head"])  # the proxy re-frames with a length
            assert lines == (1 if body or method in ("POST", "PUT", "PATCH") else 0), got
            if method == "HEAD":
                assert content == b""
            else:
                assert content == f"{method} /m/{method}/{n} {len(body)}".encode()
            if not keep:
                assert not client.next_cycle()  # the proxy says and does close
                break
            assert client.next_cycle()
    finally:
        client.close()
    assert origin.violations == []


def test_a_304_merge_and_a_head_keep_one_right_content_length():
    """RFC 9110 §8.6 / RFC 9111 §3.2: the Content-Length a 304 carries (0 here, as some
    servers send) never replaces the stored one; the 200 served after the merge has the
    body's length, a HEAD the GET's, a 304 to the client no body (RFC 9110 §15.4.5)."""
    def respond(method, target, headers, body):
        fields = dict((n.lower(), v) for n, v in headers)
        if fields.get("if-none-match") == '"v1"':
            return [], 304, [("ETag", '"v1"'), ("Cache-Control", "max-age=0"),
                             ("Content-Length", "0")], b""
        return [], 200, [("ETag", '"v1"'), ("Cache-Control", "max-age=0")], b"0123456789"

    with StrictOrigin(respond) as origin, CachingProxy(origin.url, max_lifetime_s=60) as proxy:
        client = StrictClient(proxy.port)
        try:
            _, first, body1, _ = client.request("GET", "/x")
            assert client.next_cycle()
            _, second, body2, head = client.request("GET", "/x")
            assert _fields(second)["x-cache"] == "REVALIDATED"
            assert body2 == body1 == b"0123456789" and b"Content-Length: 10" in head
            assert client.next_cycle()
            _, third, body3, head3 = client.request("HEAD", "/x")
            assert body3 == b"" and _fields(third).get("content-length") in (None, "10")
            assert client.next_cycle()
            _, fourth, body4, head4 = client.request("GET", "/x",
                                                     headers=[("If-None-Match", '"v1"')])
            assert fourth.status_code == 304 and body4 == b""
            assert not _CL_LINE.search(head4)
        finally:
            client.close()
        assert origin.violations == []


@pytest.mark.parametrize("targets, added", [(("surrogate-control",), True), ((), False)])
def test_a_surrogate_announces_itself_to_a_strict_origin_after_the_clients_token(targets,
                                                                                  added):
    """W3C Edge Architecture Specification 1.0, §2.1: a surrogate appends its device token
    to Surrogate-Capability (a list: one the client sent stays first); a proxy that does not
    obey Surrogate-Control adds none."""
    from scalekit.caching.http.rules import SURROGATE_DEVICE
    with StrictOrigin(echo) as origin, \
            CachingProxy(origin.url, targets=targets, max_lifetime_s=60) as proxy:
        client = StrictClient(proxy.port)
        try:
            client.request("GET", "/x", headers=[("Surrogate-Capability", 'a="Surrogate/1.0"')])
        finally:
            client.close()
    got = [v for n, v in origin.seen[0]["headers"] if n.lower() == "surrogate-capability"]
    assert got == ['a="Surrogate/1.0"'] + ([f'{SURROGATE_DEVICE}="Surrogate/1.0"'] * added)
    assert origin.violations == []


# ---------------------------------------------------------------- interim responses

@pytest.mark.parametrize("code", [102, 103])
def test_interim_responses_never_answer_the_wrong_request(code):
    """The cache-poisoning defect: a 1xx taken as the final answer left the real 200 on
    the kept-alive upstream connection, to be served (and stored) as the next client's
    answer, for another URL. RFC 9110 §15.2: interim responses precede the final one and
    are passed on to an HTTP/1.1 client; RFC 9111 §3: only final responses are stored;
    RFC 8297: 103 Early Hints fields are not the final response's."""
    def respond(method, target, headers, body):
        hints = [(code, [("Link", "</style.css>; rel=preload"), ("X-Hint", "early")])]
        return hints, 200, [("Cache-Control", "max-age=600")], target.encode()

    with StrictOrigin(respond) as origin, CachingProxy(origin.url, max_lifetime_s=60) as proxy:
        client = StrictClient(proxy.port)
        try:
            for path, expect_cache in (("/a", "MISS"), ("/b", "MISS"), ("/c", "MISS"),
                                       ("/a", "HIT"), ("/b", "HIT")):
                interims, response, content, _ = client.request("GET", path)
                assert content == path.encode(), (path, content)
                fields = _fields(response)
                assert fields["x-cache"] == expect_cache
                assert "x-hint" not in fields  # never merged into the final response
                if expect_cache == "MISS":
                    assert [i.status_code for i in interims] == [code]
                    assert dict(_fields(interims[0]))["x-hint"] == "early"
                else:
                    assert interims == []  # a stored answer has no interim responses
                assert client.next_cycle()
        finally:
            client.close()
        assert [s["target"] for s in origin.seen] == ["/a", "/b", "/c"]


# ---------------------------------------------------------------- curl

@pytest.mark.skipif(CURL is None, reason="curl is not installed")
@pytest.mark.parametrize("extra", [[], ["-H", "Transfer-Encoding: chunked"]])
def test_curl_puts_a_body_through_the_proxy_to_the_strict_origin(extra):
    """curl (an independent client) sends a PUT with Content-Length, or chunked; the strict
    origin must see one framing either way (RFC 9112 §6.1, §6.3)."""
    with StrictOrigin(echo) as origin, CachingProxy(max_lifetime_s=60) as proxy:
        out = subprocess.run([CURL, "-s", "-x", proxy.url, "-X", "PUT", "--data-binary",
                              "hello", *extra, "-w", "\n%{http_code}",
                              f"{origin.url}/put"], capture_output=True, timeout=30,
                             check=True, text=True)
        body, code = out.stdout.rsplit("\n", 1)
        assert code == "200" and body == "PUT /put 5"
        assert origin.violations == [] and origin.seen[0]["body"] == b"hello"


# ---------------------------------------------------------------- under load

@contextmanager
def _proxy_process(upstream):
    """The proxy as a real process (``python -m scalekit.caching proxy``), its stderr kept.
    Its lifetime is only a safety net: on a loaded machine one example of the load test
    once took over 120 s, and a proxy that stopped mid-test closed all 8 clients."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "scalekit.caching", "proxy", "--upstream",
                             upstream, "--max-lifetime-s", "600"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    try:
        line = proc.stdout.readline()
        port = int(line.rsplit(":", 1)[1].strip(" /\n"))
        yield proc, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def varied(method, target, headers, body):
    """Answers whose caching varies with the path: /cc/<directives> says those."""
    directives = target.split("/cc/", 1)[1].split("?")[0] if "/cc/" in target else "no-store"
    fields = [("Cache-Control", directives.replace("_", "=").replace("+", ", ")),
              ("ETag", '"e1"'), ("Vary", "Accept")]
    return [], 200, fields, f"{method} {target} {len(body)}".encode()


_directive = st.sampled_from(["max-age_60", "no-cache", "no-store", "max-age_0",
                              "private", "s-maxage_30", "max-age_5+stale-while-revalidate_30"])
_request = st.tuples(
    st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "M-SEARCH"]),
    st.integers(0, 5), _directive, st.sampled_from([b"", b"x" * 7, b"y" * 300]),
    st.sampled_from(["", "text/html", "application/json"]), st.booleans())


@pytest.mark.slow
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_request, min_size=6, max_size=6), min_size=8, max_size=8))
def test_eight_concurrent_clients_leave_no_traceback_no_bad_message_no_open_connection(plan):
    """8 clients at once, each over its own keep-alive connection, random methods, bodies,
    framings and Cache-Control: every message the proxy emits parses in h11 (both sides),
    its stderr stays empty, and when the clients are gone so are its connections to the
    origin (RFC 9112 §9: a proxy closes what it no longer needs)."""
    with StrictOrigin(varied) as origin, _proxy_process(origin.url) as (proc, port):
        failures = []

        def run(requests):
            client = StrictClient(port)
            try:
                for method, n, cc, body, accept, chunked in requests:
                    _, response, content, _ = client.request(
                        method, f"/p{n}/cc/{cc}", headers=[("Accept", accept)] if accept
                        else [], body=body, chunked=chunked)
                    if response.status_code != 200:
                        failures.append((method, response.status_code, content))
                    if not client.next_cycle():
                        client.close()
                        client = StrictClient(port)
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(repr(exc))
            finally:
                client.close()

        threads = [threading.Thread(target=run, args=(r,)) for r in plan]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        deadline = time.monotonic() + 10
        while origin.open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert failures == []
        assert origin.violations == []
        assert origin.open == 0
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert err == "", err


# ---------------------------------------------------------------- RFC 5861 over sockets

def test_stale_while_revalidate_through_the_proxy_asks_the_origin_once_in_the_background():
    """RFC 5861 §3 on the wire: two stale requests inside the window are both answered at
    once (STALE), and the origin sees exactly one conditional request — made in the
    background on a connection of its own — after which the copy is fresh again."""
    from scalekit.caching import HttpCache, ManualClock

    def respond(method, target, headers, body):
        if dict((n.lower(), v) for n, v in headers).get("if-none-match") == '"v1"':
            time.sleep(0.3)  # a slow validation: the second stale request comes meanwhile
            return [], 304, [("ETag", '"v1"')], b""
        return [], 200, [("ETag", '"v1"'),
                         ("Cache-Control", "max-age=10, stale-while-revalidate=60")], b"page"

    clock = ManualClock()
    with StrictOrigin(respond) as origin, \
            CachingProxy(origin.url, cache=HttpCache(shared=True, clock=clock),
                         clock=clock, max_lifetime_s=60) as proxy:
        client = StrictClient(proxy.port)
        try:
            outcomes = []
            for wait_s in (0, 20, 0):
                clock.advance(wait_s)
                _, response, content, _ = client.request("GET", "/page")
                outcomes.append(_fields(response)["x-cache"])
                assert content == b"page" and client.next_cycle()
            assert outcomes == ["MISS", "STALE", "STALE"]
            deadline = time.monotonic() + 5
            while len(origin.seen) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.4)  # the job finishes (and would show a second request, if any)
            assert [dict((n.lower(), v) for n, v in s["headers"]).get("if-none-match")
                    for s in origin.seen] == [None, '"v1"']
            _, response, _, _ = client.request("GET", "/page")
            assert _fields(response)["x-cache"] == "HIT"
        finally:
            client.close()
        assert origin.violations == []
