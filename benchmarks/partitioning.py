"""Partitioning on real SQLite: loading speed, and what a query without the shard key costs.

Loading: the default airline data set (300,000 flights) into one SQLite file, wide and
normalized, in one transaction (rows/s); and into a ShardRouter of 8 files.

The two-phase commit's price (100,000 flights): ``insert_many`` through it — stage on every
shard, switch the layout, publish — against the same rows in one plain transaction on one
SQLite file (the peer); and resharding 4 → 5 shards, rows moved per second.

Query cost (median of repeated real queries on 100,000 flights, 8 shards by origin):

* the same question — "flights from airport X" — asked of the one shard that holds X, and
  scattered to every shard and gathered (what a router must do when it cannot tell which
  shard holds the rows): the ratio is the price of fan-out alone;
* "flights to airport X" — no shard key at all (sharded by origin): every shard scans.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path


def _median_ms(run, repeats: int = 9) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> dict:
    from scalekit.partitioning import data
    from scalekit.partitioning.sharding import ShardRouter

    out: dict = {}
    ports = data.airports(seed=0)
    start = time.perf_counter()
    fl = data.flights(300_000, ports, seed=0)
    out["generate_s"] = time.perf_counter() - start
    print(f"\nPartitioning (real SQLite): 300,000 flights generated in {out['generate_s']:.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        for layout in data.LAYOUTS:
            r = data.load_flights(Path(folder) / f"{layout}.sqlite3", fl, ports, layout=layout)
            out[f"load_{layout}_rps"] = r.rows_per_s
            size_mb = r.file_bytes / 1e6
            print(f"  load, {layout:<10} {r.rows_per_s:>10,.0f} rows/s  ({size_mb:.1f} MB)")
    small = data.flights(100_000, ports, seed=0)
    rows = data.flight_rows(small, ports)
    by_origin = Counter(r["origin"] for r in rows)
    key = by_origin.most_common()[len(by_origin) // 2][0]  # a mid-size airport
    with tempfile.TemporaryDirectory() as folder, ShardRouter(folder, 8, "jump") as router:
        start = time.perf_counter()
        router.insert_many(rows)
        out["load_sharded_rps"] = len(rows) / (time.perf_counter() - start)
        single = _median_ms(lambda: router.query_by_key(key))
        fanout = _median_ms(lambda: router.scatter_gather([("origin", "=", key)]))
        no_key = _median_ms(lambda: router.scatter_gather([("destination", "=", key)]))
    out.update(single_ms=single, scatter_same_ms=fanout, scatter_no_key_ms=no_key)
    out.update(_two_phase(rows))
    print(f"  load, 8 shards  {out['load_sharded_rps']:>10,.0f} rows/s")
    print(f"  flights from {key} ({by_origin[key]} rows), 100,000 flights on 8 shards by origin:")
    print(f"    one shard            {single:8.2f} ms")
    print(f"    scatter-gather       {fanout:8.2f} ms   {fanout / single:5.1f}× one shard "
          f"(same query, every shard)")
    print(f"    no shard key (to {key}) {no_key:6.2f} ms   {no_key / single:5.1f}× one shard "
          f"(every shard scans)")
    print(f"  two-phase insert of {len(rows):,} rows on 4 shards {out['two_phase_insert_s']:.2f} s"
          f" = {out['two_phase_insert_s'] / out['one_file_insert_s']:.1f}× one plain "
          f"transaction on one file ({out['one_file_insert_s']:.2f} s)")
    for name in ("modulo", "consistent"):
        print(f"  reshard 4 → 5 ({name:10s}) {out[f'reshard_{name}_s']:.2f} s, "
              f"{out[f'reshard_{name}_moved_per_s']:,.0f} rows moved/s")
    return out


def _two_phase(rows: list[dict]) -> dict:
    import sqlite3

    from scalekit.partitioning.sharding import COLUMNS, ShardRouter

    out: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "one.sqlite3", isolation_level=None)
        db.execute(f"CREATE TABLE flights({', '.join(f'{c} {t}' for c, t in COLUMNS.items())})")
        db.execute("CREATE INDEX ix_origin ON flights(origin)")
        start = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(f"INSERT INTO flights VALUES ({', '.join('?' * len(COLUMNS))})",
                       [tuple(r[c] for c in COLUMNS) for r in rows])
        db.execute("COMMIT")
        out["one_file_insert_s"] = time.perf_counter() - start
        db.close()
        for name in ("modulo", "consistent"):
            with ShardRouter(Path(folder) / name, 4, name) as router:
                start = time.perf_counter()
                router.insert_many(rows)
                if name == "modulo":
                    out["two_phase_insert_s"] = time.perf_counter() - start
                start = time.perf_counter()
                report = router.reshard(5)
                seconds = time.perf_counter() - start
            out[f"reshard_{name}_s"] = seconds
            out[f"reshard_{name}_moved_per_s"] = report.rows_moved / seconds
    return out
