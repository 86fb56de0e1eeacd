"""Judging a simulation against theory: the mean over seeded replications and its standard
error, and a check that is both a real test (tight enough) and fair (Z standard errors).

Z = 4. The standard error is itself estimated from the replications, so the chance that a
correct model fails one comparison is that of Student's t beyond 4 with reps − 1 degrees of
freedom: about 1 in 1,500 at 16 replications, 1 in 200 at 8, 1 in 100 at 6. Every run is
seeded, so a pass or a fail is repeatable: a passing test cannot start failing by chance.
"""

from scalekit import sim

Z = 4.0


def mean_over_seeds(fn, reps=16, seed=0):
    """(mean, standard error) of ``fn(seed_i)`` over ``reps`` independent seeds."""
    return sim.replicate(fn, reps, seed=seed)


def assert_matches(mean, se, expected, power=0.05):
    """|mean − expected| ≤ Z·SE, and the test could see a ``power`` (5%) relative error."""
    assert se < power * expected / Z, f"too noisy to be a real test: se={se:.3g}"
    assert abs(mean - expected) <= Z * se, f"{mean:.5g} vs theory {expected:.5g} (se {se:.3g})"
