"""Notebook 02's moving picture in a real JupyterLab and a real Chromium (issue 15 §1): the
three rules' flows, built by the notebook's own cells, render after their still figure, play
when one is started — all three, since they are linked — move while playing, and stop
together, at one instant, when one is paused.

The cells are taken from notebooks/02_balancing.ipynb itself (its imports and its "Watch the
requests flow" cells), so this is what a student runs. Sources as tests/test_browser_flow.py
(requestAnimationFrame paces the frames counted here).
"""

import json
from pathlib import Path

import _browser
import _browser_flow
import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_browser.missing()),
                                                   reason=_browser.missing() or "ok")]

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_balancing.ipynb"


def notebook_cells() -> list[str]:
    """Notebook 02's imports and its flow cells, in order."""
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code"]
    imports = next(c for c in cells if c.startswith("from scalekit import balancing"))
    flows = [c for c in cells if c.startswith(("flows = ", "view.animate_policies(flows)"))]
    assert len(flows) == 2, "notebook 02 builds its flows, then animates them"
    return [imports, *flows]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flows02")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c)
                                         for c in notebook_cells()])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, folder / "flows.ipynb")
    with _browser.ran_notebook(folder, "flows.ipynb") as (page, cells):
        assert all(c["ran"] for c in cells)
        assert [p for c in cells for p in c["problems"]] == []
        yield page


def _views(page):
    views = [page.locator(".sk-flow").nth(i) for i in range(page.locator(".sk-flow").count())]
    views[0].scroll_into_view_if_needed()
    return views


def test_three_views_render_after_the_still_figure(page):
    assert page.locator(".sk-flow canvas").count() == 3
    titles = page.locator(".sk-flow .sk-flow-title").all_text_contents()
    assert [t.strip() for t in titles] == ["random", "round robin", "fewest connections"]
    first_image = page.locator(".jp-OutputArea-output img").first.bounding_box()
    assert first_image["y"] < page.locator(".sk-flow").first.bounding_box()["y"]


def test_starting_one_plays_all_three_and_pausing_one_stops_all(page):
    views = _views(page)
    before = [_browser_flow.flow_state(v) for v in views]
    assert not any(s["playing"] for s in before)
    views[0].locator(".sk-flow-play").click()
    for v, s in zip(views, before, strict=True):
        _browser_flow.wait_drawn(page, v, s["frames"] + 10)
    moving = [_browser_flow.flow_state(v) for v in views]
    assert all(s["playing"] for s in moving), "the linked views did not all start"
    for v, s in zip(views, moving, strict=True):
        _browser_flow.wait_drawn(page, v, s["frames"] + 10)
    later = [_browser_flow.flow_state(v) for v in views]
    for a, b in zip(moving, later, strict=True):
        assert a["time"] < b["time"] and a["image"] != b["image"], "a view did not move"
    views[1].locator(".sk-flow-play").click()
    for v in views:
        page.wait_for_function("el => el.dataset.playing === 'false'", arg=v.element_handle())
    _browser_flow.wait_frames(page, 15)
    paused = [_browser_flow.flow_state(v) for v in views]
    _browser_flow.wait_frames(page, 15)
    still = [_browser_flow.flow_state(v) for v in views]
    for a, b in zip(paused, still, strict=True):
        assert a["image"] == b["image"] and a["time"] == b["time"], "moved after pause"
    times = [s["time"] for s in still]
    assert max(times) - min(times) < 1e-6, f"paused at different instants: {times}"
