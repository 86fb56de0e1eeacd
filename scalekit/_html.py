"""The HTML tables that results show in a notebook (their ``_repr_html_``), in one place.

Jupyter renders an object's ``_repr_html_`` string instead of its repr. Every result type
builds its table here, so all of them look alike: real numbers (not integers, not bools) to
4 significant digits, everything else with ``str``, and every key, cell and note
HTML-escaped, so a policy named ``<b>`` shows as typed and cannot break the page. A ``note``
is plain text, shown as a paragraph under the table. Standard library only.
"""

from __future__ import annotations

import html
import numbers
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["cell", "key_value_table", "rows_table", "Table"]


def cell(value: object) -> str:
    """One value as escaped HTML text: a non-integer real to 4 significant digits, except
    from 10,000 to a trillion, where it is written out with thousands separators and one
    decimal (an instant like 40,000.5 s must not read as 4e+04)."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        x = float(value)
        if 1e4 <= abs(x) < 1e12:
            return f"{x:,.1f}"
        return f"{x:.4g}"
    return html.escape(str(value))


def _mapping(name: str, value: object) -> Mapping:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping (a dict key → value), got "
                        f"{type(value).__name__}")
    return value


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def _note(note: str) -> str:
    return f"<p>{html.escape(note)}</p>" if note else ""


def key_value_table(mapping: Mapping[str, object], note: str = "") -> str:
    """A two-column table, one row per key (the key as a left-aligned header cell)."""
    _mapping("mapping", mapping)
    _text("note", note)
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(key))}</th>"
                   f"<td>{cell(value)}</td></tr>" for key, value in mapping.items())
    return f"<table>{rows}</table>{_note(note)}"


def rows_table(rows: Iterable[Mapping[str, object] | Sequence[object]],
               columns: Sequence[str] | None = None, note: str = "") -> str:
    """A table with one row per record and a header row.

    ``rows`` are mappings (the header is the first one's keys, unless ``columns`` names it)
    or sequences of cells (then ``columns`` gives the header). Mappings are read in their own
    key order, so every row should have the same keys.
    """
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
        raise TypeError(f"rows must be a list of records (dicts or sequences of cells), got "
                        f"{type(rows).__name__}")
    if columns is not None and (isinstance(columns, str | bytes)
                                or not isinstance(columns, Sequence)):
        raise TypeError(f"columns must be None or a list of column names, got "
                        f"{type(columns).__name__}")
    _text("note", note)
    records = list(rows)
    for k, r in enumerate(records):
        if isinstance(r, str | bytes) or not isinstance(r, Mapping | Sequence):
            raise TypeError(f"rows[{k}] must be a dict or a sequence of cells, got "
                            f"{type(r).__name__}")
        if columns is not None and len(r) != len(columns):
            raise ValueError(f"rows[{k}] has {len(r)} cells but columns names {len(columns)}")
    if columns is None:
        if records and not isinstance(records[0], Mapping):
            raise TypeError("rows_table needs columns when the rows are sequences, not dicts")
        columns = list(records[0]) if records else []
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>"
                         for v in (r.values() if isinstance(r, Mapping) else r)) + "</tr>"
        for r in records)
    return f"<table><tr>{head}</tr>{body}</table>{_note(note)}"


class Table:
    """A two-column table to show in a notebook (``_repr_html_``) or a console (repr): what
    a result's ``table()`` returns, so a cell ending in ``result.table()`` shows every field."""

    def __init__(self, mapping: Mapping[str, object], note: str = "") -> None:
        _mapping("mapping", mapping)
        _text("note", note)
        self.mapping, self.note = dict(mapping), note

    def __repr__(self) -> str:
        width = max((len(str(k)) for k in self.mapping), default=0)
        lines = [f"{str(k):<{width}}  {v!r}" for k, v in self.mapping.items()]
        return "\n".join(lines + ([self.note] if self.note else []))

    def _repr_html_(self) -> str:
        return key_value_table(self.mapping, self.note)


class ScalarTable:
    """Mixin for a result dataclass: a readable repr (floats to 6 digits) and a notebook
    table of its scalar fields (those shown in the repr; arrays are declared repr=False)."""

    def summary(self) -> dict:
        """The scalar fields, in order."""
        return {k: getattr(self, k) for k, f in self.__dataclass_fields__.items() if f.repr}

    def table(self) -> Table:
        """Every scalar field as a table (a result whose notebook view is a short summary
        shows its full table this way)."""
        return Table(self.summary())

    def __repr__(self) -> str:
        shown = (f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v!r}"
                 for k, v in self.summary().items())
        return f"{type(self).__name__}({', '.join(shown)})"

    def _repr_html_(self) -> str:
        return key_value_table(self.summary())
