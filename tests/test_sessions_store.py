"""The shared session table (scalekit.sessions.store) on a real SQLite file: one
transaction per request, a failed update leaves the row as it was, the measured latency.

Sources: SQLite, "Atomic Commit In SQLite" (a transaction either completes or leaves the
database unchanged); Django's database session backend (one row per session, read and
written on every request).
"""

import numpy as np
import pytest

from scalekit import sessions


def test_store_latency_is_measured_once_and_can_be_measured_again():
    first = sessions.store_latency()
    assert sessions.store_latency() is first
    again = sessions.store_latency(remeasure=True)
    assert again is not first and sessions.store_latency() is again
    assert again.samples == again.times_s.size == 300


def test_measuring_reads_the_injected_timer():
    ticks = iter(np.arange(0, 1, 0.001).tolist())  # every call 1 ms later
    m = sessions.measure_store_latency(20, sessions=30, timer=lambda: next(ticks))
    assert m.median_ms == pytest.approx(1.0) and m.samples == 20 and m.sessions == 30


def test_a_failed_update_leaves_the_session_as_it_was(tmp_path):
    with sessions.SessionStore(tmp_path / "s.sqlite3") as db:
        db.handle("abc", lambda d: {**d, "cart": ["p1"]}, 1.0)

        def broken(data):
            data["cart"].append("p2")
            raise RuntimeError("the application crashed mid-request")

        with pytest.raises(RuntimeError):
            db.handle("abc", broken, 2.0)
        assert db.load("abc") == {"cart": ["p1"]} and len(db) == 1
        assert db.load("nobody") is None


def test_a_store_that_cannot_open_says_so(tmp_path):
    with pytest.raises(sessions.StoreError, match="cannot open"):
        sessions.SessionStore(tmp_path / "no-such-folder" / "s.sqlite3")
