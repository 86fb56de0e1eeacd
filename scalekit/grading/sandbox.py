"""Run one grading job in its own process, with limits, in a scratch folder.

A student's notebook is code the instructor has not read. Each submission is graded by a
child process (:mod:`scalekit.grading.worker`) that

* runs in a fresh scratch folder (its working directory, ``HOME``, ``TMPDIR`` and Jupyter's
  and IPython's folders all point inside it; removed afterwards), so a notebook that deletes
  or writes files meets only its own copy;
* is stopped after ``timeout_s`` of wall-clock time counted from the notebook's first cell
  (default 300 s: a master runs in under 60 s, grading adds the tests), and after
  ``startup_s`` (default 300 s) if its first cell has not started by then — starting Python,
  otter and a kernel is the grader's cost, which a loaded machine stretches, not the
  student's;
* and whose kernel — where the student's code runs — may address at most ``memory_gib``
  (default 2 GiB, ``RLIMIT_AS``), print at most ``output_mib`` (default 16 MiB) and write no
  file over ``file_mib`` (default 1 GiB): see :mod:`scalekit.grading.kernel_limits`.

Every process of a job carries a token in its environment; when the job ends — normally, at
the timeout, or when the instructor presses Ctrl-C — every process that still has it is
killed, including the kernel, which jupyter_client starts in a session of its own, and any
server the notebook started. This protects the machine and the other students' rows from
accidents (a loop, a crash, a runaway allocation, ``rm`` on the wrong folder). It is not a
security boundary against a hostile student: code can still read or write absolute paths
the instructor can. For that, grade in containers (``otter grade``) or on Gradescope.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .. import _check
from . import _args

__all__ = ["Limits", "Outcome", "run", "stop_all", "resume"]

_TOKEN = "SCALEKIT_GRADING_JOB"
_DROP_ENV = ("JPY_SESSION_NAME", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR",
             "PYTHONSTARTUP", "MPLCONFIGDIR", "JPY_PARENT_PID")
_live: dict[str, subprocess.Popen] = {}
_live_lock = threading.Lock()
_stopping = threading.Event()


@dataclass(frozen=True)
class Limits:
    """What one submission may use (wall-clock seconds; memory, output and file sizes)."""

    timeout_s: float = 300.0
    memory_gib: float = 2.0
    output_mib: float = 16.0
    file_mib: float = 1024.0
    startup_s: float = 300.0

    def __post_init__(self):
        _check.number("timeout_s", self.timeout_s, low=1.0, high=86400.0)
        _check.number("startup_s", self.startup_s, low=1.0, high=86400.0)
        _check.number("memory_gib", self.memory_gib, low=0.25, high=1024.0)
        _check.number("output_mib", self.output_mib, low=0.01, high=4096.0)
        _check.number("file_mib", self.file_mib, low=1.0, high=2**20)

    def environment(self, events: Path) -> str:
        """The JSON the worker and the kernel read (``SCALEKIT_GRADING_LIMITS``)."""
        events = _args.path("events", events)
        memory = int(self.memory_gib * 2**30)
        return json.dumps({"memory_bytes": memory, "worker_memory_bytes": memory + 2 * 2**30,
                           "cpu_s": int(2 * (self.timeout_s + self.startup_s)) + 30,
                           "output_bytes": int(self.output_mib * 2**20),
                           "file_bytes": int(self.file_mib * 2**20), "events": str(events)})


@dataclass(frozen=True)
class Outcome:
    """What a job left behind: the worker's summary (None if it wrote none) and the events."""

    result: dict | None
    events: tuple[dict, ...]
    exit_code: int | None
    timed_out: str  # "" (ended), "timeout" (the notebook ran too long), "startup" (never began)
    elapsed_s: float
    log_tail: str = ""

    @property
    def last_cell(self) -> str:
        """The first line of the last cell the kernel started ("" if none)."""
        cells = [e["cell"] for e in self.events if "cell" in e]
        return cells[-1] if cells else ""

    @property
    def output_limit(self) -> str:
        """The output limit that was hit ("" if none)."""
        return next((e["output_limit"] for e in self.events if "output_limit" in e), "")


def _environment(scratch: Path, token: str, limits: Limits) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    kit_parent = str(Path(__file__).resolve().parents[2])
    env.update({
        _TOKEN: token,
        "SCALEKIT_GRADING_LIMITS": limits.environment(scratch / "events.jsonl"),
        "HOME": str(scratch / "home"), "TMPDIR": str(scratch / "tmp"),
        "IPYTHONDIR": str(scratch / "ipython"), "MPLCONFIGDIR": str(scratch / "mpl"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"), "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join(p for p in (kit_parent, env.get("PYTHONPATH")) if p),
        "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    return env


def _prepare(scratch: Path) -> None:
    for sub in ("home", "tmp", "runtime", "mpl", "work", "ipython/profile_default/startup"):
        (scratch / sub).mkdir(parents=True)
    shutil.copy(Path(__file__).with_name("kernel_limits.py"),
                scratch / "ipython" / "profile_default" / "startup" / "00-scalekit-limits.py")
    cache = Path(os.environ.get("MPLCONFIGDIR") or Path.home() / ".cache" / "matplotlib")
    for fonts in cache.glob("fontlist-*.json"):  # spares each job matplotlib's font scan
        shutil.copy(fonts, scratch / "mpl" / fonts.name)


def _kill_job(token: str) -> None:
    """Kill every process whose environment carries ``token`` (the job's whole tree)."""
    import psutil

    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(_TOKEN) == token:
                proc.kill()
        except (psutil.Error, OSError):
            continue


def stop_all() -> None:
    """Kill every job still running and start no new one (on Ctrl-C, so no kernel outlives
    the grading run) until :func:`resume`."""
    _stopping.set()
    with _live_lock:
        tokens = list(_live)
    for token in tokens:
        _kill_job(token)


def resume() -> None:
    """Allow jobs to start again after :func:`stop_all`."""
    _stopping.clear()


def run(submission: Path, autograder: Path, limits: Limits | None = None) -> Outcome:
    """Grade ``submission`` with the autograder zip ``autograder`` in a child process."""
    submission = _args.file("submission", submission)
    autograder = _args.file("autograder", autograder)
    _check.optional(_check.instance, "limits", limits, Limits, meaning="the default limits")
    if _stopping.is_set():
        raise RuntimeError("grading was stopped; no new job starts")
    limits = limits or Limits()
    scratch = Path(tempfile.mkdtemp(prefix="scalekit-grade-"))
    token = uuid.uuid4().hex
    started = time.monotonic()
    try:
        _prepare(scratch)
        copy = scratch / "in" / Path(submission).name
        copy.parent.mkdir()
        shutil.copy2(submission, copy)
        result_path = scratch / "result.json"
        cmd = [sys.executable, "-m", "scalekit.grading.worker", str(copy),
               str(Path(autograder).resolve()), str(result_path)]
        with open(scratch / "worker.log", "wb") as log:
            proc = subprocess.Popen(cmd, cwd=scratch / "work", stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    env=_environment(scratch, token, limits),
                                    start_new_session=True)
            with _live_lock:
                _live[token] = proc
                stopping = _stopping.is_set()
            try:
                if stopping:
                    _kill_job(token)
                timed_out = _wait(proc, scratch / "events.jsonl", limits)
            finally:
                _kill_job(token)
                proc.wait()
                with _live_lock:
                    _live.pop(token, None)
        return Outcome(_read_json(result_path), _read_events(scratch / "events.jsonl"),
                       proc.returncode, timed_out, time.monotonic() - started,
                       _tail(scratch / "worker.log"))
    finally:
        _kill_job(token)
        shutil.rmtree(scratch, ignore_errors=True)


_OTTER_SETUP = "from otter import Notebook as notebook_"  # the cell otter puts first


def _started(events: Path) -> bool:
    """True once the kernel has started a cell of the notebook (not otter's set-up cell)."""
    try:
        with events.open(encoding="utf-8", errors="replace") as fh:
            return any('"cell"' in line and _OTTER_SETUP not in line for line in fh)
    except OSError:
        return False


def _wait(proc: subprocess.Popen, events: Path, limits: Limits) -> str:
    """Wait for the worker; "" if it ended, else which limit stopped it ("timeout"/"startup")."""
    began = time.monotonic()
    running_since = None
    while True:
        try:
            proc.wait(timeout=0.25)
            return ""
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if running_since is None and _started(events):
            running_since = now
        if running_since is not None and now - running_since > limits.timeout_s:
            return "timeout"
        if running_since is None and now - began > limits.startup_s:
            return "startup"


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_events(path: Path) -> tuple[dict, ...]:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()[-2000:]
    except OSError:
        return ()
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return tuple(events)


def _tail(path: Path, lines: int = 12) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 8192))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
