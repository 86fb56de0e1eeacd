"""Read scaling against its arithmetic: one node alone, pure reads, pure writes, the C/w
ceiling, and a direct count of each node's work at the computed capacity."""

import math

import numpy as np
import pytest

from scalekit import replication


def test_one_node_alone_has_its_own_capacity():
    r = replication.read_scaling(5, write_share=0.3, node_capacity_rps=800)
    assert r.throughput_rps[0] == pytest.approx(800)


def test_reads_scale_linearly_and_writes_not_at_all():
    reads = replication.read_scaling(8, write_share=0.0, node_capacity_rps=100)
    np.testing.assert_allclose(reads.throughput_rps, 100 * (np.arange(9) + 1))
    writes = replication.read_scaling(8, write_share=1.0, node_capacity_rps=100)
    np.testing.assert_allclose(writes.throughput_rps, 100)


@pytest.mark.parametrize("w", [0.05, 0.1, 0.5])
def test_capacity_grows_towards_but_never_past_c_over_w(w):
    r = replication.read_scaling(1000, write_share=w, node_capacity_rps=1000)
    x = r.throughput_rps
    assert np.all(np.diff(x) > 0) and np.all(x < 1000 / w)
    assert x[-1] > 0.95 * r.limit_rps and r.limit_rps == pytest.approx(1000 / w)


@pytest.mark.parametrize("k, w, a", [(3, 0.2, 1.0), (7, 0.1, 0.4), (2, 0.6, 0.0)])
def test_at_capacity_the_busiest_node_is_exactly_full(k, w, a):
    """Count each node's work directly at the computed throughput: the primary runs every
    write and its share of reads; each replica replays every write and reads its share."""
    c = 500.0
    x = replication.read_scaling(k, write_share=w, node_capacity_rps=c,
                                 apply_cost=a).throughput_rps[k]
    reads_each = x * (1 - w) / (k + 1)
    primary = x * w + reads_each
    replica = x * w * a + reads_each
    assert max(primary, replica) == pytest.approx(c)


@pytest.mark.parametrize("kw, name", [
    ({"write_share": 1.5}, "write_share"), ({"node_capacity_rps": 0}, "node_capacity_rps"),
    ({"apply_cost": 2.0}, "apply_cost"), ({"max_replicas": -1}, "max_replicas"),
])
def test_bad_input_names_the_parameter(kw, name):
    args = {"max_replicas": 3} | kw
    with pytest.raises((ValueError, TypeError), match=name):
        replication.read_scaling(args.pop("max_replicas"), **args)


def test_no_writes_has_no_ceiling():
    assert math.isinf(replication.read_scaling(2, write_share=0.0).limit_rps)
