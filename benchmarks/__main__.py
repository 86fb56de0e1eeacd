"""Run every benchmark: python -m benchmarks [--requests N] [--python]
[--only queues|widgets|partitioning|caching|browser]."""

import argparse

from benchmarks import browser, caching, partitioning, queues, widgets

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--requests", type=int, default=1_000_000,
                    help="requests per queueing benchmark (default 1,000,000)")
parser.add_argument("--only", choices=["queues", "widgets", "partitioning", "caching", "browser"],
                    help="run one benchmark")
parser.add_argument("--python", action="store_true",
                    help="queues: time scalekit's pure-Python reference path, not its fast path")
args = parser.parse_args()
if args.only in (None, "queues"):
    queues.main(args.requests, python=args.python)
if args.only in (None, "widgets"):
    widgets.main()
if args.only in (None, "partitioning"):
    partitioning.main()
if args.only in (None, "caching"):
    caching.main()
if args.only in (None, "browser"):
    browser.main()
