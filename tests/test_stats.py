"""The test suite's own statistics (tests/_stats.py): the false-alarm rates its docstrings
state come from Student's t, checked against the t distribution's closed forms.

Sources: at 1 degree of freedom Student's t is the Cauchy distribution, P(|T| > z) =
1 − (2/π)·arctan z; at 2, P(|T| > z) = 1 − z/√(2 + z²) (Johnson, Kotz & Balakrishnan,
Continuous Univariate Distributions vol. 2, ch. 28); the normal tail is erfc(z/√2).
"""

import math
import re
from pathlib import Path

import pytest

import _stats


@pytest.mark.parametrize("z", [1.0, 2.5, 4.0])
def test_false_alarm_matches_the_closed_forms(z):
    assert _stats.false_alarm(2, z) == pytest.approx(1 - 2 / math.pi * math.atan(z), rel=1e-6)
    assert _stats.false_alarm(3, z) == pytest.approx(1 - z / math.sqrt(2 + z * z), rel=1e-6)


def test_false_alarm_tends_to_the_normal_tail():
    normal = _stats.false_alarm(None)
    assert normal == pytest.approx(6.334e-5, rel=1e-3)  # 2·(1 − Φ(4))
    assert _stats.false_alarm(400) == pytest.approx(normal, rel=0.2)
    assert _stats.false_alarm(8) > _stats.false_alarm(16) > _stats.false_alarm(40) > normal


def test_the_table_in_the_docstring_is_what_the_formula_gives():
    """Each "1/N" in tests/_stats.py's table is 1 / false_alarm(replications), rounded."""
    doc = Path(_stats.__file__).read_text()
    rows = [line.split() for line in doc.splitlines()
            if line.startswith(("replications", "chance"))]
    counts = [int(x) for x in rows[0][1:-2]]
    rates = [int(x.replace(",", "")) for x in re.findall(r"1/([\d,]+)", " ".join(rows[1]))]
    assert len(rates) == len(counts) + 1
    for reps, n in zip(counts, rates, strict=False):
        assert round(1 / _stats.false_alarm(reps)) == n, reps
    assert round(1 / _stats.false_alarm(None)) == rates[-1]
