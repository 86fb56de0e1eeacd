"""The one fixture three test files share: a real PostgreSQL cluster per test module (a
primary and one standby behind a relay), or a skip that says why there is none; the
Hypothesis profile; and the scheduling of the real-server tests."""

import os

import pytest
from hypothesis import settings

# Property tests try the same examples on every run of `make test` (Hypothesis derives each
# test's seed from the test itself): an instructor's run, or CI's, does not go red by the luck
# of the draw. `make soak` runs them with fresh random examples, where new cases are found —
# each one found is kept as an @example beside its test.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("SCALEKIT_HYPOTHESIS", "repeatable"))


@pytest.fixture(scope="module")
def pg_cluster():
    """A started :class:`scalekit.engines.PostgresCluster` (stopped after the module)."""
    from scalekit import engines

    try:
        cluster = engines.PostgresCluster(standbys=1).start()
    except engines.EngineUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.close()


# --------------------------------------------------------------------------- scheduling
# `make test` runs on two processes with xdist's loadscope: every test module (or test
# class, or notebook) is one unit of work — a notebook keeps its kernel — except the tests
# that time real servers (HAProxy, nginx, Valkey, PostgreSQL, the HTTP benchmarks) and the
# browser tests, which form one unit and so run one after another on one process: Chromium
# and JupyterLab do not take the CPU from under a measured commit or health check, and the
# other process keeps the rest of the suite moving. They go first, as the longest unit.
# (xdist's own loadgroup marks cannot do this under pytest 9.2, which ignores the node ids
# xdist rewrites; xdist's scheduler hook is the public way.)
REAL_SERVERS = "real-servers"
_REAL = ("tests/test_browser_", "tests/test_engines_", "tests/test_caching_browser",
         "tests/test_servers_httpbench")
_REAL_SUFFIXES = ("_engines.py", "_postgres.py")


def _real_servers(nodeid: str) -> bool:
    path = nodeid.split("::", 1)[0]
    return path.startswith(_REAL) or path.endswith(_REAL_SUFFIXES)


@pytest.hookimpl(optionalhook=True)  # without xdist (-p no:xdist) there is no such hook
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class RealServersTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return REAL_SERVERS if _real_servers(nodeid) else super()._split_scope(nodeid)

    return RealServersTogether(config, log)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not _real_servers(item.nodeid))  # stable: that unit first
