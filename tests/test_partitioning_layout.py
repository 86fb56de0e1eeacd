"""The layout file: strategies as data, and the durable, atomic switch.

Sources: POSIX ``rename(2)`` — "If newpath already exists, it will be atomically replaced,
so that there is no point at which another process attempting to access newpath will find
it missing" (Linux man-pages, rename(2)); ``fsync(2)`` — syncing a file does not sync the
directory entry naming it: "an explicit fsync() on a file descriptor for the directory is
also needed".
"""

import json
import os

import pytest

from scalekit.partitioning.data import PartitionError
from scalekit.partitioning.layout import LAYOUT_FILE, Layout, read_layout, write_layout
from scalekit.partitioning.shards import (
    ConsistentHash,
    DirectoryShards,
    JumpHash,
    ModuloHash,
    RangeShards,
    from_spec,
)

KEYS = [f"K{i:03d}" for i in range(300)] + list(range(50))
RULES = [ModuloHash(5), JumpHash(7), ConsistentHash(4, 48), RangeShards(3, ["K100", "K200"]),
         DirectoryShards(4, {"ATL": 2, 17: 1, "LHR": 3}, rule="hash")]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_a_spec_survives_json_and_places_every_key_the_same(rule):
    spec = json.loads(json.dumps(rule.spec()))
    again = from_spec(spec)
    assert type(again) is type(rule) and again.spec() == rule.spec()
    keys = [k for k in KEYS if not (rule.name == "range" and isinstance(k, int))]
    assert [again.shard_for(k) for k in keys] == [rule.shard_for(k) for k in keys]


def test_write_then_read(tmp_path):
    layout = Layout(ConsistentHash(3).spec(), "origin", decided=12345)
    write_layout(tmp_path, layout)
    assert read_layout(tmp_path) == layout
    assert read_layout(tmp_path / "nowhere") is None
    assert not (tmp_path / (LAYOUT_FILE + ".tmp")).exists()


def test_a_failure_before_the_rename_leaves_the_old_layout(tmp_path):
    old = Layout(ModuloHash(4).spec(), "origin", decided=1)
    new = Layout(ModuloHash(5).spec(), "origin", decided=2)
    write_layout(tmp_path, old)
    seen = []

    def crash(step):
        seen.append(step)
        if step == "layout written":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_layout(tmp_path, new, crash)
    assert read_layout(tmp_path) == old  # the new content is durable, but not yet in force
    write_layout(tmp_path, new, seen.append)
    assert seen == ["layout written", "layout written", "decided"]
    assert read_layout(tmp_path) == new


def test_the_switch_is_one_rename(tmp_path, monkeypatch):
    """The only step that changes what a reader sees is os.replace of the temporary file
    onto layout.json — so no reader can ever see half a file."""
    calls = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append((a, b)), real(a, b)))
    write_layout(tmp_path, Layout(JumpHash(2).spec(), "id"))
    assert [(os.path.basename(a), os.path.basename(b)) for a, b in calls] == \
        [(LAYOUT_FILE + ".tmp", LAYOUT_FILE)]


@pytest.mark.parametrize("text", ["not json", '{"format": 2}', '{"format": 1, "decided": null}',
                                  '{"format": 1, "decided": -1, "shard_key": "id", '
                                  '"strategy": {"name": "modulo", "n": 2}}',
                                  '{"format": 1, "decided": null, "shard_key": "id", '
                                  '"strategy": {"name": "rendezvous", "n": 2}}'])
def test_a_damaged_layout_is_refused(tmp_path, text):
    (tmp_path / LAYOUT_FILE).write_text(text)
    with pytest.raises(PartitionError, match="not a scalekit layout"):
        read_layout(tmp_path)


def test_bad_specs_and_layouts_are_refused(tmp_path):
    with pytest.raises(ValueError, match="'name' and an 'n'"):
        from_spec({"n": 3})
    with pytest.raises(ValueError, match="cannot rebuild"):
        from_spec({"name": "modulo", "n": 3, "vnodes": 5})
    with pytest.raises(TypeError, match="Layout"):
        write_layout(tmp_path, {"strategy": {}})
