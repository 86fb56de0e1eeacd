"""Run every benchmark: python -m benchmarks [--requests N]."""

import argparse

from benchmarks import queues

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--requests", type=int, default=1_000_000,
                    help="requests per queueing benchmark (default 1,000,000)")
args = parser.parse_args()
queues.main(args.requests)
