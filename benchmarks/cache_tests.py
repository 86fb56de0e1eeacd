"""The public HTTP Caching Tests against scalekit's caching proxy — a suite we did not write.

The suite is Mark Nottingham's (cache-tests.fyi; npm ``http-cache-tests``, pinned in
``benchmarks/cache-tests/package-lock.json``; ``make setup`` installs it under
``build/cache-tests`` where npm exists). Its Node.js origin server runs on a free loopback
port, :class:`~scalekit.caching.CachingProxy` sits in front of it as a reverse proxy, and the
suite's own command-line client sends every test's requests through the proxy. Each test
has a *kind*: ``required`` (what the specifications demand), ``optimal`` (what a good cache
does) or ``check`` (behaviour the suite only records).

``python -m benchmarks.cache_tests [--cdn]`` prints the tally and each required test that
does not pass, with the reason; :data:`DISAGREEMENTS` lists those we fail on purpose, each
with the rule of RFC 9111 it keeps or the part we left out. ``tests/test_caching_cache_tests.py``
holds the proxy to it: every other applicable required test passes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The version the lock file pins; a suite of another version is not used.
SUITE_VERSION = "0.4.5"
SUITE = ROOT / "build" / "cache-tests" / "node_modules" / "http-cache-tests"

#: Why the suite's malformed-Age tests are failed on purpose.
AGE_REASON = ("RFC 9111 §5.1 says a cache SHOULD use the first member of a list-valued Age "
              "and SHOULD ignore an invalid one — the working group changed the draft's "
              "'consider it stale' to 'ignore' before publication because nearly every cache "
              "ignores it (httpwg/http-core issue 778, pull 781); suite 0.4.5 wants stale")
#: Why the stale-close tests cannot be passed by any cache.
CLOSE_REASON = ("the origin disconnects and the proxy answers 504 as §5.2.2.2 requires, but "
                "the suite asserts the origin's Server-Request-Count header on that answer, "
                "which no cache can carry: every implementation in the suite's published "
                "results fails it")

#: Required tests the proxy fails on purpose, and why. A test here that starts passing
#: fails tests/test_caching_cache_tests.py, so the list cannot go stale.
DISAGREEMENTS: dict[str, str] = {
    **{f"age-parse-{case}": AGE_REASON for case in (
        "nonnumeric", "negative", "float", "prefix-twoline", "dup-0", "dup-0-twoline",
        "dup-old", "parameter", "numeric-parameter")},
    **{f"stale-close-{cc}": CLOSE_REASON for cc in (
        "must-revalidate", "proxy-revalidate", "no-cache", "s-maxage=2")},
    "304-etag-update-response-ETag": (
        "the 304 carries a different strong ETag, so by RFC 9111 §4.3.4 it selects no stored "
        "response and must not update one; the proxy fetches the response in full instead, "
        "which the suite reports as a retry"),
}


@dataclass(frozen=True)
class Outcome:
    """One test of the suite: its id, suite, kind, and what happened (``pass``, or the
    suite's failure type such as ``Assertion``/``Setup``, or ``not run``), with its
    message."""

    id: str
    suite: str
    kind: str
    result: str
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.result == "pass"


def unavailable() -> str | None:
    """Why the suite cannot run here (one sentence starting "skipped: "), or None."""
    if shutil.which("node") is None:
        return "skipped: Node.js is not installed (the HTTP Caching Tests run on it)"
    try:
        version = json.loads((SUITE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return (f"skipped: the HTTP Caching Tests are not installed in {SUITE.parent.parent} "
                "(make setup installs them where npm exists)")
    if version != SUITE_VERSION:
        return f"skipped: HTTP Caching Tests {version} installed, {SUITE_VERSION} pinned"
    return None


def _tests_by_id() -> dict[str, tuple[str, str, bool]]:
    """{test id: (suite id, kind, browser only)} as the suite defines them, read by Node."""
    script = ("import tests from './tests/index.mjs';"
              "import surrogate from './tests/surrogate-control.mjs';"
              "tests.push(surrogate);"
              "const out = {};"
              "for (const s of tests) for (const t of s.tests)"
              " out[t.id] = [s.id, t.kind || 'required', t.browser_only === true];"
              "console.log(JSON.stringify(out));")
    done = subprocess.run(["node", "--input-type=module", "-e", script], cwd=SUITE,
                          capture_output=True, text=True, timeout=60, check=True)
    return {k: tuple(v) for k, v in json.loads(done.stdout).items()}


def run(*, cdn: bool = False, timeout_s: float = 600.0) -> list[Outcome]:
    """Run the whole suite through a fresh proxy; one :class:`Outcome` per test a proxy
    cache is given (the browser-only tests left out). Both servers stop before it
    returns, on error too."""
    from scalekit.caching import CachingProxy
    from scalekit.engines import ManagedProcess, free_port
    from scalekit.engines.traffic import wait_listening

    why = unavailable()
    if why:
        raise RuntimeError(why)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="scalekit-cache-tests-") as work:
        env = {**os.environ, "npm_config_port": str(port), "npm_config_protocol": "http",
               "npm_config_pidfile": str(Path(work) / "server.pid")}
        server = ManagedProcess(["node", "server/server.mjs"], Path(work) / "server.log",
                                name="cache-tests server", env=env, as_service_user=False,
                                cwd=SUITE)
        try:
            wait_listening(port, 20.0, server, "the HTTP Caching Tests' server")
            # as `python -m scalekit.caching proxy --upstream … [--cdn]` configures it
            targets = ("surrogate-control",) + (("cdn-cache-control",) if cdn else ())
            with CachingProxy(f"http://127.0.0.1:{port}", targets=targets) as proxy:
                client_env = {**os.environ, "npm_config_base": proxy.url,
                              "npm_config_id": "", "npm_package_config_id": ""}
                done = subprocess.run(["node", "--no-warnings", "cli.mjs"], cwd=SUITE,
                                      env=client_env, capture_output=True, text=True,
                                      timeout=timeout_s, check=False)
        finally:
            server.stop()
    if done.returncode != 0 or not done.stdout.strip().startswith("{"):
        raise RuntimeError(f"the suite's client failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout)[-2000:]}")
    results = json.loads(done.stdout)
    outcomes = []
    for test_id, (suite, kind, browser_only) in _tests_by_id().items():
        if browser_only:
            continue
        got = results.get(test_id)
        if got is True:
            outcomes.append(Outcome(test_id, suite, kind, "pass"))
        elif got is None:
            outcomes.append(Outcome(test_id, suite, kind, "not run",
                                    "a test it depends on did not pass"))
        else:
            outcomes.append(Outcome(test_id, suite, kind, str(got[0]),
                                    str(got[1]) if len(got) > 1 else ""))
    return outcomes


def tally(outcomes: list[Outcome]) -> dict[str, tuple[int, int]]:
    """{kind: (passed, run)} for the kinds required, optimal and check."""
    out = {}
    for kind in ("required", "optimal", "check"):
        mine = [o for o in outcomes if o.kind == kind]
        out[kind] = (sum(o.passed for o in mine), len(mine))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cache_tests",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--cdn", action="store_true",
                        help="configure the proxy as a CDN (obey CDN-Cache-Control, RFC 9213)")
    args = parser.parse_args(argv)
    why = unavailable()
    if why:
        print(why)
        return 0
    started = time.perf_counter()
    outcomes = run(cdn=args.cdn)
    took = time.perf_counter() - started
    counts = tally(outcomes)
    print(f"HTTP Caching Tests {SUITE_VERSION} through scalekit's CachingProxy"
          f"{' (--cdn)' if args.cdn else ''}, {took:.0f} s:")
    for kind, (passed, total) in counts.items():
        print(f"  {kind:9} {passed:4} of {total:4} pass")
    failed = [o for o in outcomes if o.kind == "required" and not o.passed]
    unexplained = [o for o in failed if o.id not in DISAGREEMENTS]
    print(f"\nRequired tests not passed: {len(failed)} "
          f"({len(failed) - len(unexplained)} on purpose, {len(unexplained)} unexplained)")
    for o in failed:
        print(f"  {o.id}: {o.result}: {o.message}\n      "
              f"{DISAGREEMENTS.get(o.id, 'UNEXPLAINED')}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    raise SystemExit(main())
