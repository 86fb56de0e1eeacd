"""Notebook 04's public checks, as a student meets them (issue 19 §2).

``grader.check("qN")`` runs each public test cell as doctest examples, one per top-level
statement. Each public cell here holds silent set-up statements and ONE assert with a
message, so a failure prints one message, and that assert must

* fail an unanswered stub (otter leaves ``name = ...`` and function bodies of ``...``) with a
  message that says to replace the ``...`` — not a TypeError about 'ellipsis';
* fail a typical wrong answer (a neighbouring mistake, listed below) with a message that names
  what is wrong;
* pass the master's own solution.

And the hidden tests ask no more than the text does: q3's calculation is graded as a
calculation (the text walks through it), q4's "flight F" is the flight ``id`` the test wants.
The checks run the cells' code directly, in a namespace like the notebook's (with fewer rows).
"""

from __future__ import annotations

import ast
import bisect
import functools
import tempfile
from pathlib import Path

import pytest
from _public_checks import cell_source, notebook_cells, section_code_cells

from scalekit import partitioning
from scalekit.partitioning import data

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_partitioning.ipynb"
QUESTIONS = ["q1", "q2", "q3", "q4"]


def _blocks(kind: str) -> dict[str, list[str]]:
    """Question name → the sources of its code cells of ``kind``: "public" or "hidden"
    tests, or the "solution"."""
    found, question, block = {}, None, None
    for cell in notebook_cells(NOTEBOOK):
        text = cell_source(cell).strip()
        if cell["cell_type"] == "raw":
            if text.startswith("# BEGIN QUESTION"):
                question = text.split("name:")[1].split()[0]
            for tag in ("TESTS", "SOLUTION"):
                if text.startswith(f"# BEGIN {tag}"):
                    block = tag
                elif text.startswith(f"# END {tag}"):
                    block = None
        elif cell["cell_type"] == "code" and block is not None:
            hidden = "hidden: true" in text
            what = "solution" if block == "SOLUTION" else "hidden" if hidden else "public"
            if what == kind:
                found.setdefault(question, []).append(text)
    return found


def _exercise_text(n: int) -> str:
    return next(cell_source(c) for c in notebook_cells(NOTEBOOK)
                if f"**Exercise {n}" in cell_source(c))


@functools.cache
def _rows() -> tuple:
    ports = data.airports(200, seed=0)
    return tuple(data.flight_rows(data.flights(3_000, ports, seed=1), ports))


def _namespace(workdir: Path, **names) -> dict:
    return {"partitioning": partitioning, "tempfile": tempfile, "bisect": bisect,
            "rows": list(_rows()), "workdir": workdir, **names}


def run(source: str, namespace: dict) -> None:
    exec(compile(source, "<test cell>", "exec"), namespace)  # noqa: S102 — our own notebook


@pytest.fixture(scope="module")
def solved(tmp_path_factory) -> dict:
    """The names the master's solution cells define, run as the notebook runs them."""
    namespace = _namespace(tmp_path_factory.mktemp("solved"))
    for sources in _blocks("solution").values():
        for source in sources:
            run(source, namespace)
    return namespace


def _stub(*args):
    ...


STUBS = {"tables_for": _stub, "modulo_shard": _stub, "ring_shard": _stub,
         "calculated_modulo": ..., "calculated_consistent": ..., "measured_modulo": ...,
         "measured_consistent": ..., "shard_key": ..., "reason": ...}


def _previous_point(key, ring):  # the point before the key's hash, not the one after
    points = [p for p, _ in ring]
    return ring[bisect.bisect_left(points, partitioning.key_hash(key)) - 1][1]


def _no_wrap(key, ring):  # past the last point: an IndexError
    points = [p for p, _ in ring]
    return ring[bisect.bisect_left(points, partitioning.key_hash(key))][1]


def _measured(strategy: str) -> float:
    origins = [r["origin"] for r in _rows()]
    return partitioning.resharding_curve(strategy, origins, 4).moved[3]


def _solved_q3(**changes) -> dict:
    return {"calculated_modulo": 0.8, "calculated_consistent": 0.2,
            "measured_modulo": _measured("modulo"),
            "measured_consistent": _measured("consistent"), **changes}


def _ring_solution(key, ring):
    points = [p for p, _ in ring]
    return ring[bisect.bisect_left(points, partitioning.key_hash(key)) % len(ring)][1]


WRONG = {  # question → cases of (names, the words the message must contain)
    "q1": [({"tables_for": lambda d: ["flights_international"] if d else ["flights_domestic"]},
            "tables_for(True) should be ['flights_domestic']"),
           ({"tables_for": lambda d: ("flights_domestic",) if d else ("flights_international",)},
            "a list holding the one table"),
           ({"tables_for": lambda d: ["flights_domestic"] if d else ["flights_domestic"]},
            "tables_for(False) should be ['flights_international']")],
    "q2": [({"modulo_shard": lambda k, n: 0, "ring_shard": _ring_solution},
            "key_hash('HIT') % 4 = 2"),
           ({"modulo_shard": lambda k, n: partitioning.key_hash(k) % n,
             "ring_shard": _previous_point}, "ring_shard('HIT', ring) should be 1"),
           ({"modulo_shard": lambda k, n: partitioning.key_hash(k) % n,
             "ring_shard": _no_wrap}, "got an IndexError")],
    "q3": [(_solved_q3(calculated_modulo=0.2, calculated_consistent=0.8),
            "your calculation has the ring moving as many keys"),
           (_solved_q3(measured_modulo=0.8), "measured_modulo should be the modulo reshard"),
           (_solved_q3(measured_consistent=0.2),
            "measured_consistent should be the consistent reshard"),
           (_solved_q3(calculated_modulo=80), "calculated_modulo = 80")],
    "q4": [({"shard_key": "flight id", "reason": "it is even"}, "got 'flight id'"),
           ({"shard_key": "id", "reason": "ids"}, "reason should be a sentence")],
}


def test_every_public_check_is_silent_set_up_then_one_assert_with_a_message():
    public = _blocks("public")
    assert sorted(public) == QUESTIONS
    for name, sources in public.items():
        assert len(sources) == 1, f"{name}: one public test cell"
        body = ast.parse(sources[0]).body
        asserts = [s for s in body if isinstance(s, ast.Assert)]
        assert len(asserts) == 1 and asserts[0].msg is not None and body[-1] is asserts[0], (
            f"{name}: set-up, then one assert with a message, so a failure prints one message")
        assert all(isinstance(s, ast.Assign | ast.Try) for s in body[:-1]), name


@pytest.mark.parametrize("question", QUESTIONS)
def test_an_unanswered_stub_gets_one_clear_message(question, tmp_path):
    with pytest.raises(AssertionError) as failed:
        run(_blocks("public")[question][0], _namespace(tmp_path, **STUBS))
    assert "replace ..." in str(failed.value), failed.value


@pytest.mark.parametrize(("question", "case"), [(q, i) for q in QUESTIONS
                                                for i in range(len(WRONG[q]))])
def test_a_neighbouring_wrong_answer_fails_and_is_named(question, case, tmp_path):
    names, words = WRONG[question][case]
    with pytest.raises(AssertionError) as failed:
        run(_blocks("public")[question][0], _namespace(tmp_path, **{**STUBS, **names}))
    assert words in str(failed.value), failed.value


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_masters_solution_passes_its_public_and_hidden_checks(question, solved):
    for source in _blocks("public")[question] + _blocks("hidden")[question]:
        run(source, dict(solved))


def test_q3_grades_the_calculation_the_text_walks_through():
    """h mod 4 = h mod 5 exactly when h mod 20 < 4 (Chinese remainder theorem): 4 of 20
    residues stay, so modulo hashing moves 4/5 of the keys; a ring of 5 equal shards gives the
    new one 1/5. The text says both steps; the hidden test grades exactly that."""
    stay = [h for h in range(20) if h % 4 == h % 5]
    assert stay == [0, 1, 2, 3]
    assert 1 - len(stay) / 20 == pytest.approx(0.8)
    text = _exercise_text(3)
    assert "calculate" in text.lower() and "predict" not in text.lower()
    assert "h mod 4 = h mod 5" in text and "graded later" in text
    hidden = _blocks("hidden")["q3"][0]
    assert "abs(calculated_modulo - 0.8)" in hidden and "predicted" not in hidden


def test_q4_text_names_the_column_the_hidden_test_wants():
    text = _exercise_text(4)
    assert "booking reference" not in text and "by its `id`" in text
    assert 'shard_key == "id"' in _blocks("hidden")["q4"][0]


def test_postgres_section_skips_with_one_sentence_where_postgres_is_missing(monkeypatch,
                                                                          capsys):
    """Issue 13: where PostgreSQL cannot run, the real run says why in one sentence (the
    engine's "skipped: …") and the cells after it show nothing; no cell fails."""
    from scalekit.engines import EngineUnavailable
    from scalekit.engines import postgres as engine

    def missing(bindir=None):
        raise EngineUnavailable("PostgreSQL is not installed here (a test)")

    monkeypatch.setattr(engine, "find_postgres", missing)
    cells = section_code_cells(NOTEBOOK, "## 7. The same partitions on real PostgreSQL")
    assert len(cells) >= 4
    namespace, said = {}, {}
    for cid, source in cells:
        exec(compile(source, cid, "exec"), namespace)  # noqa: S102 — our own notebook
        said[cid] = capsys.readouterr().out.splitlines()
    runs = [cid for cid, source in cells if "engines.EngineUnavailable" in source]
    assert len(runs) == 1
    assert said[runs[0]] == ["skipped: PostgreSQL is not installed here (a test)"]
    assert all(not lines for cid, lines in said.items() if cid not in runs), said
