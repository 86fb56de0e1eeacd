"""Notebook 05's public checks, as a student meets them (issue 19 §2).

``grader.check("qN")`` runs each public test cell as doctest examples, one per top-level
statement (otter's ``str_to_doctest``), and prints a transcript per failing example. So every
public cell here is ONE statement, and it must

* fail an unanswered stub (otter leaves ``name = ...`` and function bodies of ``...``) with an
  AssertionError whose message says to replace the ``...`` — not a TypeError about 'ellipsis';
* fail a typical wrong answer (a neighbouring mistake, listed below) with a message that names
  what is wrong;
* pass the master's own solution.

The checks run the cells' code directly, in a namespace like the notebook's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from _public_checks import public_test_cells, section_code_cells
from _public_checks import solutions as run_solutions

from scalekit import replication

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "05_replication.ipynb"


def public_tests() -> dict[str, str]:
    """Question name → the source of its public test cell."""
    return public_test_cells(NOTEBOOK)


def solutions() -> dict:
    """The names the master's solution cells define (run as the notebook runs them)."""
    return run_solutions(NOTEBOOK.stem, {"replication": replication})


def _stub(*args):
    ...


STUBS = {"stale_rate": ..., "mode": ..., "evidence": ..., "ids_for": _stub, "lww": _stub}
WRONG = {  # question → (names, the words the message must contain)
    "q1": ({"stale_rate": 1.0}, "from 0 to 0.3, got 1.0"),
    "q2": ({"mode": "async", "evidence": replication.run_single_primary(
        commit="async", fail_at=2.0, seed=0)}, "async lost 1 acknowledged write"),
    "q3": ({"ids_for": lambda o, i, c: [1 + k * i for k in range(c)]},  # offset ignored
           "should be [2, 5, 8]"),
    "q4": ({"lww": lambda a, b: a if a[0] >= b[0] else b},  # no tie-break on the value
           "on a tie of timestamps the greater value wins"),
}


def run_check(source: str, names: dict) -> None:
    exec(compile(source, "<public test>", "exec"), {"replication": replication, **names})  # noqa: S102


def test_every_question_has_one_public_check_of_one_statement():
    tests = public_tests()
    assert sorted(tests) == ["q1", "q2", "q3", "q4"]
    for name, source in tests.items():
        body = ast.parse(source).body
        assert len(body) == 1 and isinstance(body[0], ast.Assert) and body[0].msg, (
            f"{name}: one assert with a message, so a failure prints one message")


@pytest.mark.parametrize("question", ["q1", "q2", "q3", "q4"])
def test_an_unanswered_stub_gets_one_clear_message(question):
    with pytest.raises(AssertionError) as failed:
        run_check(public_tests()[question], STUBS)
    assert "replace ..." in str(failed.value)


@pytest.mark.parametrize("question", ["q1", "q2", "q3", "q4"])
def test_a_neighbouring_wrong_answer_fails_and_is_named(question):
    names, words = WRONG[question]
    with pytest.raises(AssertionError, match=words.replace("[", r"\[").replace("]", r"\]")):
        run_check(public_tests()[question], {**STUBS, **names})


@pytest.mark.parametrize("question", ["q1", "q2", "q3", "q4"])
def test_the_masters_solution_passes_its_public_check(question):
    run_check(public_tests()[question], solutions())


def test_q1_is_a_calculation_the_runs_agree_with():
    """q1 grades a calculation (issue 19: not a prediction's accuracy): every read sent to a
    replica comes 50 ms after the asynchronous ack, the change lands at 125 ms, so the rate is
    the replica share, 0.3. Twelve seeded runs agree within 4 standard errors of their mean
    (one run's: sqrt(0.3 × 0.7 / reads))."""
    runs = [replication.run_single_primary(delay_s=0.12, jitter_s=0.0, read_share=0.3, seed=s)
            for s in range(12)]
    rates = [r.stale_read_rate for r in runs]
    reads = sum(r.reads for r in runs) / len(runs)
    se = (0.3 * 0.7 / reads) ** 0.5 / len(runs) ** 0.5
    assert abs(sum(rates) / len(rates) - 0.3) <= 4 * se
    assert all(r.stale_reads == r.replica_reads for r in runs)  # every replica read misses
    assert solutions()["stale_rate"] == pytest.approx(0.3)


# --------------------------------------------------------------------------- section 5: PostgreSQL


def test_postgres_section_skips_with_one_sentence_per_run_where_postgres_is_missing(
        monkeypatch, capsys):
    """Issue 13: where PostgreSQL cannot run, each real run says why in one sentence (the
    engine's "skipped: …") and the figures after it draw nothing; no cell fails."""
    from scalekit.engines import EngineUnavailable
    from scalekit.engines import postgres as engine

    def missing(bindir=None):
        raise EngineUnavailable("PostgreSQL is not installed here (a test)")

    monkeypatch.setattr(engine, "find_postgres", missing)
    cells = section_code_cells(NOTEBOOK, "## 5. Streaming replication on real PostgreSQL")
    assert len(cells) >= 6
    namespace, said = {"replication": replication}, {}
    for cid, source in cells:
        exec(compile(source, cid, "exec"), namespace)  # noqa: S102 — our own notebook
        said[cid] = [line for line in capsys.readouterr().out.splitlines()
                     if not line.startswith("HBox(")]  # a progress bar, outside a kernel
    runs = [cid for cid, source in cells if "engines.EngineUnavailable" in source]
    assert len(runs) == 3
    for cid in runs:
        assert said[cid] == ["skipped: PostgreSQL is not installed here (a test)"], said[cid]
    assert all(not lines for cid, lines in said.items() if cid not in runs), said
