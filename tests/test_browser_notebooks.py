"""Every notebook in a real JupyterLab and a real Chromium, as a student sees it.

Each master notebook is copied to a temporary folder, opened in JupyterLab 4 and run with
"Run All Cells"; then, in the browser: every cell ran, no cell shows an error or anything
on stderr, every widget output rendered its view and every image in an output loaded, no
image (the Binder badge from the web) is still loading, and every slider moved one step —
from the keyboard, as ipywidgets' sliders allow (noUiSlider's handles take the arrow keys:
noUiSlider documentation, "Keyboard support") — changes the figure of its panel.

The times (run all, per slider) are recorded as test properties (``record_property``, in a
JUnit report); ``python -m benchmarks --only browser`` measures and prints them on a quiet
machine against the 300 ms budget — speed claims come from the benchmark, not from tests.

One JupyterLab server and one Chromium page per test process (module fixtures); one notebook
per test class, so ``pytest -n 2 --dist loadscope`` may share the notebooks between workers.
Skipped, with the reason, when no Chromium or playwright is found.
"""

import statistics

import _browser
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_browser.missing()),
                                                   reason=_browser.missing() or "ok")]

#: A notebook runs in under 60 s (DESIGN.md); the browser adds its own work.
RUN_ALL_TIMEOUT_S = 150.0


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    _browser.copy_notebooks(folder)
    with _browser.jupyter_lab(folder) as server:
        yield server


@pytest.fixture(scope="module")
def lab_page(lab):
    """One Chromium page of JupyterLab: every notebook of the module opens in it."""
    with _browser.chromium() as context:
        page = context.new_page()
        yield page
        page.close()


@pytest.fixture(scope="class")
def ran(request, lab, lab_page):
    """The test class's notebook opened and run all: (page, per-cell outputs, run-all time
    in ms). Closed, its kernel shut down, after the class."""
    try:
        _browser.open_notebook(lab_page, lab, request.cls.notebook)
        ms = _browser.run_all(lab_page, timeout_s=RUN_ALL_TIMEOUT_S)
        yield lab_page, _browser.wait_for_widgets(lab_page), ms
    finally:
        _browser.close_notebook(lab_page)


class NotebookInTheBrowser:
    """The checks for one notebook; a subclass names it in ``notebook``."""

    notebook = ""

    def test_every_cell_runs(self, ran, record_property):
        page, cells, ms = ran
        record_property("run_all_ms", round(ms))
        not_run = [f"cell {c['index']}: {c['source'][:60]!r}" for c in cells if not c["ran"]]
        assert not not_run, f"{self.notebook}: cells that did not run: {not_run}"

    def test_no_error_and_nothing_on_stderr(self, ran):
        _, cells, _ = ran
        problems = [f"cell {c['index']} ({c['source'][:50]!r}): {p}"
                    for c in cells for p in c["problems"]]
        assert not problems, f"{self.notebook}:\n" + "\n".join(problems)

    def test_every_widget_renders(self, ran):
        _, cells, _ = ran
        assert any(c["widgets"] for c in cells), f"{self.notebook} shows no widget"
        unrendered = [f"cell {c['index']} ({c['source'][:50]!r}): {c['rendered']} of "
                      f"{c['widgets']} widgets rendered, {c['broken']} images not shown"
                      for c in cells if c["rendered"] != c["widgets"] or c["broken"]]
        assert not unrendered, f"{self.notebook}:\n" + "\n".join(unrendered)

    def test_no_image_from_the_web_holds_the_page(self, ran):
        """The Binder badge's image cannot load here (no network): it must have failed at
        once, not be pending."""
        page, _, _ = ran
        assert _browser.pending_images(page) == []

    def test_no_first_run_prompt_covers_the_notebook(self, ran):
        """JupyterLab asks once whether to fetch Jupyter news (its "announcements"); the
        settings the server starts with answer it, so no toast or dialog is in the way."""
        page, _, _ = ran
        assert page.locator(".jp-Notification-Toast, .jp-Dialog").count() == 0
        assert "Jupyter news" not in page.locator("body").inner_text()

    def test_every_slider_changes_its_figure(self, ran, record_property):
        page, _, _ = ran
        moved = _browser.move_every_slider(page)
        assert moved, f"{self.notebook} has no slider"
        for s in moved:
            name = f"{_browser.panel_name(s['source'])}.{s['label']}"
            record_property(f"slider_ms[{name}]", [round(ms) for ms in s["ms"]])
        failed = [f"cell {s['cell']} {_browser.panel_name(s['source'])} "
                  f"slider {s['label']!r}: {s['error']}" for s in moved if s["error"]]
        assert not failed, f"{self.notebook}:\n" + "\n".join(failed)
        times = [ms for s in moved for ms in s["ms"]]
        record_property("slider_median_ms", round(statistics.median(times)))
        record_property("slider_max_ms", round(max(times)))


class TestBrowser01Servers(NotebookInTheBrowser):
    notebook = "01_servers.ipynb"


class TestBrowser02Balancing(NotebookInTheBrowser):
    notebook = "02_balancing.ipynb"


class TestBrowser03Sessions(NotebookInTheBrowser):
    notebook = "03_sessions.ipynb"


class TestBrowser04Partitioning(NotebookInTheBrowser):
    notebook = "04_partitioning.ipynb"


class TestBrowser05Replication(NotebookInTheBrowser):
    notebook = "05_replication.ipynb"


class TestBrowser06Caching(NotebookInTheBrowser):
    notebook = "06_caching.ipynb"


class TestBrowser07Capstone(NotebookInTheBrowser):
    notebook = "07_capstone.ipynb"


def test_browser_checks_every_master_notebook():
    checked = {cls.notebook for cls in NotebookInTheBrowser.__subclasses__()}
    assert checked == {p.name for p in _browser.NOTEBOOKS.glob("*.ipynb")}
