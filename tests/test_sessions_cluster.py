"""The sessions run (scalekit.sessions.cluster): what each strategy loses, fails and
costs behind a balancer, under normal load and when a server dies.

Sources for the rules checked here:

* HAProxy configuration manual, ``cookie <name> insert indirect nocache``: the response to a
  balanced request carries ``Set-Cookie: SERVERID=<server>``; later requests carrying it go
  to that server; a cookie naming a server that is DOWN is redispatched to a server the
  load-balancing algorithm picks (``option persist`` aside). Health checks (section 5.2,
  ``inter`` 2 s × ``fall`` 3) mark a dead server DOWN a few seconds after it dies.
* nginx ``ip_hash`` (ngx_http_upstream_ip_hash_module.c): the first three octets of the
  client's IPv4 address pick the server; a server that is down makes nginx hash again. Every
  client behind one NAT address is one client to it.
* A framework keeping sessions in one process's memory (Flask-Session's filesystem/memory
  backends, PHP's default files on one host): a request landing on another process finds no
  session — the user appears logged out.
* Django's database session backend: one row per session, read and written on every
  request. Flask's default session: a signed cookie, refused by browsers over 4,096 bytes
  (RFC 6265 §6.1; Flask warns above 4,093).

Statistical checks allow Z = 4 standard errors (tests/_stats.py), the error derived in each
test's docstring: a binomial error known in closed form, so a correct model fails one check
about 1 time in 15,800 (the normal tail beyond ±4). Every run is seeded, so a pass or a fail
is repeatable.
"""
import json
import math
import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit import sessions
from scalekit.sessions import cluster, cookies, visits
from scalekit.sessions.cluster import DATABASE_DOWN, LOST, REFUSED, SERVED, TOO_LARGE

from _stats import Z

ANSWERED = (SERVED, LOST)


def holders_at(r, instant):
    """Each user's session holder at ``instant``: the server of their last answered request
    before it (−1: none)."""
    holder = np.full(r.users, -1)
    early = (r.arrivals_at < instant) & np.isin(r.outcome, ANSWERED)
    holder[r.user_of[early]] = r.server_of[early]  # later requests overwrite earlier ones
    return holder


FAILURE = dict(servers=4, users=400, server_fails_at=50.0, failed_server=1, detection_s=6.0,
               seed=7)


@pytest.mark.parametrize("servers", [2, 4, 8])
def test_random_balancing_loses_one_minus_one_over_n_of_follow_ups(servers):
    """Random choice sends each follow-up to a uniform server, independent of the one holding
    the session: it is lost with probability 1 − 1/n, independently of every other, so the
    lost count is Binomial(follow-ups, 1 − 1/n): SE = √(p(1 − p)/follow-ups)."""
    r = sessions.simulate_sessions(strategy="none", policy="random", servers=servers,
                                   users=1500, seed=3)
    p = 1 - 1 / servers
    se = math.sqrt(p * (1 - p) / r.follow_ups)
    assert se < 0.05 * p / Z  # tight enough to see a 5% error
    assert abs(r.lost_rate - p) <= Z * se, (r.lost_rate, p, se)
    assert r.lost == int((r.outcome == LOST).sum()) and r.failed == 0


@pytest.mark.parametrize("servers", [2, 3, 4, 7])
def test_round_robin_loss_follows_from_the_arrival_order(servers):
    """Round robin sends the m-th request (0-based, in arrival order) to server m mod n, so
    a follow-up keeps its session exactly when its index and the index of the user's
    previous request differ by a multiple of n — a count derived from the arrivals alone."""
    r = sessions.simulate_sessions(strategy="none", policy="round_robin", servers=servers,
                                   users=200, seed=servers)
    expected, previous = 0, {}
    for m, u in enumerate(r.user_of.tolist()):
        if u in previous and (m - previous[u]) % servers:
            expected += 1
        previous[u] = m
    assert r.lost == expected
    np.testing.assert_array_equal(r.server_of, np.arange(r.requests) % servers)


def test_round_robin_loses_every_follow_up_of_a_lone_user():
    """One user alone: consecutive requests go to consecutive servers, so with n ≥ 2 every
    follow-up is lost — worse than random's 1 − 1/n; with one server none is."""
    lone = dict(users=1, visit_requests=20, think_s=1.0, duration_s=100.0, seed=1)
    r = sessions.simulate_sessions(strategy="none", servers=3, **lone)
    assert r.follow_ups == r.requests - 1 > 5 and r.lost == r.follow_ups
    assert sessions.simulate_sessions(strategy="none", servers=1, **lone).lost == 0


@pytest.mark.parametrize("strategy", ["sticky_cookie", "sticky_ip"])
@pytest.mark.parametrize("policy", ["round_robin", "random", "fewest_connections"])
def test_sticky_strategies_lose_nothing_without_a_failure(strategy, policy):
    r = sessions.simulate_sessions(strategy=strategy, policy=policy, users=300, seed=2)
    assert r.lost == r.failed == 0 and r.follow_ups > 1000
    for u in range(r.users):  # every user's requests go to one server
        assert np.unique(r.server_of[r.user_of == u]).size == 1


def test_nat_users_all_land_on_one_server_and_skew_the_load():
    """Every user behind the NAT has one address, so ip_hash sends all their requests to one
    server s. Then load[s] ≥ their request count R_nat out of R, so
    max/mean ≥ load[s] / (R/n) ≥ n·R_nat/R — the skew the NAT forces."""
    n, share = 4, 0.4
    r = sessions.simulate_sessions(strategy="sticky_ip", servers=n, users=500, nat_share=share,
                                   seed=6)
    assert r.behind_nat.sum() == round(share * 500)
    nat_requests = np.isin(r.user_of, np.flatnonzero(r.behind_nat))
    servers = np.unique(r.server_of[nat_requests])
    assert servers.size == 1
    s = int(servers[0])
    assert r.load_before[s] >= nat_requests.sum()
    bound = n * nat_requests.sum() / r.requests
    assert r.imbalance_before >= bound > 1.4
    even = sessions.simulate_sessions(strategy="sticky_ip", servers=n, users=500, seed=6)
    assert even.imbalance_before < r.imbalance_before


@pytest.mark.parametrize("strategy", ["sticky_cookie", "sticky_ip"])
def test_sticky_loses_exactly_the_returning_users_of_the_dead_server(strategy):
    """The sessions lost are those in the dead server's memory: one lost request for each
    user whose session it held at the crash and who came back after it was marked down
    (requests in between are refused). No one else loses anything."""
    r = sessions.simulate_sessions(strategy=strategy, **FAILURE)
    dead, down_at = r.failed_server, r.marked_down_at
    assert down_at == 56.0
    holder = holders_at(r, r.server_fails_at)
    assert r.sessions_on_failed_server == int((holder == dead).sum()) > 20
    returned = set(r.user_of[r.arrivals_at >= down_at].tolist())
    expected = {u for u in np.flatnonzero(holder == dead).tolist() if u in returned}
    lost = r.user_of[r.outcome == LOST]
    assert sorted(lost.tolist()) == sorted(expected)  # each of them exactly once
    assert (r.arrivals_at[r.outcome == LOST] >= down_at).all()
    # refused: exactly the requests sent to the dead server between the crash and the mark
    window = (r.arrivals_at >= r.server_fails_at) & (r.arrivals_at < down_at)
    assert np.array_equal(r.outcome == REFUSED, window & (r.server_of == dead))
    assert r.failed == r.refused > 0


def test_redispatched_users_stick_to_their_new_server():
    """HAProxy inserts a new SERVERID with the redispatched response: after the mark-down
    each user's requests go to one live server."""
    r = sessions.simulate_sessions(strategy="sticky_cookie", **FAILURE)
    late = r.arrivals_at >= r.marked_down_at
    assert (r.server_of[late] != r.failed_server).all()
    for u in np.unique(r.user_of[late]).tolist():
        assert np.unique(r.server_of[late & (r.user_of == u)]).size == 1


@pytest.mark.parametrize("strategy", ["database", "client"])
def test_shared_and_client_sessions_lose_nothing_when_a_server_dies(strategy):
    r = sessions.simulate_sessions(strategy=strategy, **FAILURE)
    assert r.lost == 0 and r.sessions_on_failed_server == 0
    window = (r.arrivals_at >= r.server_fails_at) & (r.arrivals_at < r.marked_down_at)
    assert r.failed == r.refused == int((window & (r.server_of == r.failed_server)).sum()) > 0
    assert r.load_after[r.failed_server] == 0
    assert r.imbalance_after < 1.05  # round robin over the three servers left


def test_no_sharing_loses_the_dead_servers_sessions_too():
    with_failure = sessions.simulate_sessions(strategy="none", **FAILURE)
    assert with_failure.lost > 0.6 * with_failure.follow_ups
    assert with_failure.sessions_on_failed_server > 0


def test_the_failure_only_changes_what_follows_it():
    healthy = sessions.simulate_sessions(strategy="sticky_cookie",
                                         **{**FAILURE, "server_fails_at": None})
    failed = sessions.simulate_sessions(strategy="sticky_cookie", **FAILURE)
    before = failed.arrivals_at < failed.server_fails_at
    np.testing.assert_array_equal(healthy.server_of[before], failed.server_of[before])
    assert failed.load_before == tuple(np.bincount(healthy.server_of[before], minlength=4))
    assert math.isnan(healthy.imbalance_after) and healthy.failed_server == -1


def test_a_failure_noticed_after_the_end_has_no_after_window():
    r = sessions.simulate_sessions(strategy="none", duration_s=60.0, server_fails_at=58.0,
                                   detection_s=6.0, seed=1)
    assert r.marked_down_at > r.duration_s and math.isnan(r.imbalance_after)
    assert r.refused > 0


def test_database_down_fails_every_request_after_it():
    r = sessions.simulate_sessions(strategy="database", database_down_at=70.0, seed=8)
    late = r.arrivals_at >= 70.0
    assert (r.outcome[late] == DATABASE_DOWN).all() and late.sum() > 100
    assert (r.outcome[~late] != DATABASE_DOWN).all()
    assert r.database_failures == r.failed == late.sum()
    # the other strategies keep no database to lose
    other = sessions.simulate_sessions(strategy="client", database_down_at=70.0, seed=8)
    assert other.failed == 0


def test_the_sqlite_store_is_real(tmp_path):
    """After a run, the file holds one row per user who was answered, with the session as
    their last answered request left it and that request's instant."""
    path = tmp_path / "sessions.sqlite3"
    r = sessions.simulate_sessions(strategy="database", users=80, database_down_at=90.0,
                                   database_path=path, seed=9)
    assert r.database_path == str(path)
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(sessions)")]
        rows = db.execute("SELECT id, data, updated_at FROM sessions").fetchall()
    assert columns == ["id", "data", "updated_at"]
    answered = np.isin(r.outcome, ANSWERED)
    assert len(rows) == np.unique(r.user_of[answered]).size
    by_user = {json.loads(data)["user_id"] - 100_000: (data, at) for _, data, at in rows}
    for u, (data, at) in by_user.items():
        j = np.flatnonzero(answered & (r.user_of == u))[-1]
        assert at == r.arrivals_at[j] < 90.0
        expected = visits.session_data(8, 200, user=u)[r.step_of[j]]
        assert json.loads(data) == expected
    assert len({sid for sid, _, _ in rows}) == len(rows)  # one id per session


def test_the_database_costs_its_stated_or_measured_latency():
    """A fixed default (the same run on every machine), this machine's measurement on
    request, and a request's end-to-end wait grows by exactly that much."""
    r = sessions.simulate_sessions(strategy="database", seed=1)
    assert r.store_ms == sessions.cluster.DEFAULT_STORE_MS
    measured = sessions.simulate_sessions(strategy="database", store_ms=None, seed=1)
    assert measured.store_ms == sessions.store_latency().median_ms > 0
    slow = sessions.simulate_sessions(strategy="database", store_ms=25.0, seed=1)
    assert slow.added_latency_ms - r.added_latency_ms == pytest.approx(25.0 - r.store_ms)
    ok = np.isin(r.outcome, ANSWERED)
    upload_ms = r.cookie_bytes_of[ok] * 8 / (r.uplink_mbps * 1e6) * 1e3
    assert r.added_latency_ms == pytest.approx(r.store_ms + upload_ms.mean())
    assert upload_ms.max() == pytest.approx(51 * 8 / 5e6 * 1e3)  # "session=<43 chars>", 5 Mbit/s
    assert sessions.simulate_sessions(strategy="none", seed=1).store_ms == 0


def test_client_cookies_are_real_signed_cookies():
    """The bytes a request carries are those of the cookie scalekit.sessions.cookies signs for the
    session the previous answer left — and that cookie verifies back to the session."""
    steps = visits.session_data(8, 500)
    sizes = visits.cookie_sizes(8, 500)
    for data, (size, fits) in zip(steps, sizes, strict=True):
        cookie = cookies.dumps(data, visits.SECRET_KEY, clock=lambda: 1_750_000_000)
        assert fits and size == len("session=") + len(cookie)
        assert cookies.loads(cookie, visits.SECRET_KEY, clock=lambda: 1_750_000_000) == data
    r = sessions.simulate_sessions(strategy="client", session_bytes=500, users=50, seed=3)
    previous = {}
    for j in range(r.requests):
        u = int(r.user_of[j])
        assert r.cookie_bytes_of[j] == (sizes[previous[u]][0] if u in previous else 0)
        previous[u] = int(r.step_of[j])


def test_request_bytes_grow_with_the_session_and_fail_past_the_cookie_limit():
    small = sessions.simulate_sessions(strategy="client", session_bytes=200, seed=4)
    large = sessions.simulate_sessions(strategy="client", session_bytes=2000, seed=4)
    assert large.cookie_bytes > 5 * small.cookie_bytes and large.failed == 0
    assert large.max_cookie_bytes <= len("session=") + cookies.MAX_COOKIE_BYTES
    too_big = sessions.simulate_sessions(strategy="client", session_bytes=5000, seed=4)
    assert too_big.too_large == too_big.failed == too_big.requests
    # near the limit, the session outgrows the cookie part-way through a visit
    edge = sessions.simulate_sessions(strategy="client", session_bytes=3950, seed=4)
    sizes = visits.cookie_sizes(8, 3950)
    assert sizes[0][1] and not sizes[-1][1]
    too_large_steps = {i for i, (_, fits) in enumerate(sizes) if not fits}
    assert set(edge.step_of[edge.outcome == TOO_LARGE].tolist()) == too_large_steps


def test_server_side_strategies_send_a_session_id_and_sticky_adds_serverid():
    plain = sessions.simulate_sessions(strategy="database", users=50, seed=2)
    sticky = sessions.simulate_sessions(strategy="sticky_cookie", users=50, seed=2)
    follow = plain.follow_up
    assert set(plain.cookie_bytes_of[follow].tolist()) == {len("session=") + 43}
    # "session=<id>; SERVERID=s<i>"
    assert set(sticky.cookie_bytes_of[sticky.follow_up].tolist()) == {51 + len("; SERVERID=s0")}
    assert (plain.cookie_bytes_of[plain.step_of == 0] == 0).all()


@settings(max_examples=15, deadline=None)
@given(strategy=st.sampled_from(sessions.STRATEGIES),
       policy=st.sampled_from(["round_robin", "random", "fewest_connections", "power_of_two"]),
       servers=st.integers(2, 6), fails_at=st.one_of(st.none(), st.floats(0, 59)),
       db_down_at=st.one_of(st.none(), st.floats(0, 59)), seed=st.integers(0, 1000),
       session_bytes=st.integers(0, 4500), nat_share=st.floats(0, 1))
def test_every_request_is_served_lost_or_failed_exactly_once(strategy, policy, servers,
                                                             fails_at, db_down_at, seed,
                                                             session_bytes, nat_share):
    r = sessions.simulate_sessions(strategy=strategy, policy=policy, servers=servers,
                                   users=60, duration_s=60.0, server_fails_at=fails_at,
                                   database_down_at=db_down_at, session_bytes=session_bytes,
                                   nat_share=nat_share, seed=seed)
    counts = np.bincount(r.outcome, minlength=len(cluster.OUTCOMES))
    assert r.requests == r.outcome.size == counts.sum() == r.served + r.lost + r.failed
    assert r.failed == r.refused + r.database_failures + r.too_large
    assert (counts[SERVED], counts[LOST], counts[REFUSED]) == (r.served, r.lost, r.refused)
    assert (r.follow_up[r.outcome == LOST]).all()  # only a logged-in user can lose a session
    assert ((r.server_of >= 0) & (r.server_of < servers)).all()
    tl = r.timeline(1.0)
    assert tl.requests_per_s.sum() == r.requests and tl.lost_per_s.sum() == r.lost
    assert tl.failed_per_s.sum() == r.failed
    if fails_at is not None and r.marked_down_at < r.duration_s:
        assert r.load_after[r.failed_server] == 0


def test_same_seed_same_result_and_the_comparison_shares_the_users():
    a = sessions.simulate_sessions(strategy="sticky_ip", policy="random", nat_share=0.2,
                                   server_fails_at=40.0, seed=11)
    b = sessions.simulate_sessions(strategy="sticky_ip", policy="random", nat_share=0.2,
                                   server_fails_at=40.0, seed=11)
    assert repr(a) == repr(b)
    for name in ("arrivals_at", "server_of", "outcome", "cookie_bytes_of"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    other = sessions.simulate_sessions(strategy="sticky_ip", policy="random", seed=12)
    assert not np.array_equal(other.arrivals_at[:50], a.arrivals_at[:50])
    comp = sessions.compare_strategies(policy="random", nat_share=0.2, server_fails_at=40.0,
                                       seed=11)
    assert list(comp.results) == list(sessions.STRATEGIES)
    for r in comp.results.values():
        np.testing.assert_array_equal(r.arrivals_at, a.arrivals_at)
    assert repr(comp["sticky_ip"]) == repr(a)
    rows = comp.rows()
    assert [row["strategy"] for row in rows] == list(sessions.STRATEGIES)
    html = comp._repr_html_()
    assert "<table>" in html and "sticky_cookie" in html and "died at 40" in html
    assert "lost sessions" in a._repr_html_()


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(strategy="sticky"), ValueError, "strategy"),
    (dict(strategy=3), TypeError, "strategy"),
    (dict(servers=0), ValueError, "servers"),
    (dict(servers="4"), TypeError, "servers"),
    (dict(policy="fastest"), ValueError, "policy"),
    (dict(policy="ip_hash"), ValueError, "sticky_ip"),
    (dict(users=0), ValueError, "users"),
    (dict(visit_requests=0), ValueError, "visit_requests"),
    (dict(think_s=-1.0), ValueError, "think_s"),
    (dict(duration_s=-5.0), ValueError, "duration_s"),
    (dict(service_s=0.0), ValueError, "service_s"),
    (dict(server_fails_at=-1.0), ValueError, "server_fails_at"),
    (dict(server_fails_at=120.0), ValueError, "server_fails_at"),
    (dict(server_fails_at=500.0), ValueError, "server_fails_at"),
    (dict(server_fails_at=math.nan), ValueError, "server_fails_at"),
    (dict(server_fails_at=10.0, servers=1), ValueError, "servers=1"),
    (dict(failed_server=4), ValueError, "failed_server"),
    (dict(detection_s=-1.0), ValueError, "detection_s"),
    (dict(nat_share=1.5), ValueError, "nat_share"),
    (dict(nat_share=-0.1), ValueError, "nat_share"),
    (dict(session_bytes=-1), ValueError, "session_bytes"),
    (dict(database_down_at=-2.0), ValueError, "database_down_at"),
    (dict(database_down_at=130.0), ValueError, "database_down_at"),
    (dict(uplink_mbps=0), ValueError, "uplink_mbps"),
    (dict(database_path=3), TypeError, "database_path"),
    (dict(seed=-1), ValueError, "seed"),
])
def test_bad_input_names_the_parameter(kwargs, error, name):
    with pytest.raises(error, match=name):
        sessions.simulate_sessions(**kwargs)


def test_the_comparison_checks_its_arguments():
    with pytest.raises(ValueError, match="strategies"):
        sessions.compare_strategies([])
    with pytest.raises(ValueError, match="distinct"):
        sessions.compare_strategies(["none", "none"])
    with pytest.raises(TypeError, match="unknown setting"):
        sessions.compare_strategies(servrs=3)
    with pytest.raises(TypeError, match="unknown setting"):
        sessions.compare_strategies(strategy="none")
    with pytest.raises(ValueError, match="nat_share"):
        sessions.compare_strategies(nat_share=2.0)
    with pytest.raises(ValueError, match="bin_s"):
        sessions.simulate_sessions(users=5, seed=1).timeline(0.0)


def test_every_database_request_goes_through_the_real_store(tmp_path, monkeypatch):
    """With real_store (the default) each answered request reads and writes its session in
    the SQLite file, in one transaction: one SessionStore.handle per served request, and
    the file ends with one row per user who was answered."""
    path = tmp_path / "s.sqlite3"
    sessions.store.store_latency()  # measured first: its own 300 transactions don't count
    calls = []
    real = sessions.store.SessionStore.handle

    def spy(self, sid, update, now):
        calls.append(sid)
        return real(self, sid, update, now)

    monkeypatch.setattr(sessions.store.SessionStore, "handle", spy)
    r = sessions.simulate_sessions(strategy="database", users=40, database_path=path, seed=3)
    assert len(calls) == r.served and r.lost == 0
    rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    assert len(set(calls)) == rows
    quick = sessions.simulate_sessions(strategy="database", users=40, database_path=path,
                                       real_store=False, seed=3)
    assert (quick.served, quick.lost) == (r.served, r.lost)


def test_the_same_seed_gives_the_same_run_in_another_process():
    """DESIGN principle 3, across processes: nothing machine-dependent (such as a measured
    store latency, which feeds fewest connections' counts) may enter a default run."""
    import subprocess
    import sys

    code = ("from scalekit import sessions; import hashlib; "
            "r = sessions.simulate_sessions(strategy='database', policy='fewest_connections', "
            "server_fails_at=40.0, seed=5); "
            "print(hashlib.sha256(r.server_of.tobytes() + r.outcome.tobytes()).hexdigest())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=120).stdout.strip() for _ in range(2)}
    assert len(runs) == 1 and len(runs.pop()) == 64


def test_a_store_that_loses_a_session_shows_up_as_lost(monkeypatch):
    """The database strategy's lost sessions come from the real store: if SQLite gives a
    returning user nothing back, that request is lost — here a store that forgets user
    rows on every tenth write."""
    real = sessions.store.SessionStore.handle
    calls = [0]

    def forgetful(self, sid, update, now):
        calls[0] += 1
        if calls[0] % 10 == 0:
            self._db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
        return real(self, sid, update, now)

    monkeypatch.setattr(sessions.store.SessionStore, "handle", forgetful)
    r = sessions.simulate_sessions(strategy="database", users=60, seed=4)
    assert 0 < r.lost <= r.served // 10 + 1


# ------------------------------------------------------------------ settings


def test_settings_are_one_checked_value_and_overrides_replace_fields():
    """A SessionsSettings is checked when made; a runner takes it and any field by name, and
    the two ways give the same run; an override is checked like the field itself."""
    base = sessions.SessionsSettings(servers=5, users=120, server_fails_at=40.0, seed=4)
    a = sessions.simulate_sessions("sticky_cookie", base, detection_s=3.0)
    b = sessions.simulate_sessions("sticky_cookie", servers=5, users=120, server_fails_at=40.0,
                                   detection_s=3.0, seed=4)
    np.testing.assert_array_equal(a.outcome, b.outcome)
    np.testing.assert_array_equal(a.server_of, b.server_of)
    assert base.detection_s == 6.0  # frozen: the override made a new value
    with pytest.raises(ValueError, match="nat_share"):
        sessions.SessionsSettings(nat_share=2.0)
    with pytest.raises(ValueError, match="failed_server"):
        sessions.simulate_sessions("none", base, failed_server=5)
    with pytest.raises(TypeError, match="unknown setting.*servrs"):
        sessions.simulate_sessions("none", base, servrs=3)
    with pytest.raises(TypeError, match="SessionsSettings"):
        sessions.simulate_sessions("none", settings=dict(servers=3))


def test_a_crash_after_the_last_request_still_counts_the_sessions_it_held():
    """The dead server's memory is counted at the crash, even when no request comes after it
    (the run's last request arrives before server_fails_at)."""
    r = sessions.simulate_sessions("none", users=30, visit_requests=2, duration_s=20.0,
                                   think_s=0.5, server_fails_at=19.99, failed_server=0, seed=2)
    assert r.arrivals_at.max() < 19.99
    assert r.sessions_on_failed_server == int((holders_at(r, 19.99) == 0).sum()) > 0


def test_a_runs_notebook_view_is_a_short_summary_and_its_table_every_field():
    """Issue 19 §5: a 31-row repr before any explanation; now the few lines a reader asks
    about (each of them the run's own numbers), every field on request."""
    r = sessions.simulate_sessions(strategy="sticky_cookie", server_fails_at=60.0, seed=1)
    page = r._repr_html_()
    assert page.count("<tr>") <= 6 and "result.table(): every field" in page
    head = r.headline()
    assert head["lost sessions"] == f"{r.lost:,} ({r.lost_rate:.1%} of follow-ups)"
    assert head["failed requests"].startswith(f"{r.failed:,} ")
    assert f"{r.refused:,} refused by the dead server" in head["failed requests"]
    assert "server 0 dies at 60 s" in head["run"]
    assert set(r.table().mapping) == set(r.summary()) and len(r.summary()) > 20
