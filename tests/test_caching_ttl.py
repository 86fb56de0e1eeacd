"""The TTL trade-off (scalekit.caching.serverside.ttl) against its closed forms, derived in
the module docstring (Poisson reads λ and writes μ, TTL T), within Z = 4 standard errors over
seeds."""

import numpy as np
import pytest

from scalekit.caching.serverside import ttl as ttl_model
from scalekit.sim import estimate

from _stats import assert_matches, mean_over_seeds


@pytest.mark.parametrize("ttl", [0.2, 1.0, 3.0])
def test_one_key_ttl_matches_the_closed_form(ttl):
    lam, mu = 20.0, 1.0
    theory = ttl_model.ttl_single_key(ttl, lam, mu)
    assert theory["db_reads_per_s"] == pytest.approx(1 / (ttl + 1 / lam))
    runs = {}

    def run(seed):
        if seed not in runs:
            runs[seed] = ttl_model.ttl_tradeoff([ttl], read_rate=lam, write_rate=mu, keys=1,
                                            duration_s=600.0, seed=seed)
        return runs[seed]

    for name in ("db_reads_per_s", "stale_share", "stale_hit_share", "mean_staleness_s"):
        mean, se = mean_over_seeds(lambda s, name=name: getattr(run(s), name)[0], reps=8)
        assert_matches(mean, se, theory[name], power=0.1)
        assert getattr(run(next(iter(runs))), "theory_" + name)[0] == pytest.approx(
            theory[name])


def test_many_keys_ttl_matches_the_summed_closed_form():
    ttls = [0.5, 5.0]
    runs = [ttl_model.ttl_tradeoff(ttls, read_rate=300, write_rate=30, keys=200, skew=1.0,
                               duration_s=100.0, seed=s) for s in range(8)]
    for name in ("db_reads_per_s", "stale_share"):
        for j in range(2):
            mean, se = estimate([getattr(r, name)[j] for r in runs])
            assert_matches(mean, se, getattr(runs[0], "theory_" + name)[j], power=0.1)


def test_longer_ttls_trade_database_reads_for_staleness():
    r = ttl_model.ttl_tradeoff([0.1, 1, 10, 60], keys=100, duration_s=20.0)
    assert np.all(np.diff(r.db_reads_per_s) < 0) and np.all(np.diff(r.stale_share) > 0)
    assert np.all(np.diff(r.hit_ratio) > 0)
    assert r.reads > 0 and r.writes > 0


def test_ttl_single_key_limits():
    small = ttl_model.ttl_single_key(1e-6, 10, 1)
    assert small["stale_share"] == pytest.approx(0, abs=1e-6)
    no_writes = ttl_model.ttl_single_key(5, 10, 0)
    assert no_writes["stale_share"] == 0 and no_writes["mean_staleness_s"] == 0


@pytest.mark.parametrize("kw, name", [
    ({"ttls_s": [0]}, "ttls_s"), ({"read_rate": 0}, "read_rate"),
    ({"write_rate": -1}, "write_rate"), ({"keys": 0}, "keys"),
    ({"duration_s": 1e6}, "duration_s"), ({"progress": "x"}, "progress"),
])
def test_ttl_tradeoff_bad_input_names_the_parameter(kw, name):
    args = {"ttls_s": [1.0]} | kw
    with pytest.raises((ValueError, TypeError), match=name):
        ttl_model.ttl_tradeoff(args.pop("ttls_s"), **args)


# --------------------------------------------------------------------------- races
