"""Hand-out links from a repository's git remote, checked against what reads them: Binder's
URL scheme (BinderHub docs, "repository providers": gh/<owner>/<repo>/<ref>, gl/<url-encoded
path>/<ref>, git/<url-encoded clone URL>/<ref>, ``?urlpath=``) and the real nbgitpuller
extension pulling a published student branch into a Jupyter server (nbgitpuller docs,
"Options in an nbgitpuller URL"), which must then hold the file the link opens.
"""

import html
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest

from scalekit import grading
from scalekit.grading import links

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {"GIT_AUTHOR_NAME": "Instructor", "GIT_AUTHOR_EMAIL": "i@example.edu",
           "GIT_COMMITTER_NAME": "Instructor", "GIT_COMMITTER_EMAIL": "i@example.edu"}


@pytest.mark.parametrize("url, host, path, clone", [
    ("git@github.com:course/kit.git", "github.com", "course/kit", "https://github.com/course/kit"),
    ("https://github.com/course/kit", "github.com", "course/kit", "https://github.com/course/kit"),
    ("ssh://git@gitlab.com/dept/course/kit.git", "gitlab.com", "dept/course/kit",
     "https://gitlab.com/dept/course/kit"),
    ("https://git.example.edu/course/kit.git", "git.example.edu", "course/kit",
     "https://git.example.edu/course/kit.git"),
])
def test_remotes_become_the_https_url_a_browser_and_a_hub_reach(url, host, path, clone):
    remote = links.parse_remote(url)
    assert (remote.host, remote.path, remote.clone_url) == (host, path, clone)


@pytest.mark.parametrize("bad", ["", "github.com", "https://github.com/only-owner", "ftp://x/y/z"])
def test_a_bad_remote_is_refused_with_its_value(bad):
    with pytest.raises(ValueError, match="url must"):
        links.parse_remote(bad)


def test_binder_links_follow_each_providers_scheme():
    nb = "notebooks/01_servers.ipynb"
    gh = links.binder_link(links.parse_remote("git@github.com:course/kit.git"), "student", nb)
    assert gh == ("https://mybinder.org/v2/gh/course/kit/student?"
                  "urlpath=lab%2Ftree%2Fnotebooks%2F01_servers.ipynb")
    gl = urlsplit(links.binder_link(links.parse_remote("https://gitlab.com/a/b/kit"), "main", nb))
    assert gl.path == "/v2/gl/a%2Fb%2Fkit/main"
    other = urlsplit(links.binder_link(
        links.parse_remote("https://git.example.edu/course/kit.git"), "student", nb))
    assert unquote(other.path) == "/v2/git/https://git.example.edu/course/kit.git/student"
    assert parse_qs(other.query) == {"urlpath": [f"lab/tree/{nb}"]}


def test_nbgitpuller_link_opens_the_file_inside_the_folder_it_clones():
    remote = links.parse_remote("https://git.example.edu/course/kit.git")
    link = links.nbgitpuller_link("https://hub.example.edu/", remote, "student",
                                  "notebooks/01_servers.ipynb")
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://hub.example.edu/hub/user-redirect/git-pull")
    query = parse_qs(parts.query)
    assert query == {"repo": ["https://git.example.edu/course/kit.git"], "branch": ["student"],
                     "urlpath": ["lab/tree/kit.git/notebooks/01_servers.ipynb"]}
    with pytest.raises(ValueError, match="hub must be"):
        links.nbgitpuller_link("hub.example.edu", remote, "student", "x.ipynb")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}, check=True, timeout=60)
    return done.stdout.strip()


@pytest.fixture
def course(tmp_path, monkeypatch):
    """An instructor's repository with a GitHub remote and a local bare one, and a student
    distribution folder (two notebooks and a README)."""
    repo = tmp_path / "course"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "masters.txt").write_text("the instructor's side\n")
    _git(repo, "add", "masters.txt")
    _git(repo, "commit", "-q", "-m", "masters")
    bare = tmp_path / "kit.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True, timeout=60)
    _git(repo, "remote", "add", "origin", "git@github.com:course/kit.git")
    _git(repo, "remote", "add", "local", str(bare))
    dist = tmp_path / "student"
    (dist / "notebooks").mkdir(parents=True)
    for m in grading.masters(ROOT / "notebooks")[:2]:
        (dist / "notebooks" / m.name).write_text(f'{{"cells": [], "name": "{m.stem}"}}')
    (dist / "README.md").write_text("for students\n")
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(repo)
    return {"repo": repo, "bare": bare, "dist": dist}


def test_publish_commits_the_folder_as_a_branch_without_touching_the_work_tree(course):
    repo, dist = course["repo"], course["dist"]
    commit, new = grading.publish(dist, repo, "student")
    assert new and _git(repo, "rev-parse", "student") == commit
    assert sorted(_git(repo, "ls-tree", "-r", "--name-only", "student").splitlines()) == [
        "README.md", "notebooks/01_servers.ipynb", "notebooks/02_balancing.ipynb"]
    assert _git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert _git(repo, "status", "--porcelain") == ""
    assert grading.publish(dist, repo, "student") == (commit, False), "nothing new, no commit"
    (dist / "README.md").write_text("changed\n")
    second, new = grading.publish(dist, repo, "student")
    assert new and _git(repo, "rev-parse", "student^") == commit


def test_links_command_prints_each_notebooks_links_for_the_repositorys_remote(course, capsys):
    repo = course["repo"]
    grading.publish(course["dist"], repo, "student")
    assert grading.main(["links", "--hub", "https://hub.example.edu",
                         "--notebooks", str(ROOT / "notebooks")]) == 0
    out = capsys.readouterr().out
    found = re.findall(r"Binder: (\S+)", out)
    hubs = re.findall(r"hub:\s+(\S+)", out)
    names = [m.stem for m in grading.masters(ROOT / "notebooks")]
    assert len(found) == len(hubs) == len(names)
    for name, binder, hub in zip(names, found, hubs, strict=True):
        parts = urlsplit(binder)
        assert parts.path == "/v2/gh/course/kit/student"
        urlpath = parse_qs(parts.query)["urlpath"][0]
        assert urlpath == f"lab/tree/notebooks/{name}.ipynb"
        query = parse_qs(urlsplit(hub).query)
        assert query["repo"] == ["https://github.com/course/kit"]
        assert query["urlpath"] == [f"lab/tree/kit/notebooks/{name}.ipynb"]
    # what Binder opens exists on the published branch
    for name in names[:2]:
        _git(repo, "cat-file", "-e", f"student:notebooks/{name}.ipynb")


def test_links_without_a_remote_say_how_to_add_one(tmp_path, monkeypatch, capsys):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=60)
    monkeypatch.chdir(tmp_path)
    assert grading.main(["links", "--notebooks", str(ROOT / "notebooks")]) == 2
    assert "git remote add origin" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str, timeout_s: float = 60.0) -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return response.read().decode("utf-8")


@pytest.mark.slow
def test_real_nbgitpuller_pulls_the_published_branch_and_the_link_opens_a_file(course,
                                                                               tmp_path):
    repo, bare = course["repo"], course["bare"]
    grading.publish(course["dist"], repo, "student")
    _git(repo, "push", "-q", "local", "student")
    remote = links.parse_remote(links.git_remote(repo, "local"))
    hub = links.nbgitpuller_link("https://hub.example.edu", remote, "student",
                                 "notebooks/01_servers.ipynb")
    query = urlsplit(hub).query  # what the hub hands to the user's server after user-redirect
    home, port, token = tmp_path / "home", _free_port(), "t0ken"
    home.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}",
         f"--ServerApp.root_dir={home}", "--ServerApp.port_retries=0",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=home,
        env={**os.environ, "HOME": str(tmp_path)})
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "api/status", token, 5)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        page = _get(f"{base}git-pull?{query}", token)  # nbgitpuller's own status page
        data = {k: unquote(html.unescape(v))
                for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', page)}
        assert data["repo"] == remote.clone_url == bare.as_uri()
        assert data["branch"] == "student"
        api = f"{base}git-pull/api?" + urlencode(
            {k: data[k] for k in ("repo", "branch", "targetpath")})
        events = _get(api, token, 120)  # the pull itself, as the page's script starts it
        assert '"phase": "finished"' in events, events[-2000:]
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    opened = data["path"].removeprefix("lab/tree/")
    assert (home / opened).read_text() == (
        course["dist"] / "notebooks" / "01_servers.ipynb").read_text()
