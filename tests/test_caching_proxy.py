"""A real origin server and a real caching proxy on 127.0.0.1, spoken to by real clients.

Sources: RFC 9110 (§8.8.3 entity tags, §13.1.2 If-None-Match, §13.1.3 If-Modified-Since,
§13.2.2 precedence, §15.4.5 what a 304 carries, §7.6.1 hop-by-hop fields, §7.6.3 Via) and
RFC 9111 (§3.5 private responses in shared caches, §4.1 Vary, §4.2.4 serving stale, §4.3
validation). The clients are http.client, urllib with a ProxyHandler, curl -x and raw
sockets; a fake clock stands in for waiting out a max-age.
"""

import contextlib
import email.utils
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from scalekit.caching.http import HttpCache
from scalekit.caching.http.origin import IMMUTABLE, Origin, OriginStats
from scalekit.caching.http.proxy import CachingProxy, ProxyStats, end_to_end, measure_proxy_rps

CURL = shutil.which("curl")
ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    """Seconds since the epoch that move only when told (starting at the real time, so the
    dates the origin writes are believable)."""

    def __init__(self):
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def get(origin_or_url, path="/", headers=None, method="GET", body=None):
    """(status, headers, body) of one request over a fresh http.client connection."""
    url = origin_or_url if isinstance(origin_or_url, str) else origin_or_url.url
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def via_proxy(proxy, url, headers=None, method="GET", data=None):
    """(status, headers, body) of a request sent through ``proxy`` by urllib."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}))
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


@pytest.fixture
def origin():
    with Origin(max_lifetime_s=60.0) as server:
        yield server


@pytest.fixture
def proxy(origin):
    with CachingProxy(origin.url, max_lifetime_s=60.0) as server:
        yield server


# --------------------------------------------------------------------------- the origin


def test_origin_page_carries_date_validators_and_cache_control(origin):
    status, headers, body = get(origin, "/")
    assert status == 200
    assert re.fullmatch(r'"[0-9a-f]{16}"', headers["ETag"])  # strong: no W/
    assert headers["Cache-Control"] == "max-age=60"
    assert int(headers["Content-Length"]) == len(body) > 0
    date = email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
    assert abs(date - time.time()) < 5
    assert email.utils.parsedate_to_datetime(headers["Last-Modified"]).timestamp() <= date
    assert origin.stylesheet_path.encode() in body  # the home page links the fingerprint


def test_if_none_match_with_the_etag_gets_304_without_body(origin):
    _, first, _ = get(origin, "/news")
    assert first["Cache-Control"] == "no-cache"
    status, headers, body = get(origin, "/news", {"If-None-Match": first["ETag"]})
    assert (status, body) == (304, b"")
    assert headers["ETag"] == first["ETag"]
    assert headers["Cache-Control"] == first["Cache-Control"]
    assert "Date" in headers
    stats = origin.stats
    assert isinstance(stats, OriginStats)
    assert (stats.requests, stats.full_responses, stats.not_modified) == (2, 1, 1)
    assert stats.bytes_sent == int(first["Content-Length"])  # the 304 sent no body bytes


@pytest.mark.parametrize("condition, matches", [
    ("W/{etag}", True),                    # weak comparison ignores W/
    ('"nope", {etag}', True),              # any tag in a list
    ("*", True),                           # any current page
    ('"nope"', False),
    ('W/"nope", "other"', False),
])
def test_if_none_match_uses_weak_comparison_and_lists(origin, condition, matches):
    etag = get(origin, "/")[1]["ETag"]
    status, _, body = get(origin, "/", {"If-None-Match": condition.format(etag=etag)})
    assert status == (304 if matches else 200)
    assert (body == b"") == matches


def test_update_gives_a_new_etag_and_later_last_modified(origin):
    _, old, old_body = get(origin, "/news")
    new_etag = origin.update("/news", "<p>breaking</p>")
    status, headers, body = get(origin, "/news", {"If-None-Match": old["ETag"]})
    assert status == 200 and body == b"<p>breaking</p>"
    assert headers["ETag"] == new_etag != old["ETag"]
    assert (email.utils.parsedate_to_datetime(headers["Last-Modified"])
            > email.utils.parsedate_to_datetime(old["Last-Modified"]))
    assert get(origin, "/news", {"If-None-Match": new_etag})[0] == 304


def test_post_news_changes_the_page_over_http(origin):
    etag = get(origin, "/news")[1]["ETag"]
    status, headers, _ = get(origin, "/news", method="POST", body=b"<p>posted</p>")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert get(origin, "/news")[2] == b"<p>posted</p>"
    assert get(origin, "/news", {"If-None-Match": etag})[0] == 200
    assert get(origin, "/", method="POST", body=b"x")[0] == 405


def test_head_has_the_get_headers_and_no_body(origin):
    _, got, body = get(origin, "/")
    status, headers, head_body = get(origin, "/", method="HEAD")
    assert (status, head_body) == (200, b"")
    assert headers["ETag"] == got["ETag"]
    assert headers["Content-Length"] == str(len(body))
    assert origin.stats.bytes_sent == len(body)  # the HEAD sent none


def test_if_modified_since_is_honoured_only_without_if_none_match(origin):
    last_modified = get(origin, "/")[1]["Last-Modified"]
    assert get(origin, "/", {"If-Modified-Since": last_modified})[0] == 304
    earlier = email.utils.formatdate(
        email.utils.parsedate_to_datetime(last_modified).timestamp() - 10, usegmt=True)
    assert get(origin, "/", {"If-Modified-Since": earlier})[0] == 200
    assert get(origin, "/", {"If-Modified-Since": "yesterday"})[0] == 200  # invalid: ignored
    both = {"If-Modified-Since": last_modified, "If-None-Match": '"other"'}
    assert get(origin, "/", both)[0] == 200  # If-None-Match decides (RFC 9110 §13.2.2)


def test_private_page_depends_on_the_user(origin):
    _, alice_h, alice = get(origin, "/profile", {"Cookie": "theme=dark; user=alice"})
    _, bob_h, bob = get(origin, "/profile", {"Cookie": "user=bob"})
    _, _, basic = get(origin, "/profile", {"Authorization": "Basic Y2Fyb2w6c2VjcmV0"})
    assert b"alice" in alice and b"bob" in bob and b"carol" in basic
    assert alice_h["ETag"] != bob_h["ETag"]
    assert alice_h["Cache-Control"] == "private, max-age=60" and alice_h["Vary"] == "Cookie"
    _, leaky, _ = get(origin, "/leaky-profile", {"Cookie": "user=alice"})
    assert leaky["Cache-Control"] == "public, max-age=60" and "Vary" not in leaky


def test_fingerprinted_stylesheet_is_immutable_and_changes_url_on_update(origin):
    old_path = origin.stylesheet_path
    status, headers, old_css = get(origin, old_path)
    assert status == 200 and headers["Cache-Control"] == IMMUTABLE
    assert "max-age=300" == get(origin, "/static/app.css")[1]["Cache-Control"]
    home_etag = get(origin, "/")[1]["ETag"]
    origin.update("/static/app.css", "body { color: teal; }\n")
    assert origin.stylesheet_path != old_path
    _, home, page = get(origin, "/")
    assert origin.stylesheet_path.encode() in page and home["ETag"] != home_etag
    assert get(origin, origin.stylesheet_path)[2] == b"body { color: teal; }\n"
    assert get(origin, old_path)[2] == old_css  # old pages still find their stylesheet
    status, headers, _ = get(origin, "/static/app.00000000.css")
    assert status == 404 and headers["Cache-Control"] == "no-store"


def test_origin_start_close_are_idempotent_and_lifetime_is_bounded():
    server = Origin(max_lifetime_s=0.3)
    with pytest.raises(RuntimeError, match="not running"):
        server.url  # noqa: B018
    assert server.start() is server.start()
    port = server.port
    assert get(server, "/")[0] == 200
    deadline = time.monotonic() + 5
    while server.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.running  # it closed itself after max_lifetime_s
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    server.close()
    server.close()


@pytest.mark.parametrize("kwargs, error", [
    ({"home_max_age_s": -1}, ValueError), ({"delay_ms": "5"}, TypeError),
    ({"max_lifetime_s": 0}, ValueError), ({"port": 70000}, ValueError),
    ({"clock": 5}, TypeError),
])
def test_origin_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        Origin(**kwargs)


# --------------------------------------------------------------------------- the proxy


def test_second_get_is_a_hit_and_never_reaches_the_origin(origin, proxy):
    status, first, body = via_proxy(proxy, origin.url + "/")
    assert status == 200 and first["X-Cache"] == "MISS"
    assert "1.1 scalekit" in first["Via"]
    status, second, again = via_proxy(proxy, origin.url + "/")
    assert (status, second["X-Cache"], again) == (200, "HIT", body)
    assert second["Age"] is not None
    assert origin.stats.requests == 1
    stats = proxy.stats
    assert isinstance(stats, ProxyStats)
    assert (stats.requests, stats.hits, stats.misses, stats.origin_requests) == (2, 1, 1, 1)
    assert stats.bytes_saved == len(body)
    assert [e.outcome for e in proxy.log] == ["miss", "hit"]


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_through_the_proxy(origin, proxy):
    def curl(path):
        out = subprocess.run([CURL, "-si", "--max-time", "10", "-x", proxy.url,
                              origin.url + path], capture_output=True, timeout=15, check=True)
        head, _, body = out.stdout.partition(b"\r\n\r\n")
        return head.decode(), body

    head, body = curl("/")
    assert "X-Cache: MISS" in head and "Via: 1.1 scalekit" in head
    head, again = curl("/")
    assert "X-Cache: HIT" in head and again == body
    assert origin.stats.requests == 1


def test_no_cache_page_is_revalidated_with_a_304(origin, proxy):
    via_proxy(proxy, origin.url + "/news")
    origin.reset_stats()
    status, headers, body = via_proxy(proxy, origin.url + "/news")
    assert status == 200 and headers["X-Cache"] == "REVALIDATED" and body
    stats = origin.stats
    assert (stats.requests, stats.not_modified, stats.bytes_sent) == (1, 1, 0)
    assert proxy.stats.bytes_saved == len(body)  # the second body never crossed from origin


def test_after_an_update_news_is_new_at_once_and_home_only_after_max_age():
    clock = FakeClock()
    with Origin(clock=clock, max_lifetime_s=60.0) as origin, \
            CachingProxy(cache=HttpCache(shared=True, clock=clock), max_lifetime_s=60.0) as px:
        _, _, old_home = via_proxy(px, origin.url + "/")
        via_proxy(px, origin.url + "/news")
        clock.advance(5)
        origin.update("/news", "<p>fresh news</p>")
        origin.update("/", "A new welcome.")
        _, news, body = via_proxy(px, origin.url + "/news")
        assert body == b"<p>fresh news</p>" and news["X-Cache"] == "REPLACED"
        _, home, body = via_proxy(px, origin.url + "/")
        assert body == old_home and home["X-Cache"] == "HIT"  # still fresh: the old page
        clock.advance(60)  # past max-age=60
        _, home, body = via_proxy(px, origin.url + "/")
        assert b"A new welcome." in body and home["X-Cache"] == "REPLACED"


def test_shared_proxy_never_serves_one_users_private_page_to_another(origin, proxy):
    _, a1, alice = via_proxy(proxy, origin.url + "/profile", {"Cookie": "user=alice"})
    _, b1, bob = via_proxy(proxy, origin.url + "/profile", {"Cookie": "user=bob"})
    _, a2, _ = via_proxy(proxy, origin.url + "/profile", {"Cookie": "user=alice"})
    assert b"alice" in alice and b"bob" in bob and b"alice" not in bob
    assert {a1["X-Cache"], b1["X-Cache"], a2["X-Cache"]} == {"PASS"}  # never stored
    assert origin.stats.requests == 3


def test_misconfigured_proxy_stores_private_pages_but_vary_still_separates_users(origin):
    with CachingProxy(origin.url, obey_private=False, max_lifetime_s=60.0) as proxy:
        via_proxy(proxy, origin.url + "/profile", {"Cookie": "user=alice"})
        _, again, _ = via_proxy(proxy, origin.url + "/profile", {"Cookie": "user=alice"})
        _, other, bob = via_proxy(proxy, origin.url + "/profile", {"Cookie": "user=bob"})
    assert again["X-Cache"] == "HIT"  # stored although private: the misconfiguration
    assert other["X-Cache"] == "MISS" and b"bob" in bob  # Vary: Cookie saved Bob


def test_misconfigured_proxy_leaks_a_private_page_that_relies_on_private_alone():
    """RFC 9111 §3.5: a shared cache MUST NOT store a private response. A proxy that ignores
    the rule serves Alice's page to Bob once the page has no Vary to fall back on."""
    with Origin(profile_vary=False, max_lifetime_s=60.0) as bare:
        assert "Vary" not in get(bare, "/profile", {"Cookie": "user=alice"})[1]
        for obey, leaks in ((True, False), (False, True)):
            with CachingProxy(bare.url, obey_private=obey, max_lifetime_s=60.0) as proxy:
                via_proxy(proxy, bare.url + "/profile", {"Cookie": "user=alice"})
                _, headers, body = via_proxy(proxy, bare.url + "/profile",
                                             {"Cookie": "user=bob"})
            assert (b"alice" in body) is leaks and (b"bob" in body) is not leaks
            assert headers["X-Cache"] == ("HIT" if leaks else "PASS")


def test_mislabelled_public_page_leaks_through_a_shared_proxy(origin, proxy):
    """The origin's mistake, not the proxy's: public and no Vary on a per-user page."""
    via_proxy(proxy, origin.url + "/leaky-profile", {"Cookie": "user=alice"})
    _, headers, body = via_proxy(proxy, origin.url + "/leaky-profile", {"Cookie": "user=bob"})
    assert headers["X-Cache"] == "HIT"
    assert b"alice" in body and b"bob" not in body  # Bob reads Alice's page


def test_reverse_proxy_mode_and_post_forwarding(origin, proxy):
    status, headers, body = get(proxy, "/news")
    assert status == 200 and headers["X-Cache"] == "MISS" and b"news item 1" in body
    status, headers, _ = get(proxy, "/news", method="POST", body=b"<p>via proxy</p>")
    assert status == 200 and headers["X-Cache"] == "PASS"
    assert get(origin, "/news")[2] == b"<p>via proxy</p>"  # the body reached the origin
    assert get(proxy, "/news")[2] == b"<p>via proxy</p>"  # and the stored copy is gone


def test_chunked_post_head_and_client_conditionals_through_the_proxy(origin, proxy):
    host, port = "127.0.0.1", proxy.port
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/news", body=iter([b"<p>in ", b"chunks</p>"]),
                 encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    assert conn.getresponse().read() and origin.stats.requests == 1
    conn.close()
    assert get(origin, "/news")[2] == b"<p>in chunks</p>"
    _, full, body = get(proxy, "/")
    status, head, nothing = get(proxy, "/", method="HEAD")
    assert (status, nothing, head["Content-Length"]) == (200, b"", str(len(body)))
    status, cond, nothing = get(proxy, "/", {"If-None-Match": full["ETag"]})
    assert (status, nothing, cond["X-Cache"]) == (304, b"", "HIT")  # answered by the proxy


def test_client_that_hangs_up_mid_response_does_not_hurt_the_proxy(capfd):
    with Origin(large_bytes=8_000_000, max_lifetime_s=60.0) as origin, \
            CachingProxy(origin.url, max_lifetime_s=60.0) as proxy:
        assert get(proxy, "/large")[0] == 200  # now stored: the proxy sends 8 MB at once
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
            sock.sendall(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(1)  # the answer has started
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            sock.close()  # RST: unread data and linger 0
        deadline = time.monotonic() + 5
        while proxy.stats.disconnects < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proxy.stats.disconnects >= 1
        status, headers, body = get(proxy, "/")
        assert status == 200 and body
    assert "Traceback" not in capfd.readouterr().err


def test_garbage_and_connect_are_refused_with_a_status(proxy):
    for garbage in (b"THIS IS NOT HTTP AT ALL\r\n\r\n", b"GET\r\n\r\n",
                    b"GET / HTTP/9.9\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            sock.sendall(garbage)
            reply = sock.recv(1000)
        assert re.match(rb"HTTP/1\.[01] (400|505)", reply), (garbage, reply)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        reply = sock.recv(1000)
    assert reply.startswith(b"HTTP/1.1 501") and b"CONNECT" in reply
    assert proxy.stats.refused >= 2


def test_non_local_targets_are_refused_with_the_reason(proxy):
    status, headers, body = via_proxy(proxy, "http://example.com/")
    assert status == 403 and b"open proxy" in body and headers["X-Cache"] == "REFUSED"
    with pytest.raises(ValueError, match="open proxy"):
        CachingProxy("http://example.com")
    with pytest.raises(ValueError, match="TLS"):
        CachingProxy("https://127.0.0.1:8443")
    with CachingProxy(max_lifetime_s=60.0) as forward_only:
        status, _, body = get(forward_only, "/")
        assert status == 400 and b"no upstream" in body


def test_origin_down_gives_504_or_502_and_stale_when_allowed():
    clock = FakeClock()
    origin = Origin(clock=clock, max_lifetime_s=60.0).start()
    url = origin.url
    with CachingProxy(url, cache=HttpCache(shared=True, clock=clock)) as cached, \
            CachingProxy(url, caching=False) as plain:
        assert get(cached, "/")[0] == 200  # stored, max-age=60
        origin.close()
        status, headers, _ = get(cached, "/news")
        assert status == 504 and headers["X-Cache"] == "ERROR"
        assert get(plain, "/")[0] == 502  # no cache: the proxy's own Bad Gateway
        clock.advance(120)  # the stored home page is stale now
        status, headers, body = get(cached, "/")
        assert status == 200 and headers["X-Cache"] == "STALE" and b"Home" in body


def test_slow_origin_times_out_as_504():
    with Origin(delay_ms=400, max_lifetime_s=60.0) as origin, \
            CachingProxy(origin.url, caching=False, timeout_s=0.1) as plain, \
            CachingProxy(origin.url, timeout_s=0.1) as cached:
        status, headers, body = get(plain, "/")
        assert status == 504 and b"timed out" in body
        assert get(cached, "/")[0] == 504
        assert plain.stats.errors == 1


def test_proxy_retries_once_when_the_origin_dropped_its_kept_alive_connection(origin, proxy):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        for _ in range(3):  # one client connection, so one kept-alive origin connection
            conn.request("GET", "/news")
            answer = conn.getresponse()
            assert answer.status == 200 and answer.read()
            origin._server.close_connections()  # the origin hangs up on idle connections
    finally:
        conn.close()
    assert proxy.stats.errors == 0 and origin.stats.requests == 3


def test_proxy_without_cache_forwards_everything(origin):
    with CachingProxy(origin.url, caching=False, max_lifetime_s=60.0) as proxy:
        for _ in range(3):
            assert get(proxy, "/")[1]["X-Cache"] == "PASS"
        assert proxy.cache is None and origin.stats.requests == 3
        proxy.reset_stats()
        assert proxy.stats == ProxyStats() and not proxy.log


def test_hop_by_hop_fields_are_not_forwarded():
    fields = [("Connection", "close, X-Secret"), ("X-Secret", "1"), ("Keep-Alive", "5"),
              ("Proxy-Authorization", "Basic x"), ("Accept", "*/*"), ("TE", "trailers")]
    assert end_to_end(fields) == [("Accept", "*/*")]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"upstream": 8000}, TypeError, "upstream"),
    ({"caching": False, "cache": HttpCache()}, ValueError, "cache"),
    ({"timeout_s": 0}, ValueError, "timeout_s"),
    ({"allow_hosts": "localhost"}, TypeError, "allow_hosts"),
])
def test_proxy_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        CachingProxy(**kwargs)


def test_measure_proxy_rps_returns_a_rate_with_and_without_cache():
    with_cache = measure_proxy_rps(requests=200, concurrency=2, caching=True)
    without = measure_proxy_rps(requests=200, concurrency=2, caching=False)
    assert 10 < with_cache < 1e6 and 10 < without < 1e6
    with pytest.raises(ValueError, match="requests"):
        measure_proxy_rps(requests=0)


# --------------------------------------------------------------------------- the CLI


def _start(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.Popen([sys.executable, "-m", "scalekit.caching", *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def _running(*args):
    """``python -m scalekit.caching *args`` for the block; killed (if still alive) and its
    pipes closed afterwards, whatever the block did."""
    proc = _start(*args)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            f.close()


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_cli_demo_serves_until_sigint_and_exits_0():
    with _running("demo", "--max-lifetime-s", "60") as proc:
        ports = {}
        for _ in range(2):
            found = re.match(r"(\w+) listening on http://127\.0\.0\.1:(\d+)/",
                             proc.stdout.readline())
            assert found, "the demo did not print its ports"
            ports[found[1]] = int(found[2])
        out = subprocess.run([CURL, "-si", "--max-time", "10", "-x",
                              f"http://127.0.0.1:{ports['proxy']}",
                              f"http://127.0.0.1:{ports['origin']}/news"],
                             capture_output=True, timeout=15, text=True)
        assert "X-Cache: MISS" in out.stdout and "news item" in out.stdout
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
        assert "Traceback" not in proc.stderr.read()


def test_cli_origin_stops_at_end_of_input_and_bad_arguments_exit_2():
    with _running("origin") as proc:
        assert re.match(r"origin listening on http://127\.0\.0\.1:\d+/", proc.stdout.readline())
        proc.stdin.close()  # what a parent that dies leaves behind
        assert proc.wait(timeout=5) == 0
    bad = _start("proxy", "--upstream", "http://example.com")
    _, err = bad.communicate(timeout=10)
    assert bad.returncode == 2 and "open proxy" in err


# --------------------------------------------------------------------------- review fixes


def _raw(port, data: bytes) -> bytes:
    """What the server at ``port`` answers ``data`` with, up to when it closes or stalls."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
                if b"\r\n\r\n" in reply and b"Content-Length: " in reply:
                    head, _, body = reply.partition(b"\r\n\r\n")
                    length = int(re.search(rb"Content-Length: (\d+)", head)[1])
                    if len(body) >= length:
                        break
        except TimeoutError:
            pass
    return reply


@pytest.mark.parametrize("request_bytes, status, why", [
    (b"GET /news HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n b\r\n\r\n", 400, b"obs-fold"),
    (b"GET /news HTTP/1.1\r\nHost: h\r\nX-Bad: a\0b\r\n\r\n", 400, b"NUL"),
    (b"GET /\xff\xfe HTTP/1.1\r\nHost: h\r\n\r\n", 400, b"ASCII"),
    (b"GET /news HTTP/1.1\r\nHost: h\r\nX-\xff: 1\r\nCookie: a\r\n\r\n", 400, b"field name"),
    (b"GET /news HTTP/1.1\r\nHost: h\r\nBad Name: 1\r\n\r\n", 400, b"field name"),
    (b"GET /news HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400, b"Host"),
    (b"GET http://[::1/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, b"URL"),
    (b"POST /news HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999\r\n\r\n", 413,
     b"larger than"),
    (b"POST /news HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n", 400, b"Content-Length"),
    (b"POST /news HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"fffffffffff\r\n", 413, b"larger than"),
])
def test_malformed_requests_get_a_status_and_a_reason_not_a_silent_close(
        proxy, request_bytes, status, why, capfd):
    reply = _raw(proxy.port, request_bytes)
    assert reply.startswith(b"HTTP/1.1 %d " % status), reply[:200]
    assert why in reply and b"X-Cache: REFUSED" in reply
    status_after, _, _ = get(proxy, "/")  # the proxy is still serving
    assert status_after == 200 and proxy.stats.refused == 1
    assert "Traceback" not in capfd.readouterr().err


def test_non_ascii_absolute_target_is_refused_in_forward_mode(origin, proxy):
    reply = _raw(proxy.port, b"GET %s/\xff\xfe HTTP/1.1\r\nHost: h\r\n\r\n"
                 % origin.url.encode())
    assert reply.startswith(b"HTTP/1.1 400 ") and b"ASCII" in reply


def test_a_body_within_the_cap_still_goes_through(origin, proxy):
    status, headers, body = get(proxy, "/news", method="POST", body=b"x" * 100_000)
    assert status == 200 and b"updated /news" in body


def test_userinfo_is_stripped_from_host_and_cache_key(origin, proxy):
    plain = f"{origin.url}/"
    with_user = plain.replace("http://", "http://user:pw@")
    seen = []
    with _Recorder(seen) as upstream:
        target = upstream.replace("http://", "http://user:pw@") + "/x"
        with CachingProxy(max_lifetime_s=60.0) as forward:
            reply = _raw(forward.port, f"GET {target} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
            assert reply.startswith(b"HTTP/1.1 200")
            assert seen[0]["Host"] == upstream.removeprefix("http://")
            first = _raw(forward.port, f"GET {with_user} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
            second = _raw(forward.port, f"GET {plain} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    assert b"X-Cache: MISS" in first and b"X-Cache: HIT" in second


class _Recorder:
    """A tiny test-only upstream that records each request's headers and answers 200."""

    def __init__(self, seen):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                seen.append(self.headers)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.send_header("X(Bad)", "a name that is not a token")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_forwarded_requests_carry_via_appended_to_any_existing_one():
    seen = []
    with _Recorder(seen) as upstream, CachingProxy(upstream, max_lifetime_s=60.0) as proxy:
        get(proxy, "/a")
        get(proxy, "/b", headers={"Via": "1.0 fred"})
    assert seen[0].get_all("Via") == ["1.1 scalekit"]
    assert seen[1].get_all("Via") == ["1.0 fred, 1.1 scalekit"]


@pytest.mark.parametrize("condition", ["current", "*", '"nope", current'])
def test_post_with_a_matching_if_none_match_is_412_and_changes_nothing(origin, condition):
    _, headers, before = get(origin, "/news")
    etag = headers["ETag"]
    status, _, _ = get(origin, "/news", method="POST", body=b"new",
                       headers={"If-None-Match": condition.replace("current", etag)})
    assert status == 412
    _, headers_after, after = get(origin, "/news")
    assert headers_after["ETag"] == etag and after == before
    status, _, _ = get(origin, "/news", method="POST", body=b"new",
                       headers={"If-None-Match": '"nope"'})
    assert status == 200 and get(origin, "/news")[2] == b"new"


def test_demo_tells_a_browser_to_open_the_proxy_url_and_sigint_is_quick():
    with _running("demo", "--max-lifetime-s", "60") as proc:
        lines = [proc.stdout.readline() for _ in range(2)]
        proxy_url = re.search(r"proxy listening on (\S+)", "".join(lines))[1]
        rest = ""
        while "Ctrl-C" not in rest:
            rest += proc.stdout.readline()
        assert f"browser: open {proxy_url}" in rest and "localhost" in rest
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - started < 1.0


def test_an_upstream_field_that_is_not_allowed_is_dropped_not_fatal():
    """RFC 9110 §5.1: a field name is a token. An upstream that sends ``X(Bad): …`` gets its
    other fields through; the bad one is dropped, and the client still gets its answer."""
    seen = []
    with _Recorder(seen) as upstream, CachingProxy(upstream, max_lifetime_s=60.0) as proxy:
        status, headers, body = get(proxy, "/c")
    assert status == 200 and body == b"ok"
    assert headers["Cache-Control"] == "no-store" and "X(Bad)" not in headers
