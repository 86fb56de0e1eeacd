"""Cache-aside over a real SQLite airline database (scalekit.caching.serverside.aside),
judged against theory.

Sources: Che, Tung & Wang (2002) and Fricker, Robert & Roberts (2012): under the
independent reference model LRU's hit ratio is Σ p_i (1 − e^{−p_i T}) with
Σ (1 − e^{−p_i T}) = C, accurate to about 1% for Zipf popularities — the tests allow that
model error plus Z = 4 standard errors over seeds; random eviction has the same form with
p_i T / (1 + p_i T) (Gelenbe 1973); a perfect LFU keeps the top C keys.
"""

import sqlite3

import numpy as np
import pytest

from scalekit.caching.serverside import aside
from scalekit.caching.serverside.store import Cache
from scalekit.sim import estimate

from _stats import Z

KEYS = 1000
CHE_MODEL_ERROR = 0.01  # relative: Che's approximation for Zipf popularities
LFU_LEARNING = 0.02  # absolute: a counting LFU's deficit to the top-C sum after 20k requests
SAMPLED_ALLOWANCE = 0.02  # absolute: 5-sample LRU against exact LRU


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return aside.airline_db(tmp_path_factory.mktemp("caching") / "air.sqlite", KEYS)


# --------------------------------------------------------------------------- the database


def test_airline_db_is_built_once_and_reused(db):
    before = db.stat().st_mtime_ns
    assert aside.airline_db(db, KEYS) == db
    assert db.stat().st_mtime_ns == before
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*), min(id), max(id) FROM flights").fetchone() == \
            (KEYS, 1, KEYS)


def test_airline_db_rebuilds_for_other_sizes(tmp_path):
    path = aside.airline_db(tmp_path / "a.sqlite", 50)
    aside.airline_db(path, 80)
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM flights").fetchone() == (80,)


def test_reads_fill_the_cache_and_writes_reach_sqlite(db, tmp_path):
    with aside.CacheAside(db, Cache(10)) as app:
        row = app.read(7)
        with sqlite3.connect(db) as con:
            assert row == con.execute(aside._SELECT, (7,)).fetchone()
        assert app.read(7) == row and (app.reads, app.db_reads) == (2, 1)
        assert app.db_time_s > 0
        for how in aside.INVALIDATIONS:
            new = app.write(7, row[4] + 60, invalidation=how)
            assert new[4] == row[4] + 60
            with sqlite3.connect(db) as con:
                assert con.execute("SELECT departs_at FROM flights WHERE id = 7").fetchone() \
                    == (row[4] + 60,)
            assert (7 in app.cache) == (how != "delete")
            assert app.read(7) == new
            app.write(7, row[4], invalidation=how)  # put it back
        with pytest.raises(KeyError):
            app.read(KEYS + 1)
        with pytest.raises(KeyError):
            app.write(KEYS + 1, 0)
        with pytest.raises(ValueError, match="invalidation"):
            app.write(7, 0, invalidation="refresh")


def test_cache_aside_argument_errors(db, tmp_path):
    with pytest.raises(TypeError, match="cache"):
        aside.CacheAside(db, {})
    with pytest.raises(ValueError, match="db_path"):
        aside.CacheAside(tmp_path / "missing.sqlite", Cache(3))
    with pytest.raises(ValueError, match="ttl_s"):
        aside.CacheAside(db, Cache(3), ttl_s=-1)


# --------------------------------------------------------------------------- theory


def test_uniform_popularity_gives_c_over_n_for_every_formula():
    p = np.ones(500)
    for fn in (aside.che_lru_hit_ratio, aside.che_random_hit_ratio, aside.lfu_hit_ratio):
        assert fn(p, 50) == pytest.approx(0.1, rel=1e-9)
        assert fn(p, 0) == 0.0 and fn(p, 500) == pytest.approx(1.0)


def test_lfu_beats_lru_beats_random_in_theory():
    p = aside.zipf_popularities(1000, 0.9)
    for c in (10, 100, 500):
        assert (aside.lfu_hit_ratio(p, c) > aside.che_lru_hit_ratio(p, c)
                > aside.che_random_hit_ratio(p, c))


def test_theory_rejects_bad_input():
    with pytest.raises(ValueError, match="popularities"):
        aside.che_lru_hit_ratio([0.5, -0.1], 1)
    with pytest.raises(ValueError, match="capacity"):
        aside.che_random_hit_ratio([1, 2], -1)


# --------------------------------------------------------------------------- hit ratio


@pytest.fixture(scope="module")
def curves(db):
    """LRU and random at two sizes, 6 seeds of 20,000 Zipf(0.8) reads over 1,000 flights."""
    runs = [aside.hit_ratio_curve([50, 200], policies=("allkeys-lru", "allkeys-random"),
                                  keys=KEYS, skew=0.8, requests=20_000, seed=seed,
                                  db_path=db) for seed in range(6)]
    return runs


@pytest.mark.parametrize("row, theory", [(0, "che_lru"), (1, "che_random")])
def test_simulated_hit_ratio_matches_che(curves, row, theory):
    for j in range(2):
        mean, se = estimate([r.hit_ratio[row, j] for r in curves])
        expected = getattr(curves[0], theory)[j]
        assert se < 0.01
        assert abs(mean - expected) <= Z * se + CHE_MODEL_ERROR * expected, \
            (mean, se, expected)


def test_every_miss_is_one_real_query(curves):
    r = curves[0]
    assert r.db_reads.shape == (2, 2) and np.all(r.db_time_s > 0)
    measured = r.requests - r.warmup
    # the counted misses are at most all the database reads, and at least those after warm-up
    assert np.all((1 - r.hit_ratio) * measured <= r.db_reads)
    assert np.all(r.db_reads <= r.requests)


def test_lfu_keeps_the_top_c_and_beats_lru_and_random(db):
    r = aside.hit_ratio_curve([50, 200], keys=KEYS, skew=0.8, requests=40_000, warmup=0.5,
                              db_path=db, seed=3)
    lfu, lru, rnd = (r.curve(p) for p in ("allkeys-lfu", "allkeys-lru", "allkeys-random"))
    assert np.all(lfu > lru) and np.all(lru > rnd)
    # a counting LFU must learn the ranks from what it has seen: a small learning deficit
    # (stated, LEARNING) on top of the binomial standard error of the counted requests
    counted = r.requests - r.warmup
    se = np.sqrt(r.lfu_top * (1 - r.lfu_top) / counted)
    assert np.all(np.abs(lfu - r.lfu_top) <= LFU_LEARNING + Z * se), (lfu, r.lfu_top)


def test_sampled_lru_is_close_to_exact(db):
    kw = dict(keys=KEYS, skew=0.8, requests=20_000, db_path=db, policies=("allkeys-lru",))
    exact = aside.hit_ratio_curve([100], **kw).hit_ratio[0, 0]
    sampled = aside.hit_ratio_curve([100], samples=5, **kw).hit_ratio[0, 0]
    # Redis's sampled eviction is an approximation of LRU (its documentation shows it close
    # to exact at 5 samples): a stated approximation allowance plus the binomial SE of each
    counted = 20_000 - int(0.25 * 20_000)
    se = np.sqrt(2 * exact * (1 - exact) / counted)
    assert abs(exact - sampled) <= SAMPLED_ALLOWANCE + Z * se


def test_hit_ratio_curve_progress_and_errors(db):
    calls = []
    aside.hit_ratio_curve([10, 20], policies=("allkeys-lru",), keys=100, requests=200,
                          db_path=db, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 2), (2, 2)]
    with pytest.raises(ValueError, match="sizes"):
        aside.hit_ratio_curve([0], db_path=db)
    with pytest.raises(ValueError, match="policies"):
        aside.hit_ratio_curve([10], policies=("noeviction",), db_path=db)
    with pytest.raises(ValueError, match="requests"):
        aside.hit_ratio_curve([10] * 100, requests=100_000, db_path=db)
    with pytest.raises(TypeError, match="progress"):
        aside.hit_ratio_curve([10], db_path=db, progress=3)


# --------------------------------------------------------------------------- TTL


@pytest.mark.parametrize("policy, exact", [("allkeys-lru", aside.che_lru_hit_ratio),
                                           ("allkeys-random", aside.che_random_hit_ratio),
                                           ("allkeys-lfu", aside.lfu_hit_ratio)])
def test_parametric_theory_curve_agrees_with_the_solved_formulas(policy, exact):
    """theory_curve walks the characteristic time T instead of solving for it: at the
    capacities it passes through, the hit ratio must be what the bisection gives."""
    p = aside.zipf_popularities(3000, 0.9)
    caps, hits = aside.theory_curve(policy, p, points=40)
    assert np.all(np.diff(caps) >= 0) and np.all(np.diff(hits) >= 0)
    assert caps[0] < 5 and caps[-1] > 0.95 * p.size
    for c in (10, 100, 1000):
        at = np.interp(c, caps, hits)
        assert at == pytest.approx(exact(p, c), abs=0.01)
    with pytest.raises(ValueError, match="policy"):
        aside.theory_curve("allkeys-mru", p)
    with pytest.raises(ValueError, match="points"):
        aside.theory_curve(policy, p, points=1)
