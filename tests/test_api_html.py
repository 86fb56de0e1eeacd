"""Issue 18: every public callable of scalekit._html (the notebook tables every result shows),
given one bad value at a time, refuses it clearly (TypeError/ValueError naming the
parameter) or accepts it for a reason listed here. The machinery: tests/_walk.py.
"""

from __future__ import annotations

import _walk

PACKAGE = "scalekit._html"

H = "scalekit._html"

EXAMPLES = {
    f"{H}.cell": lambda: {"value": 0.5},
    f"{H}.key_value_table": lambda: {"mapping": {"rate": 2.5}},
    f"{H}.rows_table": lambda: {"rows": [{"policy": "lru", "hit ratio": 0.5}]},
    f"{H}.Table": lambda: {"mapping": {"rate": 2.5}},
}

ANY_VALUE = {label: "a cell shows any value: a number to 4 digits, anything else as text "
                    "(HTML-escaped)" for label in _walk.BAD}

ACCEPTED = {
    (f"{H}.cell", "value"): ANY_VALUE,
    (f"{H}.key_value_table", "mapping"): {"empty dict": "no rows: an empty table"},
    (f"{H}.Table", "mapping"): {"empty dict": "no rows: an empty table"},
    (f"{H}.rows_table", "rows"): {"empty list": "no records: the header row only"},
    (f"{H}.rows_table", "columns"): {"None": "None: the first record's keys (documented)"},
    **{(f"{H}.{fn}", "note"): {"string": "any text, shown as a paragraph"}
       for fn in ("key_value_table", "rows_table", "Table")},
}

SKIP = {f"{H}.ScalarTable": "a mixin of result dataclasses (its methods take no arguments)"}


def test_walk_api():
    _walk.assert_clean(__file__)
