"""Speed comparisons of scalekit against peers on the same workload (run: make bench)."""
