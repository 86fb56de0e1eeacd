"""The one fixture three test files share: a real PostgreSQL cluster per test module (a
primary and one standby behind a relay), or a skip that says why there is none."""

import pytest


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
