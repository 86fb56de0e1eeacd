"""The capstone's design model (scalekit.design): every tier's number is the topic model's on
the same inputs, closed forms where they exist, monotone where it must be, bad input named."""

import math

import numpy as np
import pytest

from scalekit import balancing, caching, design, partitioning, replication, sim
from scalekit.design import tiers
from scalekit.servers import autoscaling

# A design that holds up at today's traffic: the reference for most checks.
GOOD = design.Design(max_age_s=60, shared_cache=True, servers=60, cache_keys=1000,
                     sessions="database", shards=2, replicas=1, commit="remote_write")


@pytest.fixture(scope="module")
def good():
    return design.evaluate(GOOD)


def test_requests_reaching_the_balancer_follow_the_http_caches(good):
    t = good.traffic
    c = t.cacheable_share
    fwd = 1 - c + c * good.http_forwarded
    assert good.tier("balancer").requests_rps == pytest.approx(good.offered_rps * fwd)
    assert good.tier("HTTP cache").requests_rps == pytest.approx(good.offered_rps)


def test_a_shared_cache_forwards_one_request_per_max_age_cycle():
    """Renewal: a copy lives max-age M, so a page asked λ/s is fetched once per M + 1/λ:
    the share forwarded is 1/(1 + λM) (caching.browser's closed form at a huge update gap;
    Date's whole seconds shorten a copy's life by half a second on average)."""
    rate, m = 2.0, 30
    run = tiers.http_tier(m, True, rate, 1e6, 1e9, 0)
    assert run.forwarded_browser == pytest.approx(1.0, abs=0.01)  # one visit per 11 days
    expected = 1 / (1 + rate * (m - 0.5))
    cycles = run.proxy.origin_requests
    assert run.forwarded_proxy == pytest.approx(expected, rel=3 / math.sqrt(cycles))


def test_the_app_pool_is_the_servers_topic_model(good):
    d = GOOD
    day = good.traffic.trace()
    fwd = good.tier("balancer").requests_rps / good.offered_rps
    pool = autoscaling.fixed_servers(sim.TrafficTrace(day.times_s, day.rates_rps * fwd),
                                     d.servers, mean_service_s=d.service_ms / 1e3)
    assert good.pool.server_hours == pytest.approx(pool.server_hours)
    assert good.costs["app servers"] == pytest.approx(
        pool.server_hours / 24 * good.prices.app_server_per_h)


def test_balancer_and_servers_are_the_balancing_topics_run(good):
    d, lam = GOOD, good.tier("balancer").requests_rps
    w = sim.Workload.poisson(lam, sim.Exponential(d.service_ms / 1e3), n=tiers.REQUESTS,
                             seed=good.traffic.seed)
    run = balancing.balance_through(w, servers=good.servers, policy=d.policy,
                                    warmup_s=0.1 * w.horizon_s, seed=good.traffic.seed)
    a = run.arrivals_at
    m = (a >= run.warmup_s) & (a <= run.horizon_s)
    app = (run.departures_at[m] - run.balanced_at[m]) * 1e3
    assert good.tier("app servers").p99_ms == pytest.approx(
        float(np.percentile(app, 99, method="inverted_cdf")))
    assert good.tier("balancer").p50_ms == pytest.approx(
        float(np.percentile((run.balanced_at[m] - a[m]) * 1e3, 50, method="inverted_cdf")))


def test_a_cache_that_never_expires_has_ches_hit_ratio_and_sends_the_misses_on():
    t = design.Traffic(read_share=1.0, cacheable_share=0.0, spike_rps=0.0)
    r = design.evaluate(design.Design(servers=60, cache_keys=500, cache_ttl_s=1e7,
                                      shards=4), t)
    che = caching.che_lru_hit_ratio(caching.zipf_popularities(t.keys, t.skew), 500)
    assert r.cache_hit_ratio == pytest.approx(che, abs=1e-3)
    cache, db = r.tier("server-side cache"), r.tier("database")
    assert db.requests_rps == pytest.approx(cache.requests_rps * (1 - r.cache_hit_ratio))


def test_the_database_load_is_shard_placement_over_read_scaling(good):
    t, d = good.traffic, GOOD
    p = caching.zipf_popularities(t.keys, t.skew)
    placed = partitioning.strategy(d.shard_strategy, d.shards).shards_for(list(range(t.keys)))
    counts = np.round(p * 1e6).astype(int)
    keys = [k for k, n in zip(range(t.keys), counts, strict=True) for _ in range(n)]
    rows = partitioning.shard_load(partitioning.strategy(d.shard_strategy, d.shards), keys)
    busiest = np.bincount(placed, weights=p).max()
    assert busiest == pytest.approx(rows.max() / rows.sum(), abs=1e-5)
    writes = good.offered_rps * (1 - t.read_share)
    db = good.tier("database").requests_rps
    cap = replication.read_scaling(d.replicas, write_share=writes / db,
                                   node_capacity_rps=1e3 / d.db_query_ms).throughput_rps[-1]
    assert good.tier("database").utilisation == pytest.approx(db * busiest / cap)


def test_a_primary_failure_is_the_replication_topics_run():
    """Acknowledged writes lost = the replication model's lost writes, scaled from its 50
    writes/s to the busiest shard's write rate. Across regions (50 ms) async loses some and
    remote_write none; in one region (1 ms) nothing is in flight long enough to be lost."""
    for delay_ms, commit, lossy in ((50.0, "async", True), (50.0, "remote_write", False),
                                    (1.0, "async", False)):
        r = design.evaluate(GOOD.with_(commit=commit, replica_delay_ms=delay_ms))
        run = replication.run_single_primary(replicas=1, commit=commit, delay_s=delay_ms / 1e3,
                                             jitter_s=delay_ms / 5e3, fail_at=tiers.FAIL_AT_S,
                                             seed=0)
        shares = tiers.shard_shares("jump", 2, r.traffic.keys, r.traffic.skew)
        writes = r.offered_rps * (1 - r.traffic.read_share) * shares.max()
        lost = r.failure("database primary").writes_lost
        assert lost == pytest.approx(run.lost_writes * writes / run.settings.writes_per_s)
        assert (lost > 0) == lossy


def test_cost_is_read_from_the_price_table(good):
    p = good.prices
    assert good.costs["database"] == pytest.approx(2 * 2 * p.db_node_per_h)
    assert good.costs["balancer"] == p.balancer_per_h
    assert good.costs["server-side cache"] == p.cache_node_per_h  # 64 MB: one node
    assert good.cost_per_h == pytest.approx(sum(good.costs.values()))
    pair = design.evaluate(GOOD.with_(balancer_pair=True))
    assert pair.costs["balancer"] == 2 * p.balancer_per_h
    assert pair.failure("balancer").outage_s == pytest.approx(
        balancing.master_down_interval_s(design.VRRP_INTERVAL_S))


def test_the_p99_breakdown_adds_up_to_the_p99(good):
    assert sum(good.breakdown_p99_ms.values()) == pytest.approx(good.p99_ms, rel=0.05)
    assert sum(good.breakdown_p50_ms.values()) == pytest.approx(good.p50_ms, rel=0.05)


def test_more_replicas_never_raise_the_load_per_database_node():
    loads = [design.evaluate(GOOD.with_(replicas=k)).tier("database").utilisation
             for k in range(1, 5)]
    assert np.all(np.diff(loads) <= 0), loads


def test_a_bigger_cache_never_sends_more_to_the_database():
    sent = [design.evaluate(GOOD.with_(cache_keys=k)).tier("database").requests_rps
            for k in (0, 100, 1000, 5000)]
    assert np.all(np.diff(sent) <= 0), sent


def test_one_server_saturates_first_and_growth_says_by_how_much():
    r = design.evaluate(design.Design())
    assert r.unstable and r.saturated == "app servers" and r.first_to_saturate == "app servers"
    lam = r.peak_rps * r.tier("balancer").share
    assert r.growth_to_saturate == pytest.approx(1 / (lam * 0.020))


def test_a_change_in_a_topic_model_changes_the_capstone(monkeypatch):
    before = design.evaluate(GOOD)
    monkeypatch.setattr(caching, "che_lru_hit_ratio", lambda p, c: 0.25)
    tiers.clear()
    try:
        after = design.evaluate(GOOD)
        assert after.cache_hit_ratio < before.cache_hit_ratio
        assert after.tier("database").requests_rps > before.tier("database").requests_rps
        halved = replication.read_scaling

        def slower(k, **kw):
            return halved(k, **{**kw, "node_capacity_rps": kw["node_capacity_rps"] / 2})

        monkeypatch.setattr(replication, "read_scaling", slower)
        assert design.evaluate(GOOD).db_utilisation == pytest.approx(2 * after.db_utilisation)
    finally:
        monkeypatch.undo()
        tiers.clear()


def test_the_same_inputs_give_the_same_result():
    a, b = design.evaluate(GOOD), design.evaluate(GOOD.with_())
    assert a.p99_ms == b.p99_ms and np.array_equal(a.samples_ms, b.samples_ms)


def test_comparing_designs_names_the_cheapest_within_an_slo(good):
    cmp = design.compare({"good": GOOD, "lean": GOOD.with_(servers=45)})
    assert cmp["good"].p99_ms == good.p99_ms
    ok = [n for n in ("good", "lean") if cmp[n].p99_ms <= 200]
    assert cmp.cheapest(200) == (min(ok, key=lambda n: cmp[n].cost_per_h) if ok else None)
    assert "<table>" in cmp._repr_html_() and "<table>" in good._repr_html_()


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(servers=0), ValueError, "servers"),
    (dict(servers=2.5), TypeError, "servers"),
    (dict(policy="fastest"), ValueError, "policy"),
    (dict(shared_cache=1), TypeError, "shared_cache"),
    (dict(replicas=0, commit="remote_apply"), ValueError, "commit"),
    (dict(min_servers=5, max_servers=2), ValueError, "min_servers"),
    (dict(cache_ttl_s=0), ValueError, "cache_ttl_s"),
    (dict(eviction="lru"), ValueError, "eviction"),
    (dict(shards=10**9), ValueError, "shards"),
    (dict(service_ms=float("nan")), ValueError, "service_ms"),
])
def test_bad_designs_are_refused_naming_the_choice(kwargs, error, name):
    with pytest.raises(error, match=name):
        design.Design(**kwargs)


def test_bad_traffic_prices_and_arguments_are_named():
    with pytest.raises(ValueError, match="cacheable_share"):
        design.Traffic(read_share=0.5, cacheable_share=0.6)
    with pytest.raises(ValueError, match="peak_rps"):
        design.Traffic(peak_rps=-1)
    with pytest.raises(ValueError, match="keys"):
        design.Traffic(keys=10**9)
    with pytest.raises(ValueError, match="db_node_per_h"):
        design.Prices(db_node_per_h=-0.1)
    with pytest.raises(TypeError, match="design"):
        design.evaluate("one server")
    with pytest.raises(TypeError, match="traffic"):
        design.evaluate(GOOD, traffic=2000)
    with pytest.raises(TypeError, match="unknown choice"):
        GOOD.with_(server=3)
    with pytest.raises(ValueError, match="p99_ms"):
        design.evaluate(GOOD).meets(p99_ms=-5)
    with pytest.raises(TypeError, match="designs"):
        design.compare("GOOD")


def test_a_database_node_answers_in_mm1_time():
    """One node at load ρ: a query's time in the node is the M/M/1 sojourn, exponential with
    rate C(1 − ρ) (theory.mm1_quantile_s). The p99 of n draws has a standard error of about
    √(q/((1−q)n)) / ln(1/(1−q)) of itself (the delta method on the exponential's quantile)."""
    from scalekit import theory
    r = design.evaluate(GOOD.with_(shards=1, replicas=0, commit="async"))
    node_c = 1e3 / GOOD.db_query_ms
    rho = r.tier("database").utilisation
    expected = theory.mm1_quantile_s(rho * node_c, node_c, 0.99) * 1e3
    n = int((r.samples_ms[:, 5] > 0).sum())
    se = math.sqrt(0.99 / (0.01 * n)) / math.log(100)
    assert r.tier("database").p99_ms == pytest.approx(expected, rel=4 * se)


def test_sessions_are_the_sessions_topics_runs():
    """The sessions tier runs the sessions model on a 16-server sample of the pool: its
    losses with no failure, and those a crash adds — one server of 16 there holds 1/16 of
    the users, one of 60 here holds 1/60."""
    from scalekit import sessions
    common = dict(servers=16, policy="fewest_connections", service_s=0.02, real_store=False,
                  seed=0)
    calm = sessions.simulate_sessions("sticky_cookie", **common)
    crashed = sessions.simulate_sessions("sticky_cookie", server_fails_at=60.0, **common)
    r = design.evaluate(GOOD.with_(sessions="sticky_cookie", policy="fewest_connections"))
    assert r.session_loss_rate == calm.lost_rate
    assert r.tier("sessions").p50_ms == pytest.approx(calm.added_latency_ms)
    assert r.failure("app server").sessions_lost == pytest.approx(
        (crashed.lost - calm.lost) / crashed.users * 16 / 60)
    assert r.failure("app server").sessions_lost > 0
    assert design.evaluate(GOOD.with_(sessions="none")).session_loss_rate > 0.5


def test_tier_and_failure_tables_show_every_tier_and_component(good):
    tiers_html = good.tier_table()._repr_html_()
    failures_html = good.failure_table()._repr_html_()
    assert all(t in tiers_html for t in design.TIERS)
    assert all(c in failures_html for c in design.COMPONENTS)
    assert tiers_html.count("<tr>") == len(design.TIERS) + 1
    assert "database" in repr(good.tier_table())
