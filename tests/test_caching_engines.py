"""The caching models held to real nginx and real Valkey: the same origin and request
sequence through nginx's proxy_cache and the kit's proxy; the same Zipf trace through
Valkey's eviction policies, the store model and Che's approximation.

Sources: nginx ngx_http_proxy_module (``proxy_cache_valid``, ``Cache-Control`` handling,
``$upstream_cache_status``); RFC 9111 §5.2.2.7 (private), §5.2.2.4 (no-cache); Valkey "Key
eviction"; Che, Tung & Wang (2002) and Fricker, Robert & Roberts (2012) for the IRM forms.
"""

from __future__ import annotations

import math

import pytest

from scalekit import engines
from scalekit.caching import engines as ce
from scalekit.views.caching import engines as view


@pytest.fixture(scope="module")
def sequence():
    try:
        return ce.proxy_cache_on_nginx()
    except engines.EngineUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def eviction():
    try:
        return ce.eviction_on_valkey(("allkeys-random", "volatile-ttl", "allkeys-lfu"),
                                     requests=8000, keys=3000, capacity=300, model_runs=12)
    except engines.EngineUnavailable as exc:
        pytest.skip(str(exc))


def test_nginx_goes_miss_hit_expired_hit_on_the_home_page(sequence):
    home = [s.nginx for s in sequence.steps if s.path == "/"]
    assert home == ["MISS", "HIT", "EXPIRED", "HIT"]
    assert [s.kit for s in sequence.steps if s.path == "/"] == ["MISS", "HIT", "REVALIDATED",
                                                                  "HIT"]


def test_neither_cache_stores_a_private_page(sequence):
    assert "/profile" not in sequence.nginx_stored and "/profile" not in sequence.kit_stored
    assert not any(s.nginx_leaked or s.kit_leaked for s in sequence.steps
                   if s.path == "/profile")


def test_both_leak_a_private_page_mislabelled_public(sequence):
    leaky = [s for s in sequence.steps if s.path == "/leaky-profile"]
    assert leaky[-1].nginx_leaked and leaky[-1].kit_leaked


def test_they_differ_only_on_no_cache(sequence):
    differ = [s.path for s in sequence.steps if not s.agree]
    assert set(differ) <= {"/news"}
    assert "/news" not in sequence.nginx_stored and "/news" in sequence.kit_stored


def test_random_eviction_matches_the_model_and_ches_form(eviction):
    """Valkey's run and the model's are two draws with the model's spread (its sd over 12
    seeded traces: an estimate with 11 degrees of freedom, not 2), so their difference has
    sd·√2; Z = 4 of those (a correct model fails about 1 in 500)."""
    for name in ("allkeys-random", "volatile-ttl"):
        run = eviction[name]
        assert abs(run.engine_hit_ratio - run.model_hit_ratio) <= 4 * math.sqrt(2) * run.model_sd
        assert abs(run.engine_hit_ratio - run.che_random) <= 4 * math.sqrt(2) * run.model_sd


def test_valkey_lfu_beats_random_but_not_a_perfect_lfu(eviction):
    run = eviction["allkeys-lfu"]
    assert eviction["allkeys-random"].engine_hit_ratio < run.engine_hit_ratio < run.lfu_top


def test_views_draw(sequence, eviction):
    assert "agree on" in view.plot_proxy_cache(sequence)._suptitle.get_text()
    assert "Zipf" in view.plot_eviction_on_valkey(eviction)._suptitle.get_text()


def _readable(fig):
    """Issue 19 §5 for the engine figures (the measure is tests/test_views_replication.py)."""
    from _screen import SMALLEST_TEXT_PX, shown_text

    from scalekit.views.style import PNG_DPI
    texts = list(shown_text(fig, PNG_DPI))
    assert not [(t, px) for t, px, _ in texts if px < SMALLEST_TEXT_PX]
    assert not [t for t, _, inside in texts if not inside]
    return texts


def test_the_proxy_cache_figure_has_a_readable_row_per_step(sequence):
    """Notebook 06 shows it at 1024×768: one row per step, the status and the origin's
    answer written in each cache's cell, every word at least 9 px."""
    texts = [t for t, _, _ in _readable(view.plot_proxy_cache(sequence))]
    for i, s in enumerate(sequence.steps):
        assert any(t.startswith(f"{i + 1}. {s.path}") for t in texts)
        for side in ("nginx", "kit"):
            origin = " ".join(map(str, getattr(s, f"{side}_origin"))) or "not asked"
            assert any(t.startswith(f"{getattr(s, side)}  ·  origin: {origin}") for t in texts)
    assert sum("LEAK" in t for t in texts) == sum(s.nginx_leaked + s.kit_leaked
                                                  for s in sequence.steps)


def test_the_eviction_figure_is_readable(eviction):
    _readable(view.plot_eviction_on_valkey(eviction))
