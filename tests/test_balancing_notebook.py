"""Notebook 02's public checks, as a student meets them (issue 19 §2): each fails an
unanswered stub with one clear message, fails a neighbouring wrong answer with a message
that names the mistake, passes the master's solution — and a check that cannot tell a right
answer from a wrong one in range says so when it passes ("graded later")."""

from __future__ import annotations

import ast

import pytest
from _public_checks import public_tests, run_check, solutions, statements

from scalekit import balancing, sim, theory

NAME = "02_balancing"
QUESTIONS = ["q1", "q2", "q3", "q4", "q5"]


@pytest.fixture(scope="module")
def base():
    return {"balancing": balancing, "sim": sim, "theory": theory,
            "tradeoff": balancing.failover_tradeoff(interval_s=1.0, takeover_s=0.5,
                                                    rate_rps=1000, seed=1)}


class _StubRoundRobin(sim.Policy):
    name = "stub"

    def reset(self, n_servers, n_requests, gen):
        ...

    def choose(self, state):
        ...


class _NoReset(sim.Policy):
    """Counts from where the last run stopped: reset does not start again."""
    name = "no_reset"
    turn = 0

    def choose(self, state):
        self.turn += 1
        return (self.turn - 1) % state.n_servers


class _Busiest(sim.Policy):
    name = "busiest"

    def choose(self, state):
        return state.connections.index(max(state.connections))


STUBS = {"MyRoundRobin": _StubRoundRobin, "MyFewestConnections": _StubRoundRobin,
         "random_ms": ..., "two_choices_ms": ..., "prediction": ..., "winner": ...,
         "winner_p99_ms": ..., "timeout_s": ...}
WRONG = {  # question → [(names, words the message must contain)]
    "q1": [({"MyRoundRobin": _NoReset}, "must start again from server 0"),
           ({"MyRoundRobin": _Busiest}, "not [0, 1, 2, 0, 1, 2, 0]")],
    "q2": [({"MyFewestConnections": _Busiest}, "not [0, 1, 1, 1, 1]")],
    "q3": [({"random_ms": 180.0, "two_choices_ms": 60.0}, "T_1 = 1/(1 − λ)"),  # Wq, not W
           ({"random_ms": 200.0, "two_choices_ms": 2.6}, "must lie between the 20 ms"),
           ({"random_ms": "200", "two_choices_ms": 60.0}, "must be numbers")],
    "q4": [({"prediction": "fewest", "winner": "random", "winner_p99_ms": 900.0},
            "got 'fewest'"),
           ({"prediction": "random", "winner": "fewest_connections", "winner_p99_ms": 0.9},
            "p99_s is in seconds")],
    "q5": [({"timeout_s": 4.25}, "not one of the sweep's timeouts_s"),  # missed adverts
           ({"timeout_s": 3.609375}, "misses a target")],
}


def test_every_question_has_one_public_check_ending_in_one_assert():
    tests = public_tests(NAME)
    assert sorted(tests) == QUESTIONS
    for name, (code, _config) in tests.items():
        body = statements(code)
        asserts = [s for s in body if isinstance(s, ast.Assert)]
        assert len(asserts) == 1 and body[-1] is asserts[0] and asserts[0].msg is not None, (
            f"{name}: one assert with a message, last, so a failure prints one message")


@pytest.mark.parametrize("question", QUESTIONS)
def test_an_unanswered_stub_gets_one_clear_message(question, base):
    with pytest.raises(AssertionError, match=r"replace (the )?\.\.\.") as failed:
        run_check(public_tests(NAME)[question][0], {**base, **STUBS})
    assert "ellipsis" not in str(failed.value)


@pytest.mark.parametrize(("question", "case"), [(q, i) for q in QUESTIONS
                                                for i in range(len(WRONG[q]))])
def test_a_neighbouring_wrong_answer_fails_and_is_named(question, case, base):
    names, words = WRONG[question][case]
    with pytest.raises(AssertionError) as failed:
        run_check(public_tests(NAME)[question][0], {**base, **STUBS, **names})
    assert words in str(failed.value)


@pytest.fixture(scope="module")
def solved(base):
    return solutions(NAME, dict(base))


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_masters_solution_passes_its_public_check(question, base, solved):
    run_check(public_tests(NAME)[question][0], {**base, **solved})


@pytest.mark.parametrize("question", ["q3", "q4", "q5"])
def test_a_check_that_cannot_grade_the_value_says_so_when_it_passes(question):
    _code, config = public_tests(NAME)[question]
    assert "success_message:" in config and "graded later" in config


def test_q5_asks_for_seconds_the_unit_of_the_figure(base, solved):
    """Issue 19: the answer was 4.25 'missed adverts' beside a figure plotted in seconds.
    Now it is a timeout in seconds, on the figure's axis: missed × interval + skew (RFC 5798,
    Skew_Time = (256 − priority)/256 × interval)."""
    t = base["tradeoff"]
    assert solved["timeout_s"] in t.timeouts_s
    missed = (solved["timeout_s"] - t.skew_s) / t.interval_s
    assert t.skew_s == pytest.approx((256 - t.priority) / 256 * t.interval_s)
    assert missed == pytest.approx(4.25)
