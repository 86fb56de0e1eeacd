"""Servers: finite capacity, benchmarking, vertical vs horizontal scaling, autoscaling,
heartbeats — the models behind notebook 01.

One topic, split into modules of a few hundred lines each:

* :mod:`scalekit.servers.capacity` — ramp the load in steps until a latency SLO breaks;
* :mod:`scalekit.servers.httpbench` — the same, for real, against an HTTP server on 127.0.0.1;
* :mod:`scalekit.servers.scaling` — one big server vs many small ones; the Universal
  Scalability Law; what machines cost;
* :mod:`scalekit.servers.autoscaling` — a Kubernetes-style autoscaler following a traffic trace;
* :mod:`scalekit.servers.heartbeats` — how a balancer learns that a server died.

Import the submodule you need; importing this package loads none of them.
"""
