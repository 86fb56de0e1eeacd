"""The engine core: errors, ports, work directories, the service user, managed processes.

Sources: Linux prctl(2) PR_SET_PDEATHSIG (the child is signalled when its parent thread
dies); proc(5) (``/proc/<pid>/environ``, ``cwd``, ``stat``); bind(2) EADDRINUSE.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from scalekit import engines
from scalekit.engines import core


def test_engine_unavailable_is_one_skip_sentence():
    exc = engines.EngineUnavailable("no wheel for this platform")
    assert str(exc) == "skipped: no wheel for this platform"
    assert exc.reason == "no wheel for this platform"
    assert isinstance(exc, engines.EngineError) and isinstance(exc, RuntimeError)


def test_free_port_can_be_bound_and_a_bound_one_is_refused():
    port = engines.free_port()
    assert engines.check_port_free(port) == port
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        with pytest.raises(engines.PortInUseError, match=str(port)) as info:
            engines.check_port_free(port)
    assert info.value.port == port


@pytest.mark.parametrize("bad, error", [("5432", TypeError), (True, TypeError),
                                        (0, ValueError), (70000, ValueError)])
def test_check_port_free_refuses_bad_ports(bad, error):
    with pytest.raises(error, match="port"):
        engines.check_port_free(bad)


def test_workdir_refuses_a_non_empty_directory_and_is_removed(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "PG_VERSION").write_text("18")
    with pytest.raises(engines.DataDirectoryExistsError, match="already exists"):
        core.make_workdir(directory=tmp_path / "full")
    made = core.make_workdir("t-")
    assert made.is_dir() and made.name.startswith(f"scalekit-{os.getpid()}-t-")
    core.remove_workdir(made)
    assert not made.exists()


def test_service_user_is_unprivileged_as_root_and_absent_otherwise():
    user = engines.service_user()
    if os.geteuid() != 0:
        assert user is None
        return
    assert user.pw_name == engines.SERVICE_USER and user.pw_uid != 0
    assert pwd.getpwnam(engines.SERVICE_USER).pw_uid == user.pw_uid


def _uid(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Uid:")).split()[1])


def test_managed_process_is_found_runs_unprivileged_and_stops(tmp_path):
    before = set(engines.owned_processes())
    p = engines.ManagedProcess(["sleep", "30"], tmp_path / "log", name="sleeper")
    try:
        assert p.alive and p.pid in engines.owned_processes()
        user = engines.service_user()
        assert _uid(p.pid) == (os.getuid() if user is None else user.pw_uid)
        assert os.getsid(p.pid) == p.pid  # a session of its own: Ctrl-C does not reach it
    finally:
        p.stop(timeout_s=2)
    assert not p.alive and p.returncode == -signal.SIGTERM
    assert set(engines.owned_processes()) == before


def test_kill_takes_the_descendants_too(tmp_path):
    script = "sleep 30 & sleep 30 & wait"
    p = engines.ManagedProcess(["sh", "-c", script], tmp_path / "log")
    deadline = time.monotonic() + 5
    while len(core._descendants(p.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    children = core._descendants(p.pid)
    assert len(children) == 2
    p.kill()
    assert not p.alive
    deadline = time.monotonic() + 5
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_alive(c) for c in children)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (proc(5): a zombie has state Z in /proc/pid/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_run_command_raises_with_the_output_tail():
    assert "hello" in core.run_command(["sh", "-c", "echo hello"])
    with pytest.raises(engines.CommandError, match="status 3") as info:
        core.run_command(["sh", "-c", "echo broken thing; exit 3"], what="demo")
    assert "broken thing" in info.value.output_tail and info.value.returncode == 3
    with pytest.raises(engines.CommandError, match="timed out"):
        core.run_command(["sleep", "10"], timeout_s=0.2)


def test_a_child_dies_with_the_python_that_started_it(tmp_path):
    """prctl(2): PR_SET_PDEATHSIG — even a SIGKILL of Python takes its server along."""
    code = textwrap.dedent(f"""
        import sys, time
        from scalekit import engines
        p = engines.ManagedProcess(["sleep", "60"], {str(tmp_path / 'log')!r})
        print(p.pid, flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        server = int(child.stdout.readline())
        assert server in engines.owned_processes(child.pid)
        child.kill()
        child.wait(10)
        deadline = time.monotonic() + 5
        while engines.owned_processes(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engines.owned_processes(child.pid) == []
    finally:
        child.kill()
        child.wait()
