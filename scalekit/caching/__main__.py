"""Run the caching lecture's servers from a terminal.

``python -m scalekit.caching origin [--port 0] [--home-max-age 60] [--delay-ms 0]``
    the origin web server (:class:`~scalekit.caching.http.origin.Origin`);
``python -m scalekit.caching proxy [--upstream http://127.0.0.1:PORT] [--port 0] [--cdn]``
    the caching proxy (:class:`~scalekit.caching.http.proxy.CachingProxy`; ``--cdn``: obey
    ``CDN-Cache-Control``, RFC 9213; with ``--upstream``, a reverse proxy, it is a surrogate and
    obeys ``Surrogate-Control`` first);
``python -m scalekit.caching demo``
    both, the proxy in front of the origin (as a reverse proxy, and as a forward proxy for
    ``curl -x``), with ``curl`` lines to try and the URL to open in a browser: the proxy's
    own, ``http://127.0.0.1:<proxy port>/``. (A browser's proxy setting is no use here:
    Chrome since version 72 and Firefox by default send requests for localhost and
    127.0.0.1 directly, bypassing any configured proxy.)

Each server prints ``<role> listening on http://127.0.0.1:<port>`` first (flushed, so a
parent process can read the port), then serves until Ctrl-C, SIGTERM, end of input on stdin
(unless ``--no-stdin-watch``; a parent that dies closes the pipe) or ``--max-lifetime-s``,
and exits with status 0. Bad arguments exit with status 2 and say why.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from scalekit.caching.http.origin import Origin

PROG = "python -m scalekit.caching"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="the caching lecture's servers, "
                                     "on 127.0.0.1 only")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--max-lifetime-s", type=float, default=3600.0,
                        help="stop after this many seconds (default 3600)")
    common.add_argument("--no-stdin-watch", action="store_true",
                        help="keep serving when stdin reaches end of input")
    origin_args = argparse.ArgumentParser(add_help=False)
    origin_args.add_argument("--home-max-age", type=float, default=60.0, metavar="S",
                             help="max-age of the home page, s (default 60)")
    origin_args.add_argument("--delay-ms", type=float, default=0.0, metavar="MS",
                             help="time the origin takes per answer, ms (default 0)")
    proxy_args = argparse.ArgumentParser(add_help=False)
    proxy_args.add_argument("--private-cache", action="store_true",
                            help="behave as a browser's private cache, not a shared one")
    proxy_args.add_argument("--ignore-private", action="store_true",
                            help="misconfigure the shared cache to store private pages")
    proxy_args.add_argument("--no-cache", action="store_true",
                            help="forward every request (a plain proxy)")
    proxy_args.add_argument("--cdn", action="store_true",
                            help="act as a CDN: obey CDN-Cache-Control over Cache-Control "
                                 "(RFC 9213)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    origin = commands.add_parser("origin", parents=[common, origin_args],
                                 help="the origin web server")
    origin.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free)")
    proxy = commands.add_parser("proxy", parents=[common, proxy_args],
                                help="the caching proxy")
    proxy.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free)")
    proxy.add_argument("--upstream", default=None, metavar="URL",
                       help="origin for requests that carry only a path, e.g. "
                            "http://127.0.0.1:8000 (reverse proxy; as a surrogate it obeys "
                            "Surrogate-Control before Cache-Control)")
    demo = commands.add_parser("demo", parents=[common, origin_args, proxy_args],
                               help="an origin and a caching proxy in front of it")
    demo.add_argument("--origin-port", type=int, default=0, help="default 0: any free")
    demo.add_argument("--proxy-port", type=int, default=0, help="default 0: any free")
    return parser


def _servers(args: argparse.Namespace) -> list:
    """The servers the command asks for, not yet started (ValueError/TypeError if bad)."""
    lifetime = args.max_lifetime_s
    if args.command in ("origin", "demo"):
        port = args.port if args.command == "origin" else args.origin_port
        origin = Origin(port=port, home_max_age_s=args.home_max_age, delay_ms=args.delay_ms,
                        max_lifetime_s=lifetime)
        if args.command == "origin":
            return [("origin", origin)]
    from scalekit.caching.http.proxy import CachingProxy

    def proxy(upstream: str | None, port: int) -> CachingProxy:
        # a reverse proxy is a surrogate: Surrogate-Control first, then (a CDN) RFC 9213's
        targets = ((("surrogate-control",) if upstream else ())
                   + (("cdn-cache-control",) if args.cdn else ())) if not args.no_cache else ()
        return CachingProxy(upstream, caching=not args.no_cache, shared=not args.private_cache,
                            obey_private=not args.ignore_private, targets=targets, port=port,
                            max_lifetime_s=lifetime)

    if args.command == "proxy":
        return [("proxy", proxy(args.upstream, args.port))]
    return [("origin", origin), ("proxy", proxy(None, args.proxy_port))]


def _stop_on_signals() -> tuple[threading.Event, dict]:
    """An event that SIGINT and SIGTERM set, and the handlers they had. Installed before
    any line is printed, so a parent that signals as soon as it has read a port is heard
    (not killed by the default handler mid-start)."""
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    return stop, previous


def _wait(servers: list, watch_stdin: bool, stop: threading.Event) -> None:
    """Block until ``stop`` (a signal), end of input on stdin, or a server stopping by
    itself."""

    def watch():  # os.read, not sys.stdin: a buffered read would hold a lock at exit
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except (OSError, ValueError):
            return  # no usable stdin: nothing to watch
        stop.set()

    if watch_stdin:
        threading.Thread(target=watch, daemon=True).start()
    while not stop.wait(0.05):
        if not all(server.running for _, server in servers):
            break  # max_lifetime_s is over


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit status (2 for bad arguments, via argparse)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        servers = _servers(args)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))  # exits with status 2
    stop, previous = _stop_on_signals()
    try:
        return _run(args, servers, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace, servers: list, stop: threading.Event) -> int:
    try:
        for role, server in servers:
            if role == "proxy" and args.command == "demo":
                server.upstream = servers[0][1].url  # the origin, now that it has a port
            server.start()
            print(f"{role} listening on {server.url}/", flush=True)
    except RuntimeError as exc:
        for _, server in servers:
            server.close()
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    if args.command == "demo":
        origin, proxy = servers[0][1], servers[1][1]
        print(f"try: curl -si -x {proxy.url} {origin.url}/   (twice: the second is a HIT)\n"
              f" or: curl -si {proxy.url}/news   (the proxy as a reverse proxy)\n"
              f"browser: open {proxy.url}/ (the origin's pages through the cache) and watch "
              f"X-Cache, Age and 304s in the developer tools' network tab; a browser's proxy "
              f"setting does not work here: browsers send requests for localhost and "
              f"127.0.0.1 directly, never through a proxy", flush=True)
    print("Ctrl-C to stop", flush=True)
    try:
        _wait(servers, not args.no_stdin_watch, stop)
    finally:
        for _, server in reversed(servers):
            server.close()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
