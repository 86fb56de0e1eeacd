"""Issue 18's walk for notebook 07's package: every public callable of scalekit.design, given
one bad value at a time, refuses it clearly (TypeError/ValueError naming the parameter) or
accepts it for a reason listed here. The machinery and its rules: tests/_walk.py.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import _walk

PACKAGE = "scalekit.design"

D = "scalekit.design"


def _design():
    from scalekit.design import Design
    return Design(servers=40, cache_keys=500, replicas=1)


@functools.cache
def _result():
    """One evaluation, shared by every walked method (results are frozen)."""
    from scalekit.design import evaluate
    return evaluate(_design())


if Path(getattr(sys.modules["__main__"], "__file__", "")).name == "_walk.py":
    # In the walk's own process: evaluate once before the walk's 5 s limit applies to each
    # call (the first evaluation loads the compiled dispatch kernels: seconds on a loaded
    # machine). Never on import by pytest.
    _result()


def _comparison():
    from scalekit.design import compare
    return compare({"a": _design()})


EXAMPLES = {
    f"{D}.evaluate.evaluate": lambda: {"design": _design()},
    f"{D}.evaluate.compare": lambda: {"designs": {"a": _design()}},
    f"{D}.choices.Traffic.scaled": lambda: {"factor": 2.0},
    f"{D}.evaluate.DesignResult.meets": lambda: {"p99_ms": 150.0},
    f"{D}.evaluate.DesignComparison.cheapest": lambda: {"p99_ms": 150.0},
    f"{D}.evaluate.DesignResult.tier": lambda: {"name": "database"},
    f"{D}.evaluate.DesignResult.failure": lambda: {"component": "balancer"},
}

INSTANCES = {
    f"{D}.choices.Traffic": lambda: __import__("scalekit.design", fromlist=["x"]).Traffic(),
    f"{D}.choices.Design": _design,
    f"{D}.evaluate.DesignResult": _result,
    f"{D}.evaluate.DesignComparison": _comparison,
}

ACCEPTED = {
    (f"{D}.evaluate.evaluate", "traffic"): {"None": "None: the default Traffic (documented)"},
    (f"{D}.evaluate.evaluate", "prices"): {"None": "None: the default Prices (documented)"},
    (f"{D}.evaluate.compare", "traffic"): {"None": "None: the default Traffic (documented)"},
    (f"{D}.evaluate.compare", "prices"): {"None": "None: the default Prices (documented)"},
    (f"{D}.evaluate.DesignResult.meets", "budget_per_h"): {
        "None": "None: no budget (documented)",
        "huge int": "a budget no design exceeds: only the objective counts",
        "huge float": "a budget no design exceeds: only the objective counts"},
    (f"{D}.evaluate.DesignResult.meets", "p99_ms"): {
        "huge int": "an objective every finite p99 meets",
        "huge float": "an objective every finite p99 meets"},
    (f"{D}.evaluate.DesignComparison.cheapest", "p99_ms"): {
        "huge int": "an objective every finite p99 meets",
        "huge float": "an objective every finite p99 meets"},
}

SKIP = {
    f"{D}.choices.Design.with_": "its keywords are Design's fields, each walked on Design",
    f"{D}.evaluate.Tier": "a result dataclass built only by evaluate",
    f"{D}.evaluate.Rows": "a table built only by DesignResult's tier_table/failure_table",
    f"{D}.evaluate.Failure": "a result dataclass built only by evaluate",
    f"{D}.evaluate.DesignResult": "a result dataclass built only by evaluate",
    f"{D}.evaluate.DesignComparison": "a result dataclass built only by compare",
    f"{D}.tiers.HttpTier": "a result dataclass built only by http_tier",
}
# The tiers are evaluate's steps, called with values Design and Traffic have checked; each
# hands its values to a topic model whose own walk names its parameters.
SKIP |= {f"{D}.tiers.{name}": "a step of evaluate, on values Design/Traffic checked; the "
         "topic model it calls has its own walk"
         for name in ("http_tier", "day", "forwarded_trace", "app_pool", "through_balancer",
                      "sessions_runs", "cache_hit", "shard_shares", "db_capacity_rps",
                      "commit_runs", "clear")}


def test_walk_api():
    _walk.assert_clean(__file__)
