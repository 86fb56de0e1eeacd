"""The TCP relay: delay each way, order kept under jitter, cut and heal, bounded lifetime.

Sources: RFC 9293 §3.10 (TCP delivers a byte stream in order — a relay with jitter must not
reorder chunks); the replication model's network (scalekit.replication.Network) states the
same rule: a later message never overtakes an earlier one on a link.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time

import pytest

from scalekit.engines import Relay


@pytest.fixture
def echo_port():
    """An echo server on loopback (one thread per connection), closed afterwards."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield server.getsockname()[1]
    stop.set()
    t.join(2)
    server.close()


def _connect(relay: Relay) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", relay.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def test_every_round_trip_takes_at_least_twice_the_delay(echo_port):
    delay = 0.01
    with Relay(echo_port, delay_s=delay) as relay, _connect(relay) as s:
        rtts = []
        for _ in range(20):
            began = time.perf_counter()
            s.sendall(b"ping")
            assert _recv_exactly(s, 4) == b"ping"
            rtts.append(time.perf_counter() - began)
    assert min(rtts) >= 2 * delay  # a chunk is never forwarded early, either way
    # nor held for the loop's 50 ms tick on each hop (+0.1 s); the slack is for a busy machine
    assert statistics.median(rtts) < 2 * delay + 0.04


def test_jitter_never_reorders_the_stream(echo_port):
    payload = b"".join(i.to_bytes(4, "big") for i in range(5000))
    with Relay(echo_port, delay_s=0.002, jitter_s=0.01, seed=1) as relay, _connect(relay) as s:
        for start in range(0, len(payload), 400):  # many small chunks, each its own jitter
            s.sendall(payload[start:start + 400])
        assert _recv_exactly(s, len(payload)) == payload
        assert relay.connections == 1


def test_cut_closes_connections_and_refuses_until_heal(echo_port):
    with Relay(echo_port) as relay:
        s = _connect(relay)
        s.sendall(b"a")
        assert _recv_exactly(s, 1) == b"a"
        relay.cut()
        assert relay.is_cut
        s.settimeout(2)
        try:
            assert s.recv(10) == b""  # the relayed connection is closed
        except ConnectionResetError:
            pass
        s.close()
        refused = _connect(relay)
        refused.settimeout(2)
        try:
            assert refused.recv(10) == b""
        except ConnectionResetError:
            pass
        refused.close()
        relay.heal()
        with _connect(relay) as again:
            again.sendall(b"back")
            assert _recv_exactly(again, 4) == b"back"


def test_relay_stops_itself_after_its_lifetime(echo_port):
    relay = Relay(echo_port, max_lifetime_s=0.2)
    deadline = time.monotonic() + 3
    while not relay.closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert relay.closed
    relay.close()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", relay.port), timeout=1)


def test_delay_can_change_while_it_runs(echo_port):
    with Relay(echo_port, delay_s=0.0) as relay, _connect(relay) as s:
        relay.delay_s = 0.03
        began = time.perf_counter()
        s.sendall(b"x")
        _recv_exactly(s, 1)
        assert time.perf_counter() - began >= 0.06
        assert "delay_s=0.03" in repr(relay)


@pytest.mark.parametrize("kw, match", [({"delay_s": -1}, "delay_s"),
                                       ({"jitter_s": float("nan")}, "jitter_s"),
                                       ({"max_lifetime_s": 0}, "max_lifetime_s")])
def test_relay_refuses_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        Relay(5432, **kw)


def test_relay_refuses_a_bad_target():
    with pytest.raises(ValueError, match="target_port"):
        Relay(0)
    with pytest.raises(TypeError, match="target_port"):
        Relay("5432")


def test_lateness_is_recorded_for_delayed_chunks_only_and_cleared_on_request(echo_port):
    """Each delayed chunk is written at or after its due instant (never early: that would
    shorten the delay), and the readings say by how much; undelayed chunks record none."""
    with Relay(echo_port, delay_s=0.0) as relay, _connect(relay) as s:
        s.sendall(b"x")
        assert _recv_exactly(s, 1) == b"x"
        assert relay.lateness_s() == ()
        relay.delay_s = 0.005
        for _ in range(5):
            s.sendall(b"y")
            assert _recv_exactly(s, 1) == b"y"
        deadline = time.monotonic() + 2.0  # the relay records a chunk just after sending it
        while len(relay.lateness_s()) < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        late = relay.lateness_s(clear=True)
        assert len(late) == 10  # five chunks out, five echoes back
        assert all(x >= 0 for x in late)
        with pytest.raises(TypeError, match="clear"):
            relay.lateness_s(clear="yes")
        assert relay.lateness_s() == ()
