"""Hand-out links for a repository's git remote: Binder and nbgitpuller (JupyterHub).

A course hands notebooks out as links. Two kinds:

* **Binder** (mybinder.org or any BinderHub) builds an image from a public repository at a
  branch and opens one file: ``<binder>/v2/gh/<owner>/<repo>/<ref>?urlpath=lab/tree/<path>``
  (``gl`` for GitLab with ``owner/repo`` URL-encoded, ``git`` with the whole clone URL
  URL-encoded for any other host).
* **nbgitpuller** on the course's JupyterHub clones (or later, merges) the repository into the
  student's home and opens a file: ``<hub>/hub/user-redirect/git-pull?repo=…&branch=…&urlpath=…``.
  nbgitpuller clones into a folder named after the last part of ``repo``
  (``repo.rstrip('/').split('/')[-1]``, nbgitpuller's handlers.py), so ``urlpath`` is
  ``lab/tree/<that folder>/<path>`` (nbgitpuller docs, "Options in an nbgitpuller URL").

Links come from the repository's own remote (``git remote get-url origin``), never from a
placeholder edited by hand. SSH remotes (``git@host:owner/repo.git``) become the https URL a
student's browser and the hub can reach.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from .. import _check
from . import _args

__all__ = ["Remote", "Launch", "parse_remote", "git_remote", "binder_link", "nbgitpuller_link",
           "launch_links"]

BINDER = "https://mybinder.org"
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>(?!/)[^\s]+)$")


@dataclass(frozen=True)
class Remote:
    """A git remote as a student's browser sees it: the host, ``owner/name`` and a clone URL."""

    host: str
    path: str
    clone_url: str

    @property
    def name(self) -> str:
        """The folder nbgitpuller clones into (the URL's last part, as nbgitpuller takes it)."""
        return self.clone_url.rstrip("/").split("/")[-1]


@dataclass(frozen=True)
class Launch:
    """The hand-out links of one notebook (``hub`` is empty when no hub URL was given)."""

    notebook: str
    binder: str
    hub: str = ""


def parse_remote(url: str) -> Remote:
    """Read a git remote URL (https, ssh://, scp-like ``git@host:owner/repo.git`` or file://).

    https/ssh/scp-like remotes become ``https://host/owner/repo`` (``.git`` dropped for GitHub
    and GitLab, which serve both forms, kept for other hosts). A file:// URL or a local path
    stays as it is (nbgitpuller can clone it on the same machine; Binder cannot).
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a git remote URL string, got {url!r}")
    url = url.strip()
    if not url:
        raise ValueError("url must be a git remote URL, got an empty string")
    scp = _SCP_LIKE.match(url)
    if scp and "://" not in url:
        host, path = scp["host"], scp["path"]
    else:
        parts = urlsplit(url)
        if parts.scheme in ("file", ""):
            local = Path(parts.path if parts.scheme == "file" else url)
            if not local.exists():
                raise ValueError(f"url must be a git remote URL or the path of a local "
                                 f"repository, got {url!r} (no such path)")
            return Remote("", str(local).rstrip("/"), local.resolve().as_uri())
        if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
            raise ValueError(f"url must be an https, ssh, scp-like or file git remote, got {url!r}")
        host, path = parts.hostname, parts.path
    path = path.strip("/")
    if path.count("/") < 1:
        raise ValueError(f"url must name owner/repository, got {url!r}")
    short = path[:-4] if path.endswith(".git") else path
    known = host in ("github.com", "gitlab.com")
    return Remote(host, short, f"https://{host}/{short if known else path}")


def git_remote(repo_dir: Path | str = ".", remote: str = "origin") -> str:
    """The URL of ``remote`` in the git repository at ``repo_dir`` (``git remote get-url``)."""
    _args.folder("repo_dir", repo_dir)
    _check.text("remote", remote)
    if remote.startswith("-"):
        raise ValueError(f"remote must be a remote's name, got {remote!r}")
    done = subprocess.run(["git", "-C", str(repo_dir), "remote", "get-url", remote],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise LookupError(
            f"no git remote {remote!r} in {repo_dir}: add one with "
            f"`git remote add {remote} URL` or pass the URL itself "
            f"({done.stderr.strip() or 'git said nothing'})")
    return done.stdout.strip()


def binder_link(remote: Remote, ref: str, path: str, *, binder: str = BINDER) -> str:
    """A Binder link that builds ``remote`` at ``ref`` and opens ``path`` in JupyterLab."""
    _check.instance("remote", remote, Remote)
    _check_url("binder", binder)
    _check_text("ref", ref)
    _check_text("path", path)
    base = binder.rstrip("/")
    if remote.host == "github.com":
        spec = f"gh/{remote.path}/{quote(ref, safe='')}"
    elif remote.host == "gitlab.com":
        spec = f"gl/{quote(remote.path, safe='')}/{quote(ref, safe='')}"
    elif remote.host:
        spec = f"git/{quote(remote.clone_url, safe='')}/{quote(ref, safe='')}"
    else:
        raise ValueError(f"Binder needs a repository it can reach over https, got a local "
                         f"remote {remote.clone_url!r}")
    return f"{base}/v2/{spec}?{urlencode({'urlpath': f'lab/tree/{path}'})}"


def nbgitpuller_link(hub: str, remote: Remote, branch: str, path: str) -> str:
    """An nbgitpuller link: the hub pulls ``branch`` of ``remote`` and opens ``path``."""
    _check.instance("remote", remote, Remote)
    _check_text("branch", branch)
    _check_text("path", path)
    parts = urlsplit(hub.strip() if isinstance(hub, str) else "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"hub must be the JupyterHub's URL, e.g. https://hub.example.edu, "
                         f"got {hub!r}")
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"
    query = urlencode({"repo": remote.clone_url, "branch": branch,
                       "urlpath": f"lab/tree/{remote.name}/{path}"})
    return f"{base}hub/user-redirect/git-pull?{query}"


def launch_links(remote: Remote, branch: str, notebooks: list[str], *,
                 hub: str = "", binder: str = BINDER) -> list[Launch]:
    """Each notebook's Binder link (when the remote is reachable) and hub link (when ``hub``)."""
    _check.instance("remote", remote, Remote)
    _check_text("branch", branch)
    _args.names("notebooks", notebooks)
    _check.text("hub", hub, min_len=0)
    if hub:
        _check_url("hub", hub)
    _check_url("binder", binder)
    return [Launch(nb, binder_link(remote, branch, nb, binder=binder) if remote.host else "",
                   nbgitpuller_link(hub, remote, branch, nb) if hub else "")
            for nb in notebooks]


def _check_url(name: str, value: object) -> None:
    _check.text(name, value)
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL, e.g. https://mybinder.org, "
                         f"got {value!r}")


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
