"""Independent random streams from one seed (``scalekit._seeds``).

Source: numpy, *Parallel random number generation* —
https://numpy.org/doc/stable/reference/random/parallel.html — "SeedSequence ... spawn
independent child SeedSequences"; a child's identity is the parent's entropy plus its
``spawn_key`` (the child's index), documented on ``numpy.random.SeedSequence``.
"""

import numpy as np
import pytest

from scalekit import _seeds


def draws(rng, n=8):
    return rng.integers(0, 2**62, size=n).tolist()


def test_stream_i_is_numpys_spawned_child_i_whatever_the_count():
    for n in (1, 3, 7):
        got = _seeds.streams(42, n)
        assert len(got) == n
        for i, rng in enumerate(got):
            child = np.random.SeedSequence(42, spawn_key=(i,))  # numpy's documented identity
            assert draws(rng) == draws(np.random.default_rng(child))


def test_the_seed_plus_one_overlap_is_gone():
    """The defect of issue 14 §3: with ``seed`` and ``seed + 1``, seed 0's second stream was
    seed 1's first. Spawned streams of neighbouring seeds share nothing."""
    zero, one = _seeds.streams(0, 2), _seeds.streams(1, 2)
    assert draws(zero[1]) != draws(one[0])
    assert len({tuple(draws(r)) for r in zero + one}) == 4


def test_streams_are_uncorrelated_within_their_standard_error():
    """Two streams of one seed: the sample correlation of n uniforms has standard error
    1/sqrt(n) if independent; 5 standard errors is a false alarm about once in 1.7 million."""
    n = 100_000
    a, b = (rng.random(n) for rng in _seeds.streams(7, 2))
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(n)


def test_no_seed_means_fresh_entropy_and_generators_pass_through():
    assert draws(_seeds.streams(None, 1)[0]) != draws(_seeds.streams(None, 1)[0])
    rng = np.random.default_rng(3)
    assert _seeds.generator(rng) is rng
    assert draws(_seeds.generator(5)) == draws(np.random.default_rng(5))


@pytest.mark.parametrize(("seed", "n", "exc", "name"), [
    (-1, 2, ValueError, "seed"), (1.5, 2, TypeError, "seed"), ("0", 2, TypeError, "seed"),
    (0, 0, ValueError, "n"), (0, 10**9, ValueError, "n"), (0, 2.0, TypeError, "n"),
])
def test_bad_input_names_the_parameter(seed, n, exc, name):
    with pytest.raises(exc, match=name):
        _seeds.streams(seed, n)
