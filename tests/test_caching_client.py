"""The client's side (scalekit.caching.http.client): a real GET, direct or through the proxy in
absolute form (RFC 9112 §3.2.2), every status returned as it came; and the manual clock."""

import socket

import pytest

from scalekit import caching


@pytest.fixture(scope="module")
def origin():
    with caching.Origin(max_lifetime_s=120.0) as o:
        yield o


def test_manual_clock_moves_only_when_told():
    clock = caching.ManualClock(1_000.0)
    assert clock() == clock() == 1_000.0
    clock.advance(2.5)
    assert clock() == 1_002.5
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(-1)
    assert abs(caching.ManualClock()() - __import__("time").time()) < 2


def test_direct_get_returns_the_origins_answer(origin):
    r = caching.get(origin.url + "/news")
    assert r.status == 200 and r.cache == "" and r.cache_control == "no-cache"
    assert r.etag.startswith('"') and r.bytes == len(r.body) > 0 and "News" in r.text
    missing = caching.get(origin.url + "/nowhere")
    assert missing.status == 404  # an answer, not an exception


def test_a_304_comes_back_as_a_304(origin):
    etag = caching.get(origin.url + "/news").etag
    r = caching.get(origin.url + "/news", headers={"If-None-Match": etag})
    assert r.status == 304 and r.bytes == 0 and r.etag == etag


def test_through_a_proxy_in_absolute_form(origin):
    with caching.CachingProxy(origin.url, max_lifetime_s=60.0) as proxy:
        first = caching.get(origin.url + "/", via=proxy)
        second = caching.get(origin.url + "/", via=proxy.url)
    assert (first.cache, second.cache) == ("MISS", "HIT")
    assert second.body == first.body and "fresh" in second.reason
    assert second.headers["Via"].endswith("scalekit")


def test_unreachable_server_is_a_connection_error_naming_the_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nothing listens once closed
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(ConnectionError, match=f"GET {url}"):
        caching.get(url, timeout_s=2)


@pytest.mark.parametrize("kw, error, name", [
    (dict(url=42), TypeError, "url"),
    (dict(url="ftp://x/"), ValueError, "url"),
    (dict(url="http://127.0.0.1:1/", via=3.5), TypeError, "via"),
    (dict(url="http://127.0.0.1:1/", via="https://127.0.0.1:1"), ValueError, "via"),
    (dict(url="http://127.0.0.1:1/", headers=["Cookie: a"]), TypeError, "headers"),
    (dict(url="http://127.0.0.1:1/", timeout_s=0), ValueError, "timeout_s"),
])
def test_bad_arguments_name_the_parameter(kw, error, name):
    url = kw.pop("url")
    with pytest.raises(error, match=name):
        caching.get(url, **kw)


def _one_shot_server(answer: bytes):
    """A raw socket server that answers every connection with ``answer`` and closes."""
    import threading

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    return sock


def test_repeated_headers_are_combined_and_set_cookie_kept_apart():
    sock = _one_shot_server(b"HTTP/1.1 200 OK\r\nCache-Control: public\r\n"
                            b"cache-control: max-age=60\r\nSet-Cookie: a=1; Path=/\r\n"
                            b"Set-Cookie: b=2, c\r\nContent-Length: 2\r\n"
                            b"Connection: close\r\n\r\nok")
    with sock:
        r = caching.get(f"http://127.0.0.1:{sock.getsockname()[1]}/")
    assert r.cache_control == "public, max-age=60"
    assert r.headers["Cache-Control"] == "public, max-age=60"
    assert r.headers["Set-Cookie"] == "a=1; Path=/\nb=2, c"


def test_a_garbled_answer_is_a_connection_error_naming_the_url():
    with _one_shot_server(b"NOT HTTP\r\n\r\n") as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        with pytest.raises(ConnectionError, match=f"GET {url}"):
            caching.get(url, timeout_s=2)


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/", "http://[::1/",
                                 "http://127.0.0.1:1/\xe9"])
def test_bad_urls_are_value_errors_naming_url(url):
    with pytest.raises(ValueError, match="url"):
        caching.get(url)
    with pytest.raises(ValueError, match="via"):
        caching.get("http://127.0.0.1:1/", via=url)
