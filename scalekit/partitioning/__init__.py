"""Partitioning and sharding on real SQLite — the models behind notebook 04.

* :mod:`scalekit.partitioning.data` — the course's airline example: seeded airports and
  flights (hub skew, domestic and international), loaded into a real SQLite file in one
  transaction, wide or normalized;
* :mod:`scalekit.partitioning.vertical` — vertical partitioning measured: file size, a
  narrow scan and a lookup that needs the join, on both layouts, with the query plans;
* :mod:`scalekit.partitioning.horizontal` — horizontal partitioning: domestic and
  international tables, a router that reads only what a query needs, a schema change on
  every partition in one transaction;
* :mod:`scalekit.partitioning.shards` — which shard a key lives on: modulo, range,
  directory, consistent hashing, jump hash;
* :mod:`scalekit.partitioning.growth` — what adding a shard moves, for a key set (no
  SQLite): against theory, and why a skewed key misses it;
* :mod:`scalekit.partitioning.sharding` — N real SQLite files behind a router (reads in
  :mod:`~scalekit.partitioning.queries`): single-shard and scatter-gather queries, a join
  in the router, resharding;
* :mod:`scalekit.partitioning.twophase` and :mod:`~scalekit.partitioning.layout` — every
  multi-shard write as a two-phase commit decided by one atomic rename of ``layout.json``,
  and recovery on open;
* :mod:`scalekit.partitioning.faults` — a write SIGKILLed after any step, and what it left.

The entry points and result types are re-exported here:
``from scalekit import partitioning; partitioning.compare_layouts(fl, ports)``.
"""

from scalekit.hashing import key_hash
from scalekit.partitioning.data import (
    AIRLINES,
    COUNTRIES,
    LAYOUTS,
    Airports,
    Flights,
    LoadResult,
    PartitionError,
    airports,
    flight_rows,
    flights,
    hub_weights,
    load_flights,
)
from scalekit.partitioning.faults import (
    Crash,
    CrashMatrix,
    DiskCensus,
    census,
    crash,
    crash_every_step,
    crash_matrix,
    operation_steps,
)
from scalekit.partitioning.growth import (
    ReshardingCurve,
    ShardGrowth,
    add_shard,
    effective_keys,
    expected_moved,
    origin_keys,
    resharding_curve,
    shard_growth,
    strategy_for_keys,
)
from scalekit.partitioning.horizontal import (
    FlightRouter,
    HorizontalResult,
    PartitionLoad,
    add_column,
    compare_partitioning,
    load_partitioned,
)
from scalekit.partitioning.layout import Layout, read_layout
from scalekit.partitioning.sharding import (
    InjectedFailure,
    QueryCost,
    ReshardReport,
    ShardRouter,
    measure_query_costs,
)
from scalekit.partitioning.shards import (
    STRATEGIES,
    ConsistentHash,
    DirectoryShards,
    JumpHash,
    ModuloHash,
    RangeShards,
    Strategy,
    from_spec,
    shard_load,
    strategy,
)
from scalekit.partitioning.twophase import DEFAULT_BUSY_TIMEOUT_S, Recovery, ShardLockedError
from scalekit.partitioning.vertical import VerticalResult, compare_layouts

__all__ = [
    "AIRLINES",
    "COUNTRIES",
    "LAYOUTS",
    "Airports",
    "Flights",
    "LoadResult",
    "PartitionError",
    "airports",
    "flights",
    "flight_rows",
    "hub_weights",
    "load_flights",
    "VerticalResult",
    "compare_layouts",
    "FlightRouter",
    "HorizontalResult",
    "PartitionLoad",
    "add_column",
    "compare_partitioning",
    "load_partitioned",
    "STRATEGIES",
    "Strategy",
    "from_spec",
    "ModuloHash",
    "RangeShards",
    "DirectoryShards",
    "ConsistentHash",
    "JumpHash",
    "strategy",
    "shard_load",
    "ShardRouter",
    "ReshardReport",
    "QueryCost",
    "InjectedFailure",
    "measure_query_costs",
    "ShardLockedError",
    "Recovery",
    "DEFAULT_BUSY_TIMEOUT_S",
    "Layout",
    "read_layout",
    "ShardGrowth",
    "ReshardingCurve",
    "strategy_for_keys",
    "add_shard",
    "expected_moved",
    "effective_keys",
    "shard_growth",
    "resharding_curve",
    "origin_keys",
    "DiskCensus",
    "Crash",
    "CrashMatrix",
    "census",
    "operation_steps",
    "crash",
    "crash_every_step",
    "crash_matrix",
    "key_hash",
]
