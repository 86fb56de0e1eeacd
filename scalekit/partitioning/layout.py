"""A sharded directory's layout file: which rule places the rows, and the last decision.

The real mechanism. A sharded store keeps its topology — how many shards, which rule maps a
key to a shard — in one small, authoritative place: Vitess in its topology server (the
VSchema and the shard records), Citus in its metadata tables on the coordinator. A router
reads it to route; a reshard ends by switching it. Here it is ``layout.json`` in the shard
directory, next to the ``shard-NN.sqlite3`` files::

    {"format": 1, "shard_key": "origin", "decided": 81235…,
     "strategy": {"name": "consistent", "n": 5, "vnodes": 160}}

``decided`` is the id of the last multi-shard transaction whose outcome was *commit*: the
two-phase commit of :mod:`scalekit.partitioning.twophase` writes it in the same atomic step
as the new strategy, so a reader of this file sees either the old layout or the new one and
that transaction's decision — never half of either.

Writing is the durable switch: the new content goes to ``layout.json.tmp``, is flushed and
``fsync``\\ ed, then ``os.replace`` renames it over ``layout.json`` (POSIX ``rename(2)``:
atomic — any reader sees the old file or the new one), and the directory is ``fsync``\\ ed
so the rename itself survives a power cut (Linux ``fsync(2)``: syncing a file does not sync
the directory entry that names it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scalekit import _check, _html
from scalekit.partitioning.data import PartitionError
from scalekit.partitioning.queries import column_named
from scalekit.partitioning.shards import Strategy, from_spec

__all__ = ["LAYOUT_FILE", "Layout", "read_layout", "write_layout"]

LAYOUT_FILE = "layout.json"
FORMAT = 1
Step = Callable[[str], object]


@dataclass(frozen=True)
class Layout:
    """What ``layout.json`` says: the strategy (as :meth:`Strategy.spec` data), the shard
    key column, and ``decided``, the id of the last transaction decided *commit* (or None)."""

    strategy: dict
    shard_key: str
    decided: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.strategy, Mapping):
            raise TypeError(f"strategy must be a strategy spec (a dict with a 'name' and an "
                            f"'n'), got {type(self.strategy).__name__}")
        try:
            from_spec(self.strategy)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"strategy must be a strategy spec that rebuilds: {exc}") from None
        column_named("shard_key", self.shard_key)
        _check.optional(_check.integer, "decided", self.decided, low=0,
                        meaning="no transaction decided yet")

    @property
    def n_shards(self) -> int:
        return int(self.strategy["n"])

    def rule(self) -> Strategy:
        """A fresh strategy object built from the stored spec."""
        return from_spec(self.strategy)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "shard_key": self.shard_key,
                           "decided": self.decided, "strategy": self.strategy},
                          sort_keys=True)

    def _repr_html_(self) -> str:
        return _html.key_value_table({"strategy": self.strategy["name"],
                                      "shards": self.n_shards, "shard key": self.shard_key,
                                      "last decided transaction": self.decided})


def _directory(directory):
    if not isinstance(directory, str | os.PathLike):
        raise TypeError(f"directory must be a path, got {type(directory).__name__}")
    return directory


def read_layout(directory: str | os.PathLike) -> Layout | None:
    """The layout stored in ``directory`` (None if it has no ``layout.json``)."""
    if Path(_directory(directory)).exists() and not Path(directory).is_dir():
        raise ValueError(f"directory {str(directory)!r} is a file, not a directory")
    path = Path(directory) / LAYOUT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PartitionError(f"cannot read the layout file {str(path)!r}: {exc}") from exc
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        decided = data["decided"]
        if decided is not None:
            _check.integer("decided", decided, low=0)
        layout = Layout(strategy=dict(data["strategy"]), shard_key=str(data["shard_key"]),
                        decided=decided)
        layout.rule()  # the spec must rebuild
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise PartitionError(f"the layout file {str(path)!r} is not a scalekit layout: "
                             f"{exc}") from exc
    return layout


def write_layout(directory: str | os.PathLike, layout: Layout,
                 step: Step | None = None) -> None:
    """Replace ``directory``'s layout with ``layout`` in one durable, atomic step.

    ``step(name)`` is called after the temporary file is durable (``"layout written"``: the
    old layout still rules) and after the rename (``"decided"``: the new one does). An
    ``OSError`` before the rename leaves the old layout in force and is raised as
    :class:`PartitionError`; one after it (syncing the directory) is raised too, but the new
    layout is already the one a reader sees.
    """
    if not Path(_directory(directory)).is_dir():
        raise ValueError(f"directory {str(directory)!r} is not an existing directory")
    if not isinstance(layout, Layout):
        raise TypeError(f"layout must be a Layout, got {type(layout).__name__}")
    if step is not None:
        _check.function("step", step)
    folder = Path(directory)
    final, temp = folder / LAYOUT_FILE, folder / (LAYOUT_FILE + ".tmp")
    try:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(layout.to_json())
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise PartitionError(f"writing the layout file {str(temp)!r} failed: {exc}") from exc
    if step is not None:
        step("layout written")
    try:
        os.replace(temp, final)
    except OSError as exc:
        raise PartitionError(f"switching the layout file {str(final)!r} failed: "
                             f"{exc}") from exc
    if step is not None:
        step("decided")
    _sync_directory(folder)


def _sync_directory(folder: Path) -> None:
    """fsync the directory, so a rename in it is on disk (a no-op where the OS cannot)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is done either way
    finally:
        os.close(fd)
