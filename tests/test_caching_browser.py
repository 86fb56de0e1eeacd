"""The revisited-page timeline against renewal-reward theory, and its accounting.

Theory. Updates are Poisson with mean gap U, visits Poisson with mean gap V, max-age M.
A visit that reaches the origin (miss, 304, full) starts a *cycle* and shows the current
version. The origin's Date has whole seconds, so the copy starts at age δ = the fraction of a
second of the fetch (uniform on [0, 1)); it is fresh while δ + a < M, a = time since the
fetch. Visits after the fetch are Poisson (memoryless), so a cycle holds on average
(M − δ)/V hits, and a hit at age a shows an outdated page with probability 1 − e^(−a/U)
(at least one update in a seconds). Renewal-reward, averaging over δ:

    stale share = E[(1/V)·∫₀^(M−δ) (1 − e^(−a/U)) da] / E[1 + (M − δ)/V]
                = (M − ½ − U + U²·e^(−M/U)·(e^(1/U) − 1)) / (V + M − ½)
    hit share   = (M − ½) / (V + M − ½)

(δ ≡ 0 gives the module's (M − U(1 − e^(−M/U))) / (V + M).) Given the visits and the cache's
decisions, the expected number of stale visits is Σ over hits of 1 − e^(−a/U), with a read
off the arrays (time since the last origin visit): the simulated count must match it, and its
mean must match the closed form with far less noise than the raw count.
"""

import numpy as np
import pytest

from scalekit.caching import http
from scalekit.caching.http import browser as browse_module
from scalekit.caching.http.browser import browse

from _stats import Z, assert_matches

M, U, V = 120, 120.0, 10.0
RUN = {"update_every_s": U, "visit_every_s": V, "duration_s": 30_000}


def closed_form_stale_share(m, u, v):
    return (m - 0.5 - u + u * u * np.exp(-m / u) * (np.exp(1 / u) - 1)) / (v + m - 0.5)


def conditional_stale(r, u):
    """P(stale) of each visit given the cache's decisions: 0 when it went to the origin,
    1 − e^(−a/U) for a hit on a copy fetched a seconds before."""
    fetched = r.outcome != "hit"
    last = np.maximum.accumulate(np.where(fetched, np.arange(r.visits), 0))
    age = r.times - r.times[last]
    return np.where(fetched, 0.0, 1.0 - np.exp(-age / u))


@pytest.fixture(scope="module")
def runs():
    seeds = np.random.SeedSequence(7).generate_state(12)
    return [browse(M, seed=int(s), **RUN) for s in seeds]


def _estimate(values):
    x = np.asarray(values, dtype=float)
    return x.mean(), x.std(ddof=1) / np.sqrt(x.size)


def test_stale_visits_match_their_conditional_expectation(runs):
    diff = [r.stale_share - conditional_stale(r, U).mean() for r in runs]
    mean, se = _estimate(diff)
    assert abs(mean) <= Z * se and se < 0.015  # a 0.06 error would show


def test_stale_share_matches_the_closed_form(runs):
    expected = closed_form_stale_share(M, U, V)
    assert_matches(*_estimate([conditional_stale(r, U).mean() for r in runs]), expected)
    assert_matches(*_estimate([r.stale_share for r in runs]), expected, power=0.15)


def test_hit_share_matches_the_closed_form(runs):
    assert_matches(*_estimate([r.hits / r.visits for r in runs]), (M - 0.5) / (V + M - 0.5))


def test_stale_pages_are_never_older_than_the_max_age(runs):
    # a hit shows a copy fetched under M seconds ago, so it went out of date after that
    for r in runs:
        assert 0 < r.mean_staleness_s < M
        stale_for = r.times[r.stale] - r.update_times[r.version[r.stale]]
        assert np.all((stale_for > 0) & (stale_for < M))
        assert r.mean_staleness_s == pytest.approx(stale_for.mean())


def test_max_age_0_with_etag_revalidates_every_visit_and_is_never_stale():
    r = browse(0, seed=3, **RUN)
    assert r.stale_visits == 0 and r.stale_share == 0 and r.hits == 0
    assert r.origin_requests == r.visits > 2000
    # a version is sent in full once; afterwards 304s until it changes
    assert r.full_responses == np.unique(r.version).size > 50
    assert r.not_modified == r.visits - r.full_responses
    assert set(r.outcome) == {"miss", "revalidated", "replaced"}


def test_max_age_0_without_validators_sends_every_visit_in_full():
    r = browse(0, etag=False, seed=3, **RUN)
    assert r.full_responses == r.origin_requests == r.visits and r.not_modified == 0
    assert r.bytes_total == r.bytes_without_cache


def test_longer_max_age_means_fewer_origin_requests_and_more_stale_pages():
    """Same seed, same visits and updates: the k-th fetch never comes earlier with a longer
    max-age, so origin requests fall on every path; the stale share rises on average."""
    ages = [0, 30, 120, 600]
    stale = np.zeros(len(ages))
    for seed in range(3):
        results = [browse(m, seed=seed, update_every_s=300, visit_every_s=20,
                          duration_s=10_000) for m in ages]
        requests = [r.origin_requests for r in results]
        assert all(a > b for a, b in zip(requests, requests[1:], strict=False)), requests
        stale += [r.stale_share for r in results]
    assert np.all(np.diff(stale) > 0), stale


def test_bytes_accounting_identity(runs):
    for r in runs[:3]:
        full, header = r.page_bytes + browse_module.HEADER_BYTES, browse_module.HEADER_BYTES
        assert r.bytes.sum() == r.bytes_total == r.full_responses * full + r.not_modified * header
        assert np.all(r.bytes[r.outcome == "hit"] == 0)
        assert np.all(r.bytes[r.outcome == "revalidated"] == header)
        assert r.bytes_without_cache == r.visits * full
        assert r.hits + r.origin_requests == r.visits
        assert set(r.outcome) <= set(http.OUTCOMES)


def test_same_seed_same_timeline_and_arrays_are_read_only():
    a, b = browse(seed=5), browse(seed=5)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.outcome, b.outcome)
    assert not browse(seed=6).times.tolist() == a.times.tolist()
    with pytest.raises(ValueError):
        a.stale[0] = True


def test_shared_cache_behaves_the_same_for_one_visitor():
    a, b = browse(seed=2, shared=True), browse(seed=2)
    assert a.shared and (a.hits, a.stale_visits) == (b.hits, b.stale_visits)


def test_summary_and_html_show_the_totals():
    r = browse(seed=1)
    assert r.summary()["visits"] == r.visits and "times" not in r.summary()
    assert "stale_share" in r._repr_html_()


@pytest.mark.parametrize("kw, name, error", [
    ({"max_age_s": -1}, "max_age_s", ValueError),
    ({"max_age_s": 1.5}, "max_age_s", TypeError),
    ({"update_every_s": 0}, "update_every_s", ValueError),
    ({"visit_every_s": -2}, "visit_every_s", ValueError),
    ({"duration_s": float("inf")}, "duration_s", ValueError),
    ({"etag": "yes"}, "etag", TypeError),
    ({"shared": 1}, "shared", TypeError),
    ({"page_bytes": -5}, "page_bytes", ValueError),
    ({"seed": -1}, "seed", ValueError),
])
def test_bad_input_names_the_parameter(kw, name, error):
    args = {"max_age_s": 60} | kw
    with pytest.raises(error, match=name):
        browse(args.pop("max_age_s"), **args)


def test_too_many_visits_is_refused_with_the_limit():
    with pytest.raises(ValueError, match="200,000"):
        browse(visit_every_s=0.01, duration_s=3600)

