"""The sessions model held to real HAProxy through a backend failure: cookies pin every
client, a map-based source hash moves the survivors' clients exactly as ``h mod k`` says,
a consistent one moves none, and lost sessions and failures agree with the model.

Sources: HAProxy 2.8 Configuration Manual — §4.2 ``cookie … insert indirect nocache``,
``balance source`` ("the IP address is hashed and divided by the total weight"),
``hash-type map-based`` / ``consistent`` ("a server going down … only its clients are
moved" for consistent), ``option redispatch``.
"""

from __future__ import annotations

import pytest

from scalekit import engines
from scalekit.sessions import engines as se
from scalekit.views.sessions import engines as view


@pytest.fixture(scope="module")
def runs():
    try:
        return se.stickiness_on_haproxy(users=40, duration_s=2.0, server_fails_at=1.0, seed=2)
    except engines.EngineUnavailable as exc:
        pytest.skip(str(exc))


def test_cookies_and_source_hashes_pin_every_client_before_the_failure(runs):
    for run in runs.runs.values():
        assert run.engine_stuck == 1.0 and run.model_stuck == 1.0


def test_cookie_stickiness_loses_the_dead_servers_sessions_as_the_model(runs):
    run = runs["cookie"]
    # exact on an idle machine; a late replay moves only the users it sent late
    assert abs(run.engine_sessions_on_dead - run.model_sessions_on_dead) <= run.late_users
    assert abs(run.engine_lost - run.model_lost) <= 1 + run.late_users
    # redispatch answers every request sent after the kill; one in flight on the dead
    # server at the kill cannot be retried (HAProxy already sent it) and fails
    assert run.engine_failed_after_crash == 0 and run.model_failed >= 0
    assert run.engine_moved == 0.0


def test_map_based_source_hash_moves_the_survivors_clients_as_h_mod_k_says(runs):
    run = runs["source"]
    assert run.engine_moved == pytest.approx(run.expected_moved)
    assert run.engine_moved > 0.2 and run.model_moved == 0.0


def test_consistent_source_hash_moves_only_the_dead_servers_clients(runs):
    assert runs["source-consistent"].engine_moved == 0.0


def test_detection_is_handed_to_the_model(runs):
    for run in runs.runs.values():
        assert 0.1 - 0.01 <= run.detection_s <= 0.2 + 0.06  # fall 2, inter 100 ms


def test_view_draws_the_comparison(runs):
    fig = view.plot_stickiness_on_haproxy(runs)
    assert "killed" in fig._suptitle.get_text()


def test_bad_methods_are_refused():
    with pytest.raises(ValueError, match="methods"):
        se.stickiness_on_haproxy(["sticky"])


def test_the_view_is_readable_at_1024x768_and_its_title_states_the_moves(runs):
    """Issue 19 §5 for notebook 03's HAProxy figure (the measure is
    tests/test_views_replication.py): every word at least 9 px, none cut; the title names
    the share of survivors' clients each method moved."""
    from _screen import SMALLEST_TEXT_PX, shown_text

    from scalekit.views.style import PNG_DPI
    fig = view.plot_stickiness_on_haproxy(runs)
    texts = list(shown_text(fig, PNG_DPI))
    assert not [(t, px) for t, px, _ in texts if px < SMALLEST_TEXT_PX]
    assert not [t for t, _, inside in texts if not inside]
    assert f"source {runs['source'].engine_moved:.0%}" in fig._suptitle.get_text()
