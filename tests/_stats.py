"""Judging a simulation against theory: the mean over seeded replications and its standard
error, and a check that is both a real test (tight enough) and fair (Z standard errors).

Z = 4: a correct model fails a comparison about 1 time in 15,000; every run is seeded, so a
pass or a fail is repeatable.
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
