"""Notebook 03's public checks, as a student meets them (issue 19 §2; the machinery is
tests/_public_checks.py): set-up that leaves the answers alone, then one assert whose message names
what is wrong — for an unanswered stub, for a neighbouring wrong answer — and the master's
solution passes."""

from __future__ import annotations

import pytest
from _public_checks import (
    NOTEBOOKS,
    cell_source,
    defined_names,
    notebook_cells,
    public_test_cells,
    run_check,
    shape_problems,
    solution_cells,
)
from _public_checks import solutions as run_solutions

from scalekit import sessions
from scalekit.sessions import cookies

NOTEBOOK = NOTEBOOKS / "03_sessions.ipynb"
QUESTIONS = ["q1", "q2", "q3", "q4"]


def context() -> dict:
    """The notebook's names the checks read: the signer and the eight arrivals (rebuilt as
    the notebook builds them: the signer's clock is fixed, so they are the same cookies)."""
    signer = cookies.SessionSigner("course-secret-key", clock=lambda: 1_700_000_000)
    arrivals = [signer.dumps({"user_id": u, "role": "customer"}) for u in range(100, 108)]
    payload, stamp, sig = arrivals[5].split(".")
    forged = cookies.encode_payload(b'{"role":"admin","user_id":105}')
    arrivals[5] = ".".join([forged, stamp, sig])
    return {"sessions": sessions, "cookies": cookies, "signer": signer, "arrivals": arrivals}


def solutions() -> dict:
    return run_solutions(NOTEBOOK.stem, context())


class _Unwritten(sessions.Strategy):
    name, inserts_serverid = "my_sticky", True

    def route(self, user, cluster):
        ...


class _CookieEvenWhenDown(_Unwritten):
    def route(self, user, cluster):
        s = cluster.server_cookie[user]
        return s if s >= 0 else cluster.balance()


class _NeverSticky(_Unwritten):
    def route(self, user, cluster):
        return cluster.balance()


def _stub(*args):
    ...


def _sign_padded(value, key):
    import base64
    import hashlib
    import hmac
    mac = hmac.new(key, value.encode(), hashlib.sha1).digest()
    return value + "." + base64.urlsafe_b64encode(mac).decode()  # the '=' kept


STUBS = {"MySticky": _Unwritten, "sign": _stub, "verify": _stub, "forged_index": ...,
         "choice": ..., "evidence": ...}
WRONG = {  # (question, what is wrong) → (names, words the message must contain)
    ("q1", "follows a cookie to a server marked down"):
        ({"MySticky": _CookieEvenWhenDown}, "which is marked down"),
    ("q1", "never sticky"): ({"MySticky": _NeverSticky}, "send them back to 1"),
    ("q2", "padding kept"): ({"sign": _sign_padded, "verify": lambda s, k: True},
                             "the '=' padding stripped"),
    ("q2", "verify checks only the shape"): (
        {"verify": lambda s, k: "." in s}, "still verified"),
    ("q3", "a genuine cookie"): ({"forged_index": 0}, "arrivals[0] verifies: it is genuine"),
    ("q3", "not an index"): ({"forged_index": "5"}, "must be an index into arrivals"),
    ("q4", "sticky sessions"): (
        {"choice": "sticky_cookie", "evidence": sessions.simulate_sessions(
            strategy="sticky_cookie", server_fails_at=60.0, seed=1)},
        "sessions when server 0 died, and constraint (a) allows none"),
    ("q4", "a run without the failure"): (
        {"choice": "client", "evidence": sessions.simulate_sessions(strategy="client", seed=1)},
        "evidence must be the run of your choice with a server failure"),
}


def test_every_question_has_one_public_check_that_prints_one_message():
    tests = public_test_cells(NOTEBOOK)
    assert sorted(tests) == QUESTIONS
    answers = defined_names(solution_cells(NOTEBOOK))
    for name, source in tests.items():
        assert not shape_problems(source, answers), (name, shape_problems(source, answers))


@pytest.mark.parametrize("question", QUESTIONS)
def test_an_unanswered_stub_gets_one_clear_message(question):
    with pytest.raises(AssertionError, match="replace ..."):
        run_check(public_test_cells(NOTEBOOK)[question], {**context(), **STUBS})


@pytest.mark.parametrize(("question", "mistake"), list(WRONG))
def test_a_neighbouring_wrong_answer_fails_and_is_named(question, mistake):
    names, words = WRONG[question, mistake]
    namespace = {**context(), **solutions(), **names}
    with pytest.raises(AssertionError) as failed:
        run_check(public_test_cells(NOTEBOOK)[question], namespace)
    assert words in str(failed.value)


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_masters_solution_passes_its_public_check(question):
    run_check(public_test_cells(NOTEBOOK)[question], solutions())


def test_the_check_on_q4_leaves_the_other_constraints_to_grading():
    """The text says grader.check("q4") checks (a) only: the shared database loses no
    session either, so it passes the public check (and fails the hidden one on (b))."""
    db = sessions.simulate_sessions(strategy="database", server_fails_at=60.0, seed=1)
    run_check(public_test_cells(NOTEBOOK)["q4"],
              {**context(), "choice": "database", "evidence": db})


def test_the_store_cost_is_called_what_it_is_and_measured_beside_it():
    """Issue 19 §4: the text said "measured on this machine's SQLite" of a fixed default."""
    text = "\n".join(cell_source(c) for c in notebook_cells(NOTEBOOK))
    assert "measured on this machine's SQLite" not in text
    assert "`sessions.DEFAULT_STORE_MS`" in text and "sessions.store_latency()" in text
    assert f"a fixed {sessions.DEFAULT_STORE_MS:g} ms" in text


def test_the_haproxy_part_skips_in_one_sentence_where_haproxy_cannot_run(monkeypatch, capsys):
    """Issue 23: a real-engine cell skips with one clear sentence, and the cells after it
    show nothing (no traceback, no half-drawn figure)."""
    from _public_checks import code_cells_using, run_cells, without_engines
    without_engines(monkeypatch)
    cells = code_cells_using(NOTEBOOK, "haproxy")
    assert len(cells) == 3 and "stickiness_on_haproxy(" in cells[0]
    shown = run_cells(cells, {})
    out = capsys.readouterr().out.strip()
    assert not shown and len(out.splitlines()) == 1
    assert out.startswith("skipped: HAProxy is not installed here") and out.endswith(")")
