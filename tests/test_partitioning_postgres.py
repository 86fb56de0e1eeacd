"""PostgreSQL declarative partitioning beside the kit's SQLite routers, on the same flights.

Sources: PostgreSQL 18 documentation §5.12 "Table Partitioning" (LIST, RANGE, HASH with
MODULUS/REMAINDER; §5.12.4 partition pruning, shown by EXPLAIN) — its hash partitioning
applies PostgreSQL's own hash function, not ``key % n``; mod-N hashing moves n/(n+1) of the
keys from n to n+1 buckets, consistent hashing about 1/(n+1) (Karger et al., STOC 1997);
jump hash moves exactly the keys of the new bucket (Lamping & Veach, 2014).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scalekit.engines import EngineUnavailable
from scalekit.partitioning import postgres as pp

N = 5000
Z = 4.0


PROGRESS: list[tuple[int, int]] = []


@pytest.fixture(scope="module")
def parts(pg_cluster):
    try:
        return pp.compare_partitioning(N, cluster=pg_cluster,
                                       progress=lambda *a: PROGRESS.append(a))
    except EngineUnavailable as exc:  # pragma: no cover - the fixture above skips first
        pytest.skip(str(exc))


def test_postgres_prunes_exactly_the_partitions_the_router_reads(parts):
    for q in parts.queries:
        assert q.read == q.router_read, q
        assert q.rows == q.router_rows, q
    by = {q.name: q for q in parts.queries}
    assert by["domestic flights"].read == 1 and by["every flight (list)"].read == 2
    assert by["flights in March"].read == 1 and by["flights in the first quarter"].read == 3
    assert by["flights of one airline"].read == 12 and by["one flight by id"].read == 1
    assert "flights_range_mar" in parts.plan and "flights_range_apr" not in parts.plan


def test_postgres_partitions_hold_the_rows_the_model_routes(parts):
    assert parts.list_rows == parts.model_list_rows
    assert parts.range_rows == parts.model_range_rows
    assert sum(parts.list_rows) == sum(parts.range_rows) == sum(parts.hash_rows) == N


def test_postgres_hash_partitions_balance_like_the_model(parts):
    expected, sd = N / 4, np.sqrt(N * 0.25 * 0.75)
    for rows in (parts.hash_rows, parts.model_hash_rows):
        assert np.all(np.abs(np.array(rows) - expected) <= Z * sd), rows


def test_postgres_growing_4_to_5_hash_partitions_moves_like_mod_n(parts):
    """Same partition number under MODULUS 4 and 5 iff hash mod 20 < 4: 1/5 stay."""
    se = np.sqrt(0.8 * 0.2 / N)
    assert abs(parts.pg_moved - 0.8) <= Z * se
    assert abs(parts.modulo_moved - 0.8) <= Z * se
    assert abs(parts.jump_moved - 0.2) <= Z * se
    assert abs(parts.ring_moved - 0.2) <= 0.06  # vnodes spread the new arcs: ± 1/√v-ish
    assert parts.ideal_moved == pytest.approx(1 / 5)


def test_postgres_hash_is_not_id_mod_n(parts):
    """If PostgreSQL put id in partition id % 4, the share would be 1; it is chance, 1/4."""
    assert abs(parts.pg_hash_is_mod_share - 0.25) <= Z * np.sqrt(0.25 * 0.75 / N)


def test_postgres_partitioning_result_is_frozen_and_shows_its_ddl(parts):
    with pytest.raises(dataclasses.FrozenInstanceError):
        parts.rows = 0
    assert "PARTITION BY HASH (id)" in parts.ddl and "MODULUS 5, REMAINDER 4" in parts.ddl
    assert "scalekit_part_" not in parts.ddl and "<table>" in parts._repr_html_()


def test_postgres_partitioning_reports_progress_to_the_end(parts):
    total = 1 + len(pp.QUERIES) + 2
    assert PROGRESS == [(i, total) for i in range(1, total + 1)]


@pytest.mark.parametrize("kw, error, match", [({"n_flights": 10}, ValueError, "n_flights"),
                                              ({"n_flights": 1.5}, TypeError, "n_flights"),
                                              ({"cluster": "db"}, TypeError, "cluster"),
                                              ({"progress": 3}, TypeError, "progress")])
def test_postgres_partitioning_refuses_bad_input(kw, error, match):
    with pytest.raises(error, match=match):
        pp.compare_partitioning(**kw)


def test_postgres_partitioning_views_draw_both_sides(parts):
    from scalekit.views.partitioning import postgres as view

    for fig in (view.plot_pruning(parts), view.plot_resize(parts)):
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert ax.get_title() and ax.get_xlabel() + ax.get_ylabel()
        assert any("PostgreSQL" in t or "1/(n+1)" in t for t in labels)
    assert "80%" in view.plot_resize(parts).axes[0].get_title()
    with pytest.raises(TypeError, match="PartitioningComparison"):
        view.plot_pruning(parts.queries)


def test_postgres_partitioning_views_are_readable_at_1024_by_768(parts):
    """Issue 19 §5: every text at least 9 px, none cut off, in JupyterLab at 1024×768."""
    from _screen import unreadable

    from scalekit.views.partitioning import postgres as view
    from scalekit.views.style import PNG_DPI

    for fig in (view.plot_pruning(parts), view.plot_resize(parts)):
        small, cut = unreadable(fig, PNG_DPI)
        assert not small and not cut, (fig.axes[0].get_title(), small, cut)
