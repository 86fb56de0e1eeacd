"""Judging a simulation against theory: the mean over seeded replications and its standard
error, and a check that is both a real test (tight enough) and fair (Z standard errors).

Z = 4. The standard error is itself estimated from the replications, so the chance that a
correct model fails one comparison is that of Student's t beyond ±4 with reps − 1 degrees of
freedom, P(|T| > 4) = 2·(1 − F_t(4; reps − 1)) — scipy.stats.t.sf(4, df) · 2, or the density
integrated (tests/test_stats.py checks :func:`false_alarm` against the closed forms at 1 and
2 degrees of freedom):

============  =====  =====  =====  =====  ======  ======  ======  ======  =============
replications  6      8      10     12     16      20      30      40      σ known
chance        1/97   1/193  1/321  1/479  1/863   1/1305  1/2500  1/3652  1/15,787 (normal)
============  =====  =====  =====  =====  ======  ======  ======  ======  =============

Every run is seeded, so a pass or a fail is repeatable: a passing test cannot start failing by
chance; the rates say how often a correct model would have been refused when the seeds were
chosen.
"""

import math

import numpy as np

from scalekit import sim

Z = 4.0


def false_alarm(reps: int | None, z: float = Z) -> float:
    """P(|T| > z) for Student's t with reps − 1 degrees of freedom (reps=None: the normal,
    for a standard error known rather than estimated): the chance a correct model fails one
    comparison of :func:`assert_matches`."""
    if reps is None:
        return math.erfc(z / math.sqrt(2.0))
    df = reps - 1
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    u = np.linspace(1e-9, 1.0, 400_001)  # x = z / u maps (z, ∞) onto (0, 1]
    x = z / u
    return float(2 * np.trapezoid(c * (1 + x * x / df) ** (-(df + 1) / 2) * z / u**2, u))


def mean_over_seeds(fn, reps=16, seed=0):
    """(mean, standard error) of ``fn(seed_i)`` over ``reps`` independent seeds."""
    return sim.replicate(fn, reps, seed=seed)


def assert_matches(mean, se, expected, power=0.05):
    """|mean − expected| ≤ Z·SE, and the test could see a ``power`` (5%) relative error."""
    assert se < power * expected / Z, f"too noisy to be a real test: se={se:.3g}"
    assert abs(mean - expected) <= Z * se, f"{mean:.5g} vs theory {expected:.5g} (se {se:.3g})"
