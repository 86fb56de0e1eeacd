"""A real JupyterLab and a real Chromium for the browser tests and the browser benchmark.

:func:`jupyter_lab` starts JupyterLab on a free loopback port with token auth, in temporary
Jupyter config, data, runtime, settings and workspace directories (nothing of the user's is read
or written), with the first-run news prompt and the update check off, and stops it — kernels
included — on exit, on error and on interrupt. :func:`chromium` drives Debian's Chromium with
playwright. The helpers below open a notebook, run all its cells and measure what a student
sees; every wait is on a DOM or application condition with a timeout, never a sleep.

Sources: JupyterLab's announcements settings (``fetchNews``, ``checkForUpdates``,
``LabApp.news_url``, ``LabApp.check_for_updates_class``) — JupyterLab documentation, "User
Guide › Announcements"; ``LabApp.expose_app_in_browser`` puts the application at
``window.jupyterapp``, as JupyterLab's own UI tests (Galata) use it; the notebook setting
``windowingMode: "none"`` attaches every cell to the DOM (JupyterLab's notebook settings
schema), so that widgets below the fold render too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: Chromium's flags: headless and, on a machine without a network, nothing in the background
#: that would reach out (component updates, sync, QUIC probes) and no DNS for any host but
#: the loopback one, so an image from the web (the Binder badge) fails at once.
CHROMIUM_FLAGS = (
    "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
#: The budget a slider change has, in the browser, to show its new figure (issue 15).
SLIDER_BUDGET_MS = 300.0


def chromium_path() -> str | None:
    """Debian's Chromium (``$SCALEKIT_CHROMIUM`` to point elsewhere), or None."""
    for candidate in (os.environ.get("SCALEKIT_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    if chromium_path() is None:
        return "no Chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "no playwright for Python (pip install playwright)"
    return ""


# --------------------------------------------------------------------------- JupyterLab


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its base ``url`` (ends in /), ``token`` and ``root`` folder."""

    url: str
    token: str
    root: Path

    def notebook_url(self, name: str) -> str:
        """The notebook's address; ``reset`` starts from an empty workspace, so a notebook
        opened before in this server is not restored beside it."""
        return f"{self.url}lab/tree/{name}?reset&token={self.token}"


def _settings(folder: Path) -> None:
    """User settings: no news prompt, no update check, every cell attached to the DOM."""
    chosen = {
        "@jupyterlab/apputils-extension/notification":
            {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }
    for plugin, values in chosen.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _config(folder: Path) -> None:
    """Server config: news and update checks off, the app exposed for the tests, and a
    safety net (idle kernels culled, an idle server stopping itself) should the test process
    die without stopping it."""
    config = {
        "LabApp": {"news_url": None, "expose_app_in_browser": True,
                   "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
        "ServerApp": {"open_browser": False, "shutdown_no_activity_timeout": 900},
        "MappingKernelManager": {"cull_idle_timeout": 900, "cull_interval": 60},
    }
    (folder / "jupyter_server_config.json").write_text(json.dumps(config))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM if the process that started it dies."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def jupyter_lab(root: Path, *, timeout_s: float = 90.0):
    """Start JupyterLab over ``root`` on a free loopback port; yield a :class:`Lab`.

    Stopped on exit (its REST shutdown, which shuts its kernels down, then SIGTERM, then
    SIGKILL of its process group), also when the body raises or is interrupted.
    """
    with tempfile.TemporaryDirectory(prefix="scalekit-lab-") as tmp:
        home = Path(tmp)
        dirs = {name: home / name for name in
                ("config", "data", "runtime", "settings", "workspaces", "ipython")}
        for d in dirs.values():
            d.mkdir()
        _settings(dirs["settings"])
        _config(dirs["config"])
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(dirs["config"]),
                   JUPYTER_DATA_DIR=str(dirs["data"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
                   JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
                   JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
                   IPYTHONDIR=str(dirs["ipython"]), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
        env.pop("JUPYTER_TOKEN", None)
        token = secrets.token_hex(16)
        command = [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", "--port=0",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                   f"--ServerApp.root_dir={root}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        log = (home / "server.log").open("wb")
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        lab = None
        try:
            lab = _wait_until_up(proc, dirs["runtime"], token, root, home / "server.log",
                                 timeout_s)
            yield lab
        finally:
            _stop(proc, lab)
            log.close()


def _wait_until_up(proc, runtime: Path, token: str, root: Path, log: Path,
                   timeout_s: float) -> Lab:
    """Poll the server's runtime file, then its REST status, until it answers."""
    deadline = time.monotonic() + timeout_s
    info = runtime / f"jpserver-{proc.pid}.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        if info.exists():
            with contextlib.suppress(ValueError, OSError):
                port = json.loads(info.read_text())["port"]
                url = f"http://127.0.0.1:{port}/"
                if _get(f"{url}api/status", token) == 200:
                    return Lab(url, token, root)
        time.sleep(0.1)  # polling a process's start-up, not synchronising the test
    raise TimeoutError(f"JupyterLab did not answer within {timeout_s:g} s:\n"
                       f"{log.read_text(errors='replace')[-3000:]}")


def _get(url: str, token: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method,
                                     headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


def _stop(proc: subprocess.Popen, lab: Lab | None) -> None:
    if proc.poll() is None and lab is not None:
        _get(f"{lab.url}api/shutdown", lab.token, method="POST")
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: stray kernels go too
    proc.wait(timeout=10)


# --------------------------------------------------------------------------- Chromium


@contextlib.contextmanager
def chromium(*, width: int = 1280, height: int = 1000):
    """Debian's Chromium through playwright; yields a browser context (a fresh profile)."""
    from playwright.sync_api import sync_playwright

    args = list(CHROMIUM_FLAGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=args, headless=True)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            yield context
            context.close()
        finally:
            browser.close()


def copy_notebooks(folder: Path, names=None) -> list[str]:
    """Copy the master notebooks (all, or ``names``) into ``folder``; return their names."""
    paths = sorted(NOTEBOOKS.glob("*.ipynb")) if names is None else [
        NOTEBOOKS / n for n in names]
    for path in paths:
        shutil.copy(path, folder / path.name)
    return [p.name for p in paths]


# --------------------------------------------------------------------------- notebooks

#: Helpers the later snippets call, installed in the page when a notebook is opened:
#: the notebook panel of the path, and the figure of a slider's panel (the first image in
#: the nearest box around the slider that holds one — a panel is controls, a status line and
#: its figure — inside the slider's cell).
_HELPERS = """(path) => {
  window.__scalekitNotebook = () => {
    for (const w of window.jupyterapp.shell.widgets('main'))
      if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
    return null;
  };
  window.__scalekitFigureOf = (handle) => {
    const cell = handle.closest('.jp-Cell');
    let box = handle.closest('.widget-slider').parentElement;
    while (box && box !== cell && !box.querySelector('img')) box = box.parentElement;
    return box && box !== cell ? box.querySelector('img') : null;
  };
}"""

#: The notebook panel is ready: its file loaded and its kernel connected and idle.
_READY = """() => {
  const nb = window.__scalekitNotebook();
  const kernel = nb && nb.sessionContext.session && nb.sessionContext.session.kernel;
  return !!(nb && nb.context.isReady && kernel
      && kernel.connectionStatus === 'connected' && kernel.status === 'idle');
}"""

_RUN_ALL = """() => {
  const nb = window.__scalekitNotebook();
  window.jupyterapp.shell.activateById(nb.id);  // the command runs the active notebook
  window.__scalekitRun = {done: false, ok: null, ms: null};
  const t0 = performance.now();
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
      ok => { window.__scalekitRun.ok = ok; },
      err => { window.__scalekitRun.ok = String(err); },
  ).finally(() => {
      window.__scalekitRun.done = true; window.__scalekitRun.ms = performance.now() - t0; });
}"""

#: The run-all command has answered and the kernel is idle again.
_RAN = """() => {
  const nb = window.__scalekitNotebook();
  return window.__scalekitRun.done && nb.sessionContext.session.kernel.status === 'idle';
}"""

#: What the notebook shows a student: per code cell, its source, problems in its outputs
#: (errors, stderr), its widget outputs and how many of them rendered.
_OUTPUTS = """() => {
  const nb = window.__scalekitNotebook();
  const WIDGET = 'application/vnd.jupyter.widget-view+json';
  const out = [];
  nb.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== 'code') return;
    const problems = [];
    let widgets = 0, rendered = 0;
    // The output area's children are its outputs, in order: a widget output is rendered
    // when its view (any widget library's, anywidget's too) has put content in its node.
    const shown = [...cell.outputArea.node.querySelectorAll(
        ':scope > .jp-OutputArea-child > .jp-OutputArea-output')];
    cell.model.outputs.toJSON().forEach((o, j) => {
      if (o.output_type === 'error') problems.push(`${o.ename}: ${o.evalue}`);
      else if (o.output_type === 'stream' && o.name === 'stderr')
        problems.push('stderr: ' + [].concat(o.text).join('').slice(0, 500));
      else if (o.data && o.data[WIDGET]) {
        widgets += 1;
        const view = shown[j] && shown[j].firstElementChild;
        if (view && (view.childElementCount > 0 || view.matches('img, canvas, input, button'))
            && !view.querySelector('.jupyter-widgets-error-widget')
            && !/Error (displaying|rendering) widget/.test(shown[j].textContent)) rendered += 1;
      }
    });
    const images = [...cell.node.querySelectorAll('.jp-OutputArea-output img')];
    const broken = images.filter(img => !(img.complete && img.naturalWidth > 0)).length;
    const source = cell.model.sharedModel.getSource();
    out.push({index, source, problems, widgets, rendered, broken,
              ran: cell.model.executionCount != null || !source.trim()});
  });
  return out;
}"""


_LOADED = "() => !!(window.jupyterapp && window.jupyterapp.shell)"


def open_notebook(page, lab: Lab, name: str, *, timeout_s: float = 90.0) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is idle. In a page where this
    server's JupyterLab runs already, the notebook opens there (JupyterLab's
    ``docmanager:open`` command), so the application loads once per page."""
    if page.url.startswith(lab.url) and page.evaluate(_LOADED):
        page.evaluate("""async (path) => {
            await window.jupyterapp.commands.execute('docmanager:open', {path}); }""", name)
    else:
        page.goto(lab.notebook_url(name), wait_until="domcontentloaded")
        page.wait_for_function(_LOADED, timeout=timeout_s * 1e3, polling=100)
    page.evaluate(_HELPERS, name)
    page.wait_for_function(_READY, timeout=timeout_s * 1e3, polling=100)


def run_all(page, *, timeout_s: float = 120.0) -> float:
    """Run every cell (JupyterLab's "Run All Cells", which stops at a cell that fails); wait
    until it has answered and the kernel is idle; return the time it took in the browser
    (ms, from the command to the last cell's answer). Whether every cell ran, and what each
    showed, :func:`outputs` tells. Raises TimeoutError naming the cells that had not run."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate(_RUN_ALL)
    try:
        page.wait_for_function(_RAN, timeout=timeout_s * 1e3, polling=100)
    except PlaywrightTimeout as exc:
        waiting = [f"cell {c['index']}: {c['source'][:60]!r}" for c in outputs(page)
                   if not c["ran"]]
        raise TimeoutError(f"run all did not finish within {timeout_s:g} s; not run yet: "
                           f"{waiting[:3]}") from exc
    return float(page.evaluate("() => window.__scalekitRun.ms"))


def outputs(page) -> list[dict]:
    """Per code cell: ``index``, ``source``, ``problems`` (errors, stderr), ``widgets``,
    ``rendered`` (widget outputs whose view rendered), ``broken`` (images not shown)."""
    return page.evaluate(_OUTPUTS)


def wait_for_widgets(page, *, timeout_s: float = 30.0) -> list[dict]:
    """Wait until every widget output has rendered its view and every output image has
    loaded (or give up after ``timeout_s``); return :func:`outputs`."""
    condition = (f"() => ({_OUTPUTS})().every(c => c.rendered === c.widgets "
                 "&& c.broken === 0)")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # the caller asserts on what rendered
        page.wait_for_function(condition, timeout=timeout_s * 1e3, polling=100)
    return outputs(page)


def pending_images(page) -> list[str]:
    """Images anywhere in the notebook still loading (e.g. a badge from the web)."""
    return page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook img')]
        .filter(img => !img.complete).map(img => img.src.slice(0, 120))""")


# --------------------------------------------------------------------------- sliders

#: Number every slider handle in the notebook (data-scalekit-slider) and tell, for each, the
#: cell it is in, its label, and whether a figure shares its panel.
_SLIDERS = """() => {
  const nb = window.__scalekitNotebook();
  const found = [];
  nb.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== 'code') return;
    for (const handle of cell.node.querySelectorAll('.widget-slider .noUi-handle')) {
      if (handle.classList.contains('noUi-handle-upper')) continue;  // a range's other end
      const slider = handle.closest('.widget-slider');
      const id = found.length;
      handle.setAttribute('data-scalekit-slider', String(id));
      const label = slider.querySelector('.widget-label');
      found.push({id, cell: index, label: label ? label.textContent.trim() : '',
                  source: cell.model.sharedModel.getSource().trim(),
                  figure: !!window.__scalekitFigureOf(handle),
                  value: handle.getAttribute('aria-valuenow'),
                  max: handle.getAttribute('aria-valuemax')});
    }
  });
  return found;
}"""

#: Arm a watch on slider ``id``'s figure: the instant of the next keydown on its handle and
#: the instant the figure's image, with a new source, has loaded and a frame has been painted.
_ARM = """(id) => {
  const handle = document.querySelector(`[data-scalekit-slider="${id}"]`);
  const img = window.__scalekitFigureOf(handle);
  const w = window.__scalekitWatch = {pressedAt: null, shownAt: null, src: img.src};
  handle.addEventListener('keydown', () => { w.pressedAt = performance.now(); },
                          {capture: true, once: true});
  const shown = () => requestAnimationFrame(() => { w.shownAt = performance.now(); });
  const watch = new MutationObserver(() => {
    if (img.src === w.src) return;
    watch.disconnect();
    if (img.complete && img.naturalWidth > 0) shown();
    else img.addEventListener('load', shown, {once: true});
  });
  watch.observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def sliders(page) -> list[dict]:
    """Every slider in the open notebook: ``id``, ``cell``, ``label``, ``source`` (its
    cell's code), ``figure`` (whether a figure shares its panel), ``value``, ``max``."""
    return page.evaluate(_SLIDERS)


def nudge(page, slider: dict, key: str, *, timeout_s: float = 15.0) -> float:
    """Press ``key`` (ArrowRight / ArrowLeft) on a slider's handle, as a student using the
    keyboard would, and return the milliseconds until its figure showed the new picture
    (keydown to the first frame painted after the new image loaded). Raises TimeoutError
    (playwright's) if the figure did not change within ``timeout_s``."""
    page.evaluate(_ARM, slider["id"])
    page.locator(f'[data-scalekit-slider="{slider["id"]}"]').press(key)
    page.wait_for_function("() => window.__scalekitWatch.shownAt !== null",
                           timeout=timeout_s * 1e3, polling="raf")
    w = page.evaluate("() => window.__scalekitWatch")
    return float(w["shownAt"] - w["pressedAt"])


def move_every_slider(page, *, timeout_s: float = 15.0) -> list[dict]:
    """Move every slider one step and back (two changes, each from the notebook's
    defaults or back to them) and time each: a list of the sliders with ``ms`` (the two
    times) or ``error`` (what went wrong)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    measured = []
    for s in sliders(page):
        if not s["figure"]:
            measured.append({**s, "error": "no figure in its panel", "ms": []})
            continue
        at_max = s["value"] is not None and s["value"] == s["max"]
        keys = ("ArrowLeft", "ArrowRight") if at_max else ("ArrowRight", "ArrowLeft")
        times, error = [], ""
        for key in keys:
            try:
                times.append(nudge(page, s, key, timeout_s=timeout_s))
            except PlaywrightTimeout:
                error = f"{key}: the figure did not change within {timeout_s:g} s"
                break
        measured.append({**s, "ms": times, "error": error})
    return measured


def panel_name(source: str) -> str:
    """The view a cell calls (``view.explore_policies()`` → ``explore_policies``)."""
    for token in source.replace("(", " ").replace(".", " ").split():
        if token.startswith("explore_") or token.endswith("View"):
            return token
    return source.splitlines()[-1][:40] if source else "?"


def close_notebook(page) -> None:
    """Shut the open notebook's kernel down and close its tab (unsaved: the masters'
    copies stay as they were)."""
    from playwright.sync_api import Error as PlaywrightError

    with contextlib.suppress(PlaywrightError):  # the page may be gone already
        page.evaluate("""async () => { const nb = window.__scalekitNotebook();
            if (!nb) return;
            await nb.sessionContext.shutdown();
            nb.dispose(); }""")


@contextlib.contextmanager
def ran_notebook(folder: Path, name: str, *, width: int = 1280, height: int = 1000,
                 timeout_s: float = 120.0):
    """JupyterLab over ``folder`` and a Chromium window ``width``×``height`` with notebook
    ``name`` open and run all; yields (page, :func:`wait_for_widgets`'s per-cell outputs).
    The notebook's kernel, the page, the browser and the server are stopped afterwards,
    also when the body raises."""
    with jupyter_lab(folder) as lab, chromium(width=width, height=height) as context:
        page = context.new_page()
        try:
            open_notebook(page, lab, name)
            run_all(page, timeout_s=timeout_s)
            yield page, wait_for_widgets(page)
        finally:
            close_notebook(page)
            page.close()
