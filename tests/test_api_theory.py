"""Issue 18: every public function of scalekit.theory (the closed forms), given one bad value
at a time, refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a
reason listed here. The machinery and its rules: tests/_walk.py.
"""

from __future__ import annotations

import _walk

PACKAGE = "scalekit.theory"

T = "scalekit.theory"
MM1 = {"arrival_rate": 8.0, "service_rate": 10.0}

EXAMPLES = {
    f"{T}.mm1_sojourn_s": lambda: MM1,
    f"{T}.mm1_wait_s": lambda: MM1,
    f"{T}.mm1_quantile_s": lambda: {**MM1, "q": 0.99},
    f"{T}.erlang_c": lambda: {"servers": 4, "offered_erlangs": 3.0},
    f"{T}.mmc_wait_s": lambda: {**MM1, "servers": 2},
    f"{T}.mmc_sojourn_s": lambda: {**MM1, "servers": 2},
    f"{T}.mg1_sojourn_s": lambda: {"arrival_rate": 8.0, "mean_service_s": 0.1, "scv": 1.0},
    f"{T}.mm1k_blocking": lambda: {**MM1, "capacity": 10},
    f"{T}.mva_closed": lambda: {"users": 20, "service_demand_s": 0.05, "think_time_s": 1.0},
    f"{T}.usl_capacity": lambda: {"n": 8, "sigma": 0.05, "kappa": 0.001},
    f"{T}.usl_peak": lambda: {"sigma": 0.05, "kappa": 0.001},
    f"{T}.supermarket_tail": lambda: {"load": 0.9, "choices": 2, "jobs": 3},
    f"{T}.supermarket_sojourn_s": lambda: {"load": 0.9},
    f"{T}.round_robin_sojourn_s": lambda: {"load": 0.9, "servers": 4},
    f"{T}.balls_max_load": lambda: {"bins": 1000},
}

ACCEPTED = {
    (f"{T}.mm1k_blocking", "arrival_rate"): {
        "huge float": "an overloaded M/M/1/K: blocking tends to 1, computed without overflow"},
    (f"{T}.mm1k_blocking", "service_rate"): {
        "huge float": "an almost idle M/M/1/K: blocking tends to 0"},
}

SKIP: dict[str, str] = {}


def test_walk_api():
    _walk.assert_clean(__file__)


# --------------------------------------------------------------------------- hypothesis
# On top of the walk's fixed bad values: any float (NaN, ±inf, subnormal, huge) or int in
# any numeric parameter of a closed form gives a finite answer (∞ where documented) or a
# TypeError/ValueError naming one of the function's parameters — never an OverflowError, a
# ZeroDivisionError or a NaN.

import inspect  # noqa: E402
import math  # noqa: E402

import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scalekit import theory  # noqa: E402

NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(min_value=-10**20, max_value=10**20))
INFINITE_OK = {"usl_peak"}  # κ = 0: no peak, documented as infinite
FUNCTIONS = sorted(name.rsplit(".", 1)[1] for name in EXAMPLES)


@pytest.mark.parametrize("name", FUNCTIONS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_number_is_answered_finitely_or_refused_by_name(name, data):
    fn = getattr(theory, name)
    params = list(inspect.signature(fn).parameters)
    kwargs = dict(EXAMPLES[f"{T}.{name}"]())
    for p in params:
        if data.draw(st.booleans(), label=f"replace {p}"):
            kwargs[p] = data.draw(NUMBERS, label=p)
    try:
        out = fn(**kwargs)
    except (TypeError, ValueError) as exc:
        assert any(_walk.names(str(exc), p) for p in params), str(exc)
        return
    values = out if isinstance(out, tuple) else (out,)
    for v in values:
        assert not math.isnan(v), (kwargs, out)
        assert math.isfinite(v) or name in INFINITE_OK, (kwargs, out)


@pytest.mark.parametrize("name, kwargs, names", [
    # found by a soak over Hypothesis seeds: a finite answer times a huge mean overflowed
    ("round_robin_sojourn_s", {"load": 0.9, "servers": 4,
                               "mean_service_s": 2.8163546744533705e+307}, "mean_service_s"),
    ("supermarket_sojourn_s", {"load": 0.9, "mean_service_s": 6.877022480289596e+307},
     "mean_service_s"),
    # μ − λ subnormal: 1/(μ − λ) overflows
    ("mm1_sojourn_s", {"arrival_rate": 5e-311, "service_rate": 1e-310}, "service_rate"),
    ("mm1_wait_s", {"arrival_rate": 5e-311, "service_rate": 1e-310}, "service_rate"),
    ("mmc_sojourn_s", {"arrival_rate": 5e-311, "service_rate": 1e-310, "servers": 1},
     "service_rate"),
    ("mg1_sojourn_s", {"arrival_rate": 1e-308, "mean_service_s": 1e307, "scv": 1e300}, "scv"),
])
def test_an_answer_that_overflows_is_refused_naming_its_arguments(name, kwargs, names):
    with pytest.raises(ValueError, match=rf"overflows a float.*\b{names}\b"):
        getattr(theory, name)(**kwargs)
