"""Walk the public API and call every callable with one bad value at a time.

The walk (issue 18) imports every public module of a scalekit package, finds every public
function, class and method, builds one valid call for each (from its defaults, from
``VALID`` — valid values by parameter name — and from the topic's own table), then replaces one
parameter at a time with each value of ``BAD``. Each call must either

* raise ``TypeError`` or ``ValueError`` whose message names the parameter (as a word: ``n``
  is not named by "unknown"), or
* succeed, where the topic's table (or a rule below) lists that value as legitimately accepted,
  with the reason.

Positional-only parameters are walked too (passed by position), and so is each extra
keyword a callable taking ``**kwargs`` gets in its ``EXAMPLES`` baseline. Anything else is a
finding: another exception (AttributeError, MemoryError, OverflowError …
from deep inside), a clear error that does not name the parameter, a call that runs past
``TIME_LIMIT_S``, a value accepted silently. The walk runs in a subprocess of its own with an
address-space cap (``MEMORY_CAP``), so a size that is not bounded before allocating fails
quickly instead of exhausting the machine, and with its working directory in a fresh temporary
folder, so nothing a call writes lands in the repository.

A topic's table is a module (``tests/test_api_<topic>.py``) defining:

``PACKAGE``    the package walked, e.g. ``"scalekit.sim"``;
``EXAMPLES``   {qualname: callable returning a dict of valid keyword arguments} for callables
               whose required parameters ``VALID`` cannot fill, or whose defaults are too slow;
``INSTANCES``  {class qualname: callable returning a fresh instance} for walking methods;
``ACCEPTED``   {(qualname, parameter): {bad label: reason}} — a bad value that is legitimate
               there ("*" as the parameter applies to all of the callable's parameters);
``SKIP``       {qualname: reason} — callables not walked (results built only by the models,
               command-line entry points …), each with its reason;
``ELSEWHERE``  modules below ``PACKAGE`` that another table walks (optional).

Run ``python tests/_walk.py tests/test_api_<topic>.py`` to print the report as JSON.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import json
import math
import os
import pkgutil
import re
import resource
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

TIME_LIMIT_S = 5.0
MEMORY_CAP = 4 * 2**30  # bytes of address space for the whole walk

# One wrong value at a time (issue 18: None, a negative or huge number, NaN, a string, an empty
# list or dict).
BAD: dict[str, Callable[[], object]] = {
    "None": lambda: None,
    "string": lambda: "bogus",
    "negative": lambda: -1,
    "huge int": lambda: 10**12,
    "huge float": lambda: 1e12,
    "NaN": lambda: math.nan,
    "empty list": lambda: [],
    "empty dict": lambda: {},
}

# Valid values by parameter name, used where a parameter has no default (a topic's EXAMPLES
# take precedence). Small sizes, so a valid call takes milliseconds.
VALID: dict[str, Callable[[], object]] = {
    "seed": lambda: 0,
    "servers": lambda: 4,
    "n": lambda: 4,
    "n_servers": lambda: 4,
    "requests": lambda: 200,
    "n_requests": lambda: 200,
    "rate_rps": lambda: 10.0,
    "arrival_rps": lambda: 10.0,
    "service_s": lambda: 0.05,
    "mean_s": lambda: 0.05,
    "load": lambda: 0.5,
    "name": lambda: "x",
    "key": lambda: "k",
    "value": lambda: "v",
    "keys": lambda: 100,
    "size": lambda: 10,
    "capacity": lambda: 10,
}


class WalkTimeout(BaseException):
    """Raised by the alarm inside a call that runs past TIME_LIMIT_S (not an Exception, so a
    model's ``except Exception`` cannot swallow it)."""


@dataclass(frozen=True)
class Target:
    qualname: str                 # "scalekit.sim.engine.run", "...Class", "...Class.method"
    call: Callable                # the function, the class, or a factory of bound methods
    signature: inspect.Signature
    kind: str                     # "function", "class" or "method"


# --------------------------------------------------------------------------- discovery


def public_modules(package: str) -> list:
    """``package`` and every module below it whose dotted path has no private part."""
    root = importlib.import_module(package)
    mods = [root]
    if hasattr(root, "__path__"):
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            parts = info.name.split(".")
            if any(p.startswith("_") for p in parts):
                continue
            mods.append(importlib.import_module(info.name))
    return mods


def public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return list(names)


def defined_here(module) -> Iterator[tuple[str, object]]:
    """(qualname, object) of the public functions and classes ``module`` itself defines."""
    for name in public_names(module):
        obj = getattr(module, name, None)
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # re-exported: walked where it is defined
        # functools.wraps and lru_cache keep the function under ``__wrapped__``
        if inspect.isclass(obj) or inspect.isfunction(inspect.unwrap(obj)):
            yield f"{module.__name__}.{name}", obj


def public_methods(cls) -> Iterator[tuple[str, object, bool]]:
    """(name, function, needs an instance) of the public methods a class defines itself (not
    properties, not inherited); class and static methods are called on the class."""
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        on_class = isinstance(member, (staticmethod, classmethod))
        function = member.__func__ if on_class else member
        if inspect.isfunction(function):
            yield name, function, not on_class


def signature(obj) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def targets(package: str, instances: dict[str, Callable],
            elsewhere: tuple[str, ...] = ()) -> tuple[list[Target], list[str]]:
    """Every walkable target of ``package`` (but the modules in ``elsewhere``), and the
    qualnames that could not be walked (no signature, or a class whose methods have no
    instance factory)."""
    found: list[Target] = []
    unwalkable: list[str] = []
    for module in public_modules(package):
        if module.__name__ in elsewhere:
            continue
        for qualname, obj in defined_here(module):
            sig = signature(obj)
            if sig is None:
                unwalkable.append(qualname)
                continue
            found.append(Target(qualname, obj, sig, "class" if inspect.isclass(obj) else
                                "function"))
            if not inspect.isclass(obj):
                continue
            factory = instances.get(qualname)
            for name, method, needs_instance in public_methods(obj):
                mq = f"{qualname}.{name}"
                msig = signature(getattr(obj, name)) if not needs_instance else None
                if needs_instance:
                    msig = inspect.signature(method)
                    msig = msig.replace(parameters=list(msig.parameters.values())[1:])
                if not params(msig):
                    continue  # nothing to pass a bad value to
                if needs_instance and factory is None:
                    unwalkable.append(mq)
                    continue
                call = _bound(factory, name) if needs_instance else getattr(obj, name)
                found.append(Target(mq, call, msig, "method"))
    return found, unwalkable


def _bound(factory: Callable, name: str) -> Callable:
    """A fresh instance per call, closed afterwards (an instance that started a server or
    opened a database must not outlive its call: the walk makes thousands)."""
    def call(*args, **kwargs):
        instance = factory()
        try:
            return getattr(instance, name)(*args, **kwargs)
        finally:
            close(instance)
    return call


def params(sig: inspect.Signature) -> list[inspect.Parameter]:
    """The named parameters a caller passes (no *args/**kwargs); positional-only ones
    included — :func:`invoke` passes those by position."""
    return [p for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def walked(sig: inspect.Signature, kwargs: dict) -> list[inspect.Parameter]:
    """The parameters to try bad values on: the signature's, and — for a callable taking
    ``**kwargs`` (settings passed as overrides, say) — each extra name its baseline passes."""
    found = params(sig)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        named = {p.name for p in found}
        found += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY)
                  for name in kwargs if name not in named]
    return found


def invoke(target: Target, kwargs: dict):
    """Call ``target`` with ``kwargs``, its positional-only parameters by position (a
    missing one takes its default, so a later one can still be given)."""
    args = []
    for p in target.signature.parameters.values():
        if p.kind is not p.POSITIONAL_ONLY:
            break
        if p.name in kwargs:
            args.append(kwargs[p.name])
        elif p.default is not p.empty:
            args.append(p.default)
        else:
            break
    positional = {p.name for p in target.signature.parameters.values()
                  if p.kind is p.POSITIONAL_ONLY}
    return target.call(*args, **{k: v for k, v in kwargs.items() if k not in positional})


# --------------------------------------------------------------------------- calling


def baseline(target: Target, examples: dict[str, Callable]) -> dict | None:
    """Valid keyword arguments for every required parameter, or None if some cannot be filled."""
    kwargs = dict(examples[target.qualname]()) if target.qualname in examples else {}
    for p in params(target.signature):
        if p.name in kwargs or p.default is not inspect.Parameter.empty:
            continue
        if p.name not in VALID:
            return None
        kwargs[p.name] = VALID[p.name]()
    return kwargs


@contextlib.contextmanager
def time_limit(seconds: float):
    def on_alarm(signum, frame):
        raise WalkTimeout(f"still running after {seconds:g} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def close(result) -> None:
    """Stop whatever a call started (servers, connections), quietly."""
    for name in ("close", "stop", "shutdown"):
        method = getattr(result, name, None)
        if callable(method):
            with contextlib.suppress(Exception):
                method()
            return


def attempt(target: Target, kwargs: dict) -> tuple[str, str]:
    """(outcome, detail): outcome is "ok", "TypeError", "ValueError" (subclasses included),
    "timeout" or the name of another exception; detail is the message (and, for other
    exceptions, where it came from)."""
    result = None
    try:
        with time_limit(TIME_LIMIT_S):
            result = invoke(target, kwargs)
        return "ok", ""
    except WalkTimeout as exc:
        return "timeout", str(exc)
    except (TypeError, ValueError) as exc:
        # A subclass (a model's own error ladder: BadCookie(ValueError) …) is a clear refusal
        # too: judged as its base, its own name kept in the detail.
        base = "TypeError" if isinstance(exc, TypeError) else "ValueError"
        name = type(exc).__name__
        return base, str(exc) if name == base else f"{name}: {exc}"
    except Exception as exc:  # noqa: BLE001 — a finding, reported
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        return type(exc).__name__, f"{exc} (at {where})"
    finally:
        if result is not None:
            close(result)


def accepted(table: dict, qualname: str, param: inspect.Parameter, label: str,
             value) -> str | None:
    """The reason a bad value is legitimate here, or None."""
    for key in ((qualname, param.name), (qualname, "*")):
        reason = table.get(key, {}).get(label)
        if reason:
            return reason
    default = param.default
    if default is not inspect.Parameter.empty and _same(default, value):
        return "the parameter's default"
    if label.startswith("huge"):
        # A size derived from a huge value would have run out of time or memory instead.
        return "a large value that allocates nothing and takes no time"
    return None


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def resolves(qualname: str) -> bool:
    """Whether ``qualname`` (``package.module.Name`` or ``...Name.method``) names something
    that exists: a SKIP entry left behind by a rename would otherwise hide nothing, silently."""
    parts = qualname.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, _MISSING)
            if obj is _MISSING:
                return False
        return True
    return False


_MISSING = object()


def walk(table) -> dict:
    """Call every target of ``table.PACKAGE`` with each bad value; the report as a dict."""
    examples = getattr(table, "EXAMPLES", {})
    instances = getattr(table, "INSTANCES", {})
    accepts = getattr(table, "ACCEPTED", {})
    skip = getattr(table, "SKIP", {})
    elsewhere = tuple(getattr(table, "ELSEWHERE", ()))
    found, unwalkable = targets(table.PACKAGE, instances, elsewhere)
    report = {"package": table.PACKAGE, "callables": 0, "calls": 0, "refused": 0,
              "accepted": 0, "findings": [], "no_baseline": [], "unwalkable": [],
              "skipped": sorted(skip), "stale_skips": [q for q in skip if not resolves(q)]}
    report["unwalkable"] = [q for q in unwalkable if q not in skip]
    for target in found:
        if target.qualname in skip:
            continue
        kwargs = baseline(target, examples)
        if kwargs is None:
            report["no_baseline"].append(target.qualname)
            continue
        outcome, detail = attempt(target, kwargs)
        report["callables"] += 1
        if outcome != "ok":
            report["no_baseline"].append(f"{target.qualname}: the valid call fails: "
                                         f"{outcome}: {detail}")
            continue
        for param in walked(target.signature, kwargs):
            for label, make in BAD.items():
                value = make()
                outcome, detail = attempt(target, {**kwargs, param.name: value})
                report["calls"] += 1
                finding = judge(outcome, detail, param, label, value, target, accepts)
                if finding is None:
                    report["refused" if outcome != "ok" else "accepted"] += 1
                else:
                    report["findings"].append(finding)
    return report


def judge(outcome, detail, param, label, value, target, accepts) -> str | None:
    """None when the call behaved; else one line saying what went wrong."""
    where = f"{target.qualname}({param.name}={label})"
    if outcome == "ok":
        if accepted(accepts, target.qualname, param, label, value):
            return None
        return f"{where}: accepted silently (list it in ACCEPTED with the reason, or refuse it)"
    if outcome in ("TypeError", "ValueError"):
        if names(detail, param.name):
            return None
        return f"{where}: {outcome} without naming {param.name!r}: {detail[:160]}"
    return f"{where}: {outcome}: {detail[:200]}"


def names(message: str, name: str) -> bool:
    """True if ``message`` names the parameter ``name`` as a word: a parameter ``n`` is not
    named by "unknown", nor ``key`` by "keys" or "monkey" (a bare substring test passed
    them); ``secret_keys[0]`` and ``clock()`` do name ``secret_keys`` and ``clock``."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def load_table(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    path = os.path.abspath(argv[1])
    sys.path.insert(0, os.path.dirname(path))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    with tempfile.TemporaryDirectory(prefix="scalekit-walk-") as scratch:
        os.chdir(scratch)
        # What a call prints (a progress widget displayed outside a notebook …) goes to
        # stderr: stdout carries the report alone.
        with contextlib.redirect_stdout(sys.stderr):
            report = walk(load_table(path))
    json.dump(report, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))


# --------------------------------------------------------------------------- the pytest side


def run(table_file: str, timeout_s: float = 300.0) -> dict:
    """Walk the table's package in a subprocess of its own; the report."""
    import subprocess
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                          os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, __file__, table_file], capture_output=True,
                          text=True, timeout=timeout_s, env=env, check=False)
    if done.returncode != 0:
        raise AssertionError(f"the walk of {table_file} crashed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


class Started(Exception):
    """What a patched process start raises in :func:`walk_before_start`."""


def walk_before_start(qualname: str, call: Callable, kwargs: dict,
                      accepts: dict | None = None) -> tuple[int, list[str]]:
    """Walk one callable whose valid call starts a real process (a server, a cluster, a
    child run), in this process, with that start patched by the caller to raise
    :class:`Started`: every bad value must be refused (TypeError/ValueError naming the
    parameter) *before* the start; one that reaches it is a finding unless ``accepts``
    {(qualname, parameter): {label: reason}} lists it. The valid call must reach the start
    (else the patch is not on its path and the walk would prove nothing). Returns (bad calls
    made, findings)."""
    target = Target(qualname, call, inspect.signature(call), "function")
    outcome, detail = attempt(target, kwargs)
    if outcome != "Started":
        return 0, [f"{qualname}: the valid call did not reach the patched start: "
                   f"{outcome}: {detail}"]
    findings, calls = [], 0
    for param in walked(target.signature, kwargs):
        for label, make in BAD.items():
            value = make()
            outcome, detail = attempt(target, {**kwargs, param.name: value})
            calls += 1
            if outcome == "Started":  # got past every check: legitimate only if listed
                outcome, detail = "ok", ""
            finding = judge(outcome, detail, param, label, value, target, accepts or {})
            if finding:
                findings.append(finding)
    return calls, findings


def digest(folder: str | os.PathLike) -> dict[str, str]:
    """{relative path: SHA-256} of every file under ``folder`` (what "left as it was"
    compares)."""
    import hashlib
    root = Path(folder)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def walk_writer(qualname: str, call: Callable, kwargs: dict,
                folder: str | os.PathLike) -> tuple[int, list[str]]:
    """Issue 18's "a failed write leaves data as it was", for one writer: call it with each
    bad value (one parameter at a time, ``kwargs`` the valid rest); every call refused with
    TypeError/ValueError must leave every file under ``folder`` byte for byte as it was.
    Returns (refused calls checked, findings)."""
    target = Target(qualname, call, inspect.signature(call), "function")
    findings, checked = [], 0
    for param in walked(target.signature, kwargs):
        for label, make in BAD.items():
            before = digest(folder)
            outcome, detail = attempt(target, {**kwargs, param.name: make()})
            if outcome not in ("TypeError", "ValueError"):
                continue  # accepted (or a finding the walk itself reports)
            checked += 1
            after = digest(folder)
            if after != before:
                changed = sorted(k for k in before.keys() | after.keys()
                                 if before.get(k) != after.get(k))
                findings.append(f"{qualname}({param.name}={label}) was refused ({outcome}) "
                                f"but changed {changed[:5]}")
    return checked, findings


def assert_clean(table_file: str) -> dict:
    """Fail with every finding, listed, unless the walk of the table's package is clean."""
    report = run(table_file)
    problems = [*report["findings"],
                *(f"{q}: no valid call (add it to EXAMPLES)" for q in report["no_baseline"]),
                *(f"{q}: methods not walked (add an INSTANCES factory)"
                  for q in report["unwalkable"]),
                *(f"{q}: in SKIP but no such callable (renamed or removed?)"
                  for q in report["stale_skips"])]
    summary = (f"{report['package']}: {report['callables']} callables, {report['calls']} bad "
               f"calls, {report['refused']} refused clearly, {report['accepted']} accepted "
               f"as listed")
    assert not problems, summary + f"; {len(problems)} problems:\n" + "\n".join(problems)
    return report
