"""What every real server the kit runs needs: ports, a work directory, an
unprivileged user, and processes that never outlive the Python that started them.

The real mechanism. A test or a notebook that starts PostgreSQL (or HAProxy, nginx, Valkey)
owns a process tree the operating system does not clean up for it: a forgotten postmaster
keeps its port, its shared memory and its data directory. So every server here is started
through :class:`ManagedProcess`, which

* runs it in a session of its own (a Ctrl-C in the terminal reaches Python, not the server,
  and the whole tree can be signalled at once through its process group);
* asks the kernel to signal it when the thread that started it dies (Linux
  ``PR_SET_PDEATHSIG``), so even a ``kill -9`` of the notebook kernel takes the server along
  (not on macOS, which has no such call: there exit, signals and the context managers do);
* registers it, so that interpreter exit (``atexit``), SIGTERM and SIGHUP stop every server
  still running — KeyboardInterrupt and exceptions are the context managers' business;
* marks it with the environment variable :data:`OWNER_VARIABLE` (the starting Python's
  pid), inherited by every child, so :func:`owned_processes` finds the whole tree.

As root (CI, containers) servers that refuse root — PostgreSQL does — run as the system user
:data:`SERVICE_USER`, created on first use with ``useradd --system``; their directories are
handed to it. Without root everything runs as the current user.

The errors (:mod:`scalekit.engines.errors`) form one ladder under ``EngineError``;
``EngineUnavailable`` is the one reason to *skip* (no binaries on this platform): its message
starts with ``"skipped: "``.

One file of about 570 lines: process ownership (sessions, PR_SET_PDEATHSIG, the exit and
signal handlers), ports, work directories and the service user are one mechanism — each
relies on the others' invariants, and reading them apart would hide how a server is sure to
stop.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from scalekit import _check
from scalekit.engines.errors import (
    CommandError,
    DataDirectoryExistsError,
    EngineError,
    EngineUnavailable,
    PortInUseError,
)

__all__ = ["ManagedProcess", "OWNER_VARIABLE", "SERVICE_USER", "free_port", "check_port_free",
           "service_user", "reachable", "make_workdir", "remove_workdir", "run_command",
           "owned_processes", "stop_all", "log_tail"]

#: The environment variable every managed process (and its children) carries: the pid of
#: the Python process that started it.
OWNER_VARIABLE = "SCALEKIT_ENGINE_OWNER"
#: The unprivileged system user that servers run as when Python runs as root.
SERVICE_USER = "scalekit"
LOG_TAIL_LINES = 15
_PR_SET_PDEATHSIG = 1


# --------------------------------------------------------------------------- ports


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_port_free(port: int, host: str = "127.0.0.1") -> int:
    """Raise :class:`PortInUseError` unless ``port`` on ``host`` can be bound now."""
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an integer or None, got {port!r}")
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    _check.text("host", host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except socket.gaierror as exc:
            raise ValueError(f"host {host!r} is not an address here: {exc}") from exc
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUseError(port, host) from exc
            raise
    return port


# --------------------------------------------------------------------------- the user

_USER_LOCK = threading.Lock()


def service_user():
    """The account servers run as (a ``pwd.struct_passwd``): None when Python is not root
    (they run as the current user); as root, :data:`SERVICE_USER`, created with
    ``useradd --system`` if missing."""
    if os.name != "posix":
        raise EngineUnavailable(f"the real engines run on Linux and macOS, not {sys.platform}")
    if os.geteuid() != 0:
        return None
    import pwd

    with _USER_LOCK:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(SERVICE_USER)
        useradd = shutil.which("useradd")
        if useradd is None:
            raise EngineUnavailable(f"running as root, servers need an unprivileged user "
                                    f"{SERVICE_USER!r}, and there is no useradd to create it")
        done = subprocess.run(
            [useradd, "--system", "--user-group", "--no-create-home", "--home-dir",
             "/nonexistent", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            capture_output=True, text=True, timeout=30, check=False)
        try:  # another process may have created it first (useradd exit status 9)
            return pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise EngineError(f"could not create the system user {SERVICE_USER!r}: "
                              f"{done.stderr.strip()}") from None


def _path(name: str, value) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{name} must be a path, got {type(value).__name__}")
    return Path(value)


def _argv(argv) -> list[str]:
    """A command line: a non-empty list of str/Path arguments (not one string)."""
    if isinstance(argv, str | bytes) or not isinstance(argv, Sequence):
        raise TypeError(f"argv must be a list of arguments (the program first), got "
                        f"{type(argv).__name__}")
    if not argv:
        raise ValueError("argv must hold at least the program, got an empty list")
    for k, a in enumerate(argv):
        if not isinstance(a, str | os.PathLike) or not str(a):
            raise TypeError(f"argv[{k}] must be a non-empty str or path, got {a!r}")
    return [str(a) for a in argv]


def _env(env) -> None:
    if env is not None and not (isinstance(env, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise TypeError(f"env must be None or a dict of str → str, got {env!r:.80}")


def _cwd(cwd) -> None:
    if cwd is not None and not Path(_path("cwd", cwd)).is_dir():
        raise ValueError(f"cwd must be an existing directory or None, got {str(cwd)!r}")


def reachable(path: Path, user) -> bool:
    """Whether ``user`` can traverse every directory above ``path`` and read it."""
    path = _path("path", path)
    if user is not None and not (hasattr(user, "pw_uid") and hasattr(user, "pw_gid")):
        raise TypeError(f"user must be a pwd.struct_passwd (service_user()) or None, got "
                        f"{type(user).__name__}")
    if user is None:
        return os.access(path, os.R_OK | os.X_OK)
    for part in [*reversed(path.parents), path]:
        st = part.stat()
        mode = st.st_mode
        bit = 0o001 if part != path else 0o005
        if st.st_uid == user.pw_uid:
            bit <<= 6
        elif st.st_gid == user.pw_gid:
            bit <<= 3
        if not mode & bit:
            return False
    return True



# --------------------------------------------------------------------------- directories

_WORKDIRS: set[Path] = set()


def make_workdir(prefix: str = "", directory: str | os.PathLike | None = None) -> Path:
    """A fresh directory for one engine's data — ``scalekit-<pid>-<prefix>…`` in the
    temporary directory — owned by the :func:`service_user` (if any) and removed at
    interpreter exit unless :func:`remove_workdir` did it first.

    ``directory``: use this path instead of a temporary one; it must not exist, or be empty
    (else :class:`DataDirectoryExistsError`)."""
    _check.text("prefix", prefix, min_len=0, max_len=64)
    if "/" in prefix:
        raise ValueError(f"prefix must not contain '/', got {prefix!r}")
    _hook()
    if directory is None:
        path = Path(tempfile.mkdtemp(prefix=f"scalekit-{os.getpid()}-{prefix}"))
    else:
        if not isinstance(directory, str | os.PathLike):
            raise TypeError(f"directory must be a path or None, got {directory!r}")
        path = Path(directory).absolute()
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise DataDirectoryExistsError(path)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    user = service_user()
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    _WORKDIRS.add(path)
    return path


_DELETING: list[tuple[threading.Thread, Path]] = []


def remove_workdir(path: Path, *, wait: bool = False) -> None:
    """Delete a directory made by :func:`make_workdir` (nothing if it is gone). It is
    renamed away at once and deleted in a background thread — a data directory's
    thousands of freshly synced files can take seconds to unlink — unless ``wait``."""
    path = _path("path", path)
    wait = _check.boolean("wait", wait)
    _WORKDIRS.discard(path)
    trash = path.with_name(path.name + "-deleted")
    try:
        os.rename(path, trash)
    except OSError:
        trash = path
    if wait:
        shutil.rmtree(trash, ignore_errors=True)
        return
    t = threading.Thread(target=shutil.rmtree, args=(trash,), kwargs={"ignore_errors": True},
                         name="scalekit-rmtree", daemon=True)
    t.start()
    _DELETING[:] = [d for d in _DELETING if d[0].is_alive()] + [(t, trash)]


def _hand_over_deletions() -> None:
    """At exit, deletions still running would die with their thread: hand each to a
    detached ``rm -rf``, which finishes by itself (it holds no port and no server)."""
    rm = shutil.which("rm")
    for t, trash in _DELETING:
        if t.is_alive() and rm is not None:
            with contextlib.suppress(OSError):
                subprocess.Popen([rm, "-rf", str(trash)], start_new_session=True,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env={"PATH": os.defpath})
    _DELETING.clear()


# --------------------------------------------------------------------------- processes


def _child_setup(death_signal: int):
    """What the forked child runs just before exec (after subprocess switched its user):
    die with ``death_signal`` when the thread that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)

    def setup() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)

    return setup


def _spawn_kwargs(env: Mapping[str, str] | None, death_signal: int,
                  as_service_user: bool = True) -> dict:
    user = service_user() if as_service_user else None
    full = dict(os.environ if env is None else env)
    full[OWNER_VARIABLE] = str(os.getpid())
    kw = dict(env=full, start_new_session=True, stdin=subprocess.DEVNULL,
              preexec_fn=_child_setup(death_signal) if os.uname().sysname == "Linux" else None)
    if user is not None:
        kw.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        full.update(HOME=tempfile.gettempdir(), USER=user.pw_name, LOGNAME=user.pw_name)
    return kw


def _kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def log_tail(path: str | os.PathLike, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a text file ("(empty)" or "(no log)" otherwise)."""
    _path("path", path)
    lines = _check.integer("lines", lines, low=1, high=100_000)
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    tail = text.strip().splitlines()[-lines:]
    return "\n".join(tail) if tail else "(empty)"


def run_command(argv: Sequence[str], *, timeout_s: float = 60.0, what: str = "",
                env: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None
                ) -> str:
    """Run a one-shot command as the :func:`service_user` and return its output (stdout and
    stderr together). On failure or after ``timeout_s`` s raise :class:`CommandError` with
    the last lines of the output; on any exception (KeyboardInterrupt too) its whole
    process group is killed first."""
    argv = _argv(argv)
    _check.positive("timeout_s", timeout_s)
    _check.text("what", what, min_len=0)
    _env(env)
    _cwd(cwd)
    _hook()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(list(map(str, argv)), stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd, **_spawn_kwargs(env, signal.SIGKILL))
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            code = None
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
        if code is None:
            _kill_group(proc.pid)
            proc.wait()
        out.seek(0)
        text = out.read()
    if code != 0:
        tail = "\n".join(text.strip().splitlines()[-LOG_TAIL_LINES:]) or "(no output)"
        raise CommandError(argv, code, tail, what)
    return text


class ManagedProcess:
    """One long-running server process, started now, stopped by :meth:`stop`, and stopped
    anyway at interpreter exit or on SIGTERM/SIGHUP. Its output goes to ``log_path``.

    ``death_signal`` is what the kernel sends it if the starting thread dies first
    (PostgreSQL: SIGQUIT, its immediate shutdown). ``stop_signal`` asks it to stop
    (PostgreSQL: SIGINT, the fast shutdown); after ``stop_timeout_s`` the whole process
    group gets SIGKILL.

    ``as_service_user``: False runs it as this Python's own user even as root — for the
    kit's own Python programs (the experiments' web backends), which must run this
    interpreter, and a virtualenv under ``/root`` is out of the service user's reach.
    ``cwd``: its working directory — a work directory, so that :func:`owned_processes`
    finds it even when it rewrites its environment for its process title (nginx, Valkey).
    """

    def __init__(self, argv: Sequence[str], log_path: str | os.PathLike, *, name: str = "",
                 env: Mapping[str, str] | None = None, stop_signal: int = signal.SIGTERM,
                 death_signal: int = signal.SIGKILL, stop_timeout_s: float = 10.0,
                 as_service_user: bool = True, cwd: str | os.PathLike | None = None) -> None:
        argv = _argv(argv)
        log_path = _path("log_path", log_path)
        _check.text("name", name, min_len=0)
        _env(env)
        for label, sig in (("stop_signal", stop_signal), ("death_signal", death_signal)):
            _check.integer(label, sig, low=1, high=signal.NSIG - 1)
        _check.positive("stop_timeout_s", stop_timeout_s)
        _check.boolean("as_service_user", as_service_user)
        _cwd(cwd)
        _hook()
        self.argv = [str(a) for a in argv]
        self.name = name or Path(self.argv[0]).name
        self.log_path = Path(log_path)
        self.stop_signal, self.stop_timeout_s = stop_signal, stop_timeout_s
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                          cwd=cwd,
                                          **_spawn_kwargs(env, death_signal, as_service_user))
        self.pid = self._proc.pid
        with _LOCK:
            _LIVE[self.pid] = self

    @property
    def alive(self) -> bool:
        """True while the process has not exited."""
        return self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Its exit status (negative: killed by that signal), None while it runs."""
        return self._proc.poll()

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the process (not its children)."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the process and all its descendants at once (a crash), and reap it.

        It is frozen first (SIGSTOP), so it forks nothing new while its children are
        listed — PostgreSQL's children each lead a session of their own, so a process
        group does not reach them."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGSTOP)
        for pid in [self.pid, *_descendants(self.pid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self._reap(self.stop_timeout_s)

    def stop(self, timeout_s: float | None = None) -> None:
        """Ask it to stop (``stop_signal``), wait up to ``timeout_s`` s (default
        ``stop_timeout_s``), then kill the group. Never raises for a process already gone."""
        if self.alive:
            self.send_signal(self.stop_signal)
            try:
                self._proc.wait(self.stop_timeout_s if timeout_s is None else timeout_s)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def _reap(self, timeout_s: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout_s)
        with _LOCK:
            _LIVE.pop(self.pid, None)

    def __repr__(self) -> str:
        state = "running" if self.alive else f"exited {self.returncode}"
        return f"ManagedProcess({self.name!r}, pid={self.pid}, {state})"


def _proc_stat(pid: str) -> tuple[str, int] | None:
    """(state, parent pid) of a process from /proc, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return fields[0].decode(), int(fields[1])


def _parents() -> dict[int, int]:
    """pid → parent pid of every process (/proc on Linux, ``ps`` elsewhere)."""
    if os.path.isdir("/proc/self"):
        return {int(e.name): stat[1] for e in os.scandir("/proc")
                if e.name.isdigit() and (stat := _proc_stat(e.name)) is not None}
    out = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True,
                         timeout=10, check=False).stdout
    return {int(a): int(b) for a, b in (line.split() for line in out.splitlines() if line)}


def _children_of(pid: int) -> list[int] | None:
    """The children of ``pid`` from /proc/<pid>/task/*/children (Linux 3.5+: a few reads,
    where a scan of every process takes milliseconds on a busy machine), or None."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        found = []
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(x) for x in f.read().split()]
        return found
    except (OSError, ValueError):
        return None


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` in the process tree."""
    found, todo = [], [pid]
    while todo:
        kids = _children_of(todo.pop())
        if kids is None:
            return _descendants_by_scan(pid)
        found += kids
        todo += kids
    return found


def _descendants_by_scan(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _workdir_prefix(owner: int) -> str:
    return os.path.join(tempfile.gettempdir(), f"scalekit-{owner}-")


def owned_processes(owner: int | None = None) -> list[int]:
    """The pids of live processes that the Python process ``owner`` (default: this one)
    started, found without its help: those carrying :data:`OWNER_VARIABLE` = ``owner`` in
    their environment, and those whose working directory lies in one of its work
    directories (``scalekit-<owner>-…`` in the temporary directory — PostgreSQL's backends
    rewrite their environment area for their process titles, but they keep the data
    directory as their working directory, even after it is deleted)."""
    _check.optional(_check.integer, "owner", owner, low=1, meaning="this process")
    owner = os.getpid() if owner is None else owner
    if not os.path.isdir("/proc/self"):  # no /proc (macOS): what this process started
        if owner != os.getpid():
            return []
        with _LOCK:
            roots = [p for p in _LIVE.values() if p.alive]
        return sorted({q for p in roots for q in [p.pid, *_descendants(p.pid)]})
    marker = f"{OWNER_VARIABLE}={owner}".encode()
    roots = [_workdir_prefix(owner)]
    if owner == os.getpid():
        roots += [str(p) + os.sep for p in _WORKDIRS]
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        stat = _proc_stat(entry.name)
        if stat is None or stat[0] == "Z":
            continue
        try:
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if marker in environ or any((cwd + os.sep).startswith(r) for r in roots):
            found.append(int(entry.name))
    return sorted(found)


# --------------------------------------------------------------------------- clean-up

_LIVE: dict[int, ManagedProcess] = {}
_LOCK = threading.RLock()
_HOOKED = False
_PREVIOUS: dict[int, object] = {}


def stop_all(timeout_s: float = 5.0) -> int:
    """Stop every managed process still running and delete every work directory; returns
    how many processes were stopped. Runs by itself at exit and on SIGTERM/SIGHUP."""
    _check.non_negative("timeout_s", timeout_s)
    with _LOCK:
        live = list(_LIVE.values())
    for p in live:
        p.send_signal(p.stop_signal)
    deadline = time.monotonic() + timeout_s
    for p in live:
        p.stop(max(deadline - time.monotonic(), 0.0))
    for path in list(_WORKDIRS):
        remove_workdir(path)
    _hand_over_deletions()
    return len(live)


def _on_signal(signum, frame) -> None:
    stop_all()
    previous = _PREVIOUS.get(signum)
    if callable(previous):
        previous(signum, frame)
    else:  # the default action: die of this signal, as if we had not been here
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _hook() -> None:
    """On the first server: stop everything at exit and on SIGTERM/SIGHUP (chaining to a
    handler already installed; a signal set to be ignored stays ignored)."""
    global _HOOKED
    with _LOCK:
        if _HOOKED:
            return
        _HOOKED = True
        atexit.register(stop_all)
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous = signal.getsignal(signum)
            if previous in (signal.SIG_IGN, None):
                continue
            _PREVIOUS[signum] = previous
            signal.signal(signum, _on_signal)
