"""A real PostgreSQL streaming-replication cluster on loopback: a primary, N standbys, a
relay on every link, and the failover tools — promote, crash, rewind, rejoin.

The real mechanism (PostgreSQL documentation, "High Availability, Load Balancing, and
Replication", §27.2 log-shipping standby servers). A standby starts as a copy of the
primary (``pg_basebackup -R -X stream``, which also writes ``standby.signal`` and
``primary_conninfo``), then its WAL receiver streams the primary's write-ahead log and its
startup process replays it. The primary sees each standby in ``pg_stat_replication``: how
far it has *written*, *flushed* and *replayed* (LSNs) and how long each took (the lags).
``synchronous_standby_names`` lists the standbys a commit may wait for; each session's
``synchronous_commit`` says for what (off, local, remote_write, on, remote_apply).

Here every standby's ``primary_conninfo`` points at a :class:`~scalekit.engines.relay.Relay`
in front of its upstream, so the link has a delay and can be cut. After a failover
(:meth:`PostgresCluster.fail_primary`, :meth:`~PostgresCluster.promote`) the old primary
holds WAL the new timeline never had; :meth:`~PostgresCluster.try_rejoin` shows it cannot
simply follow, and :meth:`~PostgresCluster.rewind` runs ``pg_rewind`` and attaches it.

``with PostgresCluster(standbys=1, delay_s=0.01) as cluster: ...`` — everything started is
stopped on exit, on an exception and on KeyboardInterrupt; at interpreter exit and on
SIGTERM the engine core stops what is left.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scalekit import _check
from scalekit.engines.core import (
    log_tail,
    make_workdir,
    remove_workdir,
    run_command,
)
from scalekit.engines.errors import StandbyTimeoutError
from scalekit.engines.pgserver import (
    PostgresBinaries,
    PostgresServer,
    conninfo,
    find_postgres,
    give_to_service_user,
    psycopg,
)
from scalekit.engines.relay import Relay

__all__ = ["PostgresCluster", "RejoinAttempt", "RewindReport", "REPLICATION_COLUMNS"]

#: The columns :meth:`PostgresCluster.replication` reads from ``pg_stat_replication``.
REPLICATION_COLUMNS = ("application_name", "state", "sync_state", "sent_lsn", "write_lsn",
                       "flush_lsn", "replay_lsn", "write_lag", "flush_lag", "replay_lag")
_POLL_S = 0.01


@dataclass(frozen=True)
class RejoinAttempt:
    """The old primary started as a standby of the new one *without* a rewind: whether it
    ``rejoined`` (streams from the new primary on its timeline, and its log never said the
    timelines forked), its timeline and the new primary's (``timelines``), and the log
    ``evidence`` — the server's own words about the two timelines."""

    name: str
    rejoined: bool
    timelines: tuple[int, int]
    evidence: str


@dataclass(frozen=True)
class RewindReport:
    """``pg_rewind`` of ``name`` from ``source``: its output (last lines), the seconds it
    took, and whether the rewound server then streamed from the new primary."""

    name: str
    source: str
    seconds: float
    output: str
    streaming: bool


class PostgresCluster:
    """A primary and ``standbys`` standbys on 127.0.0.1, each standby behind a relay with a
    one-way ``delay_s`` s (+ jitter below ``jitter_s`` s, seeded by ``seed``).

    ``synchronous``: the standby names (``"standby1"`` …) a commit waits for, or ``()``.
    ``settings``: extra ``postgresql.conf`` settings for every server. ``directory``: where
    the data directories go (must not exist or be empty; kept afterwards) — default a
    temporary directory, removed on close. ``bindir``: the PostgreSQL programs (default:
    :func:`~scalekit.engines.pgserver.find_postgres`). ``port``: the primary's port (default:
    a free one). ``timeout_s``: how long a server may take to start or a standby to stream.
    """

    def __init__(self, standbys: int = 1, *, delay_s: float = 0.0, jitter_s: float = 0.0,
                 synchronous: Sequence[str] | str = (),
                 settings: Mapping[str, object] | None = None,
                 directory: str | os.PathLike | None = None,
                 bindir: str | os.PathLike | None = None, port: int | None = None,
                 timeout_s: float = 30.0, seed: int | None = 0,
                 max_lifetime_s: float = 1800.0) -> None:
        self.n_standbys = _check.integer("standbys", standbys, low=0, high=8)
        self.delay_s = _check.number("delay_s", delay_s, low=0.0, high=10.0)
        self.jitter_s = _check.number("jitter_s", jitter_s, low=0.0, high=10.0)
        self.synchronous = _names("synchronous", synchronous)
        known = [f"standby{i}" for i in range(1, self.n_standbys + 1)]
        unknown = [s for s in self.synchronous if s not in known]
        if unknown:
            raise ValueError(f"synchronous must name standbys of this cluster ({known}), "
                             f"got {unknown}")
        for label, path in (("directory", directory), ("bindir", bindir)):
            if path is not None and not isinstance(path, str | os.PathLike):
                raise TypeError(f"{label} must be a path or None, got {type(path).__name__}")
        if bindir is not None and not Path(bindir).is_dir():
            raise ValueError(f"bindir must be an existing directory, got {str(bindir)!r}")
        _check.optional(_check.integer, "port", port, low=1, high=65535,
                        meaning="free ports, picked when it starts")
        if settings is not None and not isinstance(settings, Mapping):
            raise TypeError(f"settings must be a mapping of postgresql.conf settings, "
                            f"got {settings!r}")
        self.settings = dict(settings or {})
        self.timeout_s = _check.positive("timeout_s", timeout_s)
        self.max_lifetime_s = _check.positive("max_lifetime_s", max_lifetime_s)
        self.seed = _check.seed(seed)
        self._directory, self._bindir, self._port = directory, bindir, port
        self.binaries: PostgresBinaries | None = None
        self.root: Path | None = None
        self.servers: dict[str, PostgresServer] = {}
        self.relays: dict[str, Relay] = {}  # standby name → the relay in front of its upstream
        self.primary_name = "primary"
        self.failed: set[str] = set()
        self.startup_s: dict[str, float] = {}

    # ----------------------------------------------------------------- life cycle
    def start(self) -> PostgresCluster:
        """Start the primary and every standby; wait until each streams (and, with
        ``synchronous``, is synchronous). On any failure, everything started is stopped."""
        if self.root is not None:
            raise RuntimeError("this cluster has already been started")
        try:
            self.binaries = find_postgres(self._bindir)
            psycopg()
            self.root = make_workdir("pg-", self._directory)
            began = time.perf_counter()
            primary = PostgresServer("primary", self.root / "primary", self.binaries,
                                     port=self._port, settings=self.settings)
            primary.initialise()
            primary.start(timeout_s=self.timeout_s)
            self.servers["primary"] = primary
            self.startup_s["primary"] = time.perf_counter() - began
            for i in range(1, self.n_standbys + 1):
                self.add_standby(f"standby{i}")
            if self.synchronous:
                self.set_synchronous(self.synchronous)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every server (standbys first) and relay; remove the temporary directory."""
        for name in sorted(self.servers, key=lambda n: n == self.primary_name):
            self.servers[name].stop(timeout_s=5.0)
        for relay in self.relays.values():
            relay.close()
        if self.root is not None and self._directory is None:
            remove_workdir(self.root)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        parts = [f"{n}:{s.port}{'' if s.running else ' (down)'}" for n, s in
                 self.servers.items()]
        return f"PostgresCluster({self.binaries}, primary={self.primary_name!r}, " \
               f"{', '.join(parts)})"

    # ----------------------------------------------------------------- members
    @property
    def primary(self) -> PostgresServer:
        """The current primary."""
        return self.servers[self.primary_name]

    @property
    def standbys(self) -> list[PostgresServer]:
        """The servers that follow the current primary."""
        return [s for n, s in self.servers.items()
                if n != self.primary_name and n not in self.failed]

    def server(self, name: str) -> PostgresServer:
        """The server called ``name``."""
        if name not in self.servers:
            raise ValueError(f"server must be one of {sorted(self.servers)}, got {name!r}")
        return self.servers[name]

    def relay(self, standby: str) -> Relay:
        """The relay between ``standby`` and its upstream."""
        if standby not in self.relays:
            raise ValueError(f"standby must be one of {sorted(self.relays)}, got {standby!r}")
        return self.relays[standby]

    def _new_relay(self, standby: str, upstream: PostgresServer) -> Relay:
        old = self.relays.pop(standby, None)
        if old is not None:
            old.close()
        seed = None if self.seed is None else self.seed + len(self.relays) + 1
        relay = Relay(upstream.port, delay_s=self.delay_s, jitter_s=self.jitter_s, seed=seed,
                      max_lifetime_s=self.max_lifetime_s, name=f"relay-{standby}")
        self.relays[standby] = relay
        return relay

    def add_standby(self, name: str, *, timeout_s: float | None = None) -> PostgresServer:
        """Copy the primary with ``pg_basebackup -R -X stream`` through a new relay, start
        the copy as a hot standby and wait until it streams."""
        if name in self.servers:
            raise ValueError(f"a server called {name!r} already exists")
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        began = time.perf_counter()
        relay = self._new_relay(name, self.primary)
        datadir = self.root / name
        run_command([self.binaries.tool("pg_basebackup"), "-D", datadir, "-R", "-X", "stream",
                     "-c", "fast", "--no-sync", "-d",
                     conninfo(relay.port, application_name=name)],
                    timeout_s=max(timeout_s, 60.0), what=f"pg_basebackup of {name}")
        server = PostgresServer(name, datadir, self.binaries, settings=self.settings)
        server.write_config()
        self.servers[name] = server
        server.start(timeout_s=timeout_s)
        self.wait_streaming([name], timeout_s=timeout_s)
        self.startup_s[name] = time.perf_counter() - began
        return server

    # ----------------------------------------------------------------- replication state
    def replication(self) -> dict[str, dict]:
        """``pg_stat_replication`` on the primary: standby name → its row (LSNs as text,
        lags in seconds or None)."""
        rows = self.primary.query(
            f"SELECT {', '.join(REPLICATION_COLUMNS)} FROM pg_stat_replication")
        out = {}
        for row in rows:
            rec = dict(zip(REPLICATION_COLUMNS, row, strict=True))
            for key in ("write_lag", "flush_lag", "replay_lag"):
                if rec[key] is not None:
                    rec[key] = rec[key].total_seconds()
            out[rec["application_name"]] = rec
        return out

    def wait_streaming(self, names: Sequence[str] | None = None, *, sync: bool = False,
                       timeout_s: float | None = None) -> None:
        """Wait until every standby in ``names`` (default: all that follow the primary)
        shows ``state = streaming`` (and ``sync_state = sync`` with ``sync``) in
        ``pg_stat_replication``; else :class:`StandbyTimeoutError`."""
        names = [s.name for s in self.standbys] if names is None else list(names)
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.replication()
            missing = [n for n in names if rows.get(n, {}).get("state") != "streaming"
                       or (sync and rows[n]["sync_state"] != "sync")]
            if not missing:
                return
            if time.monotonic() > deadline:
                name = missing[0]
                relay = self.relays.get(name)
                raise StandbyTimeoutError(
                    name, "synchronous" if sync else "streaming", timeout_s,
                    f"its link {relay!r}; the end of its log:\n"
                    f"{log_tail(self.servers[name].log_path)}")
            time.sleep(_POLL_S)

    def set_synchronous(self, names: Sequence[str] | str = (), *,
                        timeout_s: float | None = None) -> None:
        """Make commits wait for the standbys ``names`` (``FIRST n (...)``), or for none
        (``()``): ``ALTER SYSTEM SET synchronous_standby_names`` and a reload; waits until
        ``pg_stat_replication`` shows them ``sync``."""
        names = _names("names", names)
        for n in names:
            if n not in self.servers or n == self.primary_name:
                raise ValueError(f"names must be standbys of {sorted(self.relays)}, got {n!r}")
        value = f"FIRST {len(names)} ({', '.join(names)})" if names else ""
        with self.primary.connect() as conn:
            conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{value}'")
            conn.execute("SELECT pg_reload_conf()")
        self.synchronous = names
        if names:
            self.wait_streaming(names, sync=True, timeout_s=timeout_s)
        else:
            deadline = time.monotonic() + (timeout_s or self.timeout_s)
            while any(r["sync_state"] == "sync" for r in self.replication().values()):
                if time.monotonic() > deadline:
                    raise StandbyTimeoutError(self.primary_name, "asynchronous again",
                                              timeout_s or self.timeout_s)
                time.sleep(_POLL_S)

    def set_delay(self, delay_s: float, jitter_s: float | None = None) -> None:
        """Change the one-way delay (and jitter) of every relay, from the next byte on."""
        self.delay_s = _check.number("delay_s", delay_s, low=0.0, high=10.0)
        if jitter_s is not None:
            self.jitter_s = _check.number("jitter_s", jitter_s, low=0.0, high=10.0)
        for relay in self.relays.values():
            relay.delay_s, relay.jitter_s = self.delay_s, self.jitter_s

    def wait_caught_up(self, *, timeout_s: float | None = None) -> None:
        """Wait until every standby has replayed all the WAL the primary has written."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        with self.primary.connect() as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        for s in self.standbys:
            with s.connect() as conn:
                while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                       (target,)).fetchone()[0]:
                    if time.monotonic() > deadline:
                        raise StandbyTimeoutError(s.name, f"replayed up to {target}",
                                                  timeout_s or self.timeout_s)
                    time.sleep(_POLL_S)

    # ----------------------------------------------------------------- failover
    def fail_primary(self) -> str:
        """The primary's host fails: every link to it is cut (the WAL still in flight on
        it is dropped) and its postmaster and processes are SIGKILLed. Returns its name."""
        name = self.primary_name
        for standby, relay in self.relays.items():
            if relay.target[1] == self.primary.port and standby != name:
                relay.cut()
        self.primary.crash()
        self.failed.add(name)
        return name

    def promote(self, name: str, *, timeout_s: float | None = None) -> float:
        """Promote the standby ``name`` (``pg_promote``) — the current primary must have
        failed — and point the remaining standbys at it. Returns the promotion's seconds."""
        server = self.server(name)
        if self.primary.running and self.primary_name not in self.failed:
            raise RuntimeError(f"{self.primary_name!r} is a live primary: fail it before "
                               f"promoting another (two primaries would split the cluster)")
        if name in self.failed or name == self.primary_name:
            raise ValueError(f"{name!r} is not a live standby")
        seconds = server.promote(timeout_s=timeout_s or self.timeout_s)
        self.primary_name = name
        self.synchronous = ()
        for other in self.standbys:
            self._follow(other, server)
        return seconds

    def _follow(self, standby: PostgresServer, upstream: PostgresServer) -> None:
        relay = self._new_relay(standby.name, upstream)
        with standby.connect() as conn:
            conn.execute(f"ALTER SYSTEM SET primary_conninfo = "
                         f"'{conninfo(relay.port, application_name=standby.name)}'")
            conn.execute("SELECT pg_reload_conf()")

    def try_rejoin(self, name: str, *, wait_s: float = 3.0) -> RejoinAttempt:
        """Start the failed old primary ``name`` as a standby of the current primary, with
        no rewind; watch it up to ``wait_s`` s (less once its log says the timelines forked),
        stop it, and report what happened."""
        old = self.server(name)
        if name not in self.failed:
            raise ValueError(f"{name!r} has not failed; only a failed primary rejoins")
        relay = self._new_relay(name, self.primary)
        (old.datadir / "standby.signal").write_text("")
        give_to_service_user(old.datadir / "standby.signal")
        with open(old.datadir / "postgresql.auto.conf", "a") as f:
            f.write(f"primary_conninfo = '{conninfo(relay.port, application_name=name)}'\n")
        old.start(timeout_s=self.timeout_s)
        theirs = self.primary.timeline()
        mine = old.timeline()
        deadline, forked = time.monotonic() + wait_s, False
        while time.monotonic() < deadline and not forked:
            forked = "forked off" in old.log_path.read_text(errors="replace")
            time.sleep(0.05)
        received = old.query("SELECT status, received_tli FROM pg_stat_wal_receiver")
        old.stop()
        text = old.log_path.read_text(errors="replace")
        lines = [ln for ln in text.splitlines() if "timeline" in ln.lower()]
        rejoined = (not forked and "forked off" not in text and bool(received)
                    and received[0][0] == "streaming" and received[0][1] == theirs)
        return RejoinAttempt(name, rejoined, (mine, theirs),
                             "\n".join(lines[-4:]) or "(no timeline message in its log)")

    def rewind(self, name: str, *, timeout_s: float | None = None) -> RewindReport:
        """``pg_rewind`` the failed old primary ``name`` onto the current primary's timeline
        (``-R`` writes its standby settings), start it as a standby behind a relay and wait
        until it streams."""
        old = self.server(name)
        if name not in self.failed:
            raise ValueError(f"{name!r} has not failed; only a failed primary is rewound")
        timeout_s = timeout_s or self.timeout_s
        old.stop()
        began = time.perf_counter()  # straight to the source: the relay's delay would
        out = run_command(  # make each of pg_rewind's many small queries a round trip
            [self.binaries.tool("pg_rewind"), "-D", old.datadir, "-R",
             f"--source-server={self.primary.conninfo(application_name=name)}"],
            timeout_s=max(timeout_s, 60.0), what=f"pg_rewind of {name}")
        seconds = time.perf_counter() - began
        old.write_config()  # pg_rewind copied the source's configuration files
        relay = self._new_relay(name, self.primary)
        with open(old.datadir / "postgresql.auto.conf", "a") as f:  # the last line wins
            f.write(f"primary_conninfo = '{conninfo(relay.port, application_name=name)}'\n")
        old.start(timeout_s=timeout_s)
        self.failed.discard(name)
        self.wait_streaming([name], timeout_s=timeout_s)
        return RewindReport(name, self.primary_name, seconds,
                            "\n".join(out.strip().splitlines()[-4:]), True)

    # ----------------------------------------------------------------- what to show
    def describe(self) -> str:
        """Every server's generated configuration and every link, as text for a notebook."""
        parts = [f"{self.binaries}; data under {self.root}"]
        for s in self.servers.values():
            parts.append(s.config_text.rstrip())
        for standby, relay in self.relays.items():
            parts.append(f"# {standby} streams from port {relay.target[1]} through {relay!r}")
        return "\n\n".join(parts)


def _names(name: str, value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,) if value else ()
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a standby name or a sequence of them, got {value!r}")
    return tuple(value)
