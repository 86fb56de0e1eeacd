"""What a policy reads and overrides (scalekit.sim.policy): ClusterState's marks, the Rule a
built-in policy hands the compiled loop, and Assigned, a dispatch drawn before the run.

The contract: a policy chooses among the servers the balancer believes up (HAProxy marks a
server DOWN after ``fall`` failed checks; configuration manual, section 5.2); every hook but
``choose`` has a default; a subclass that changes ``choose`` is no longer the rule its parent
described, so it must not run as that rule.
"""

import numpy as np
import pytest

from scalekit import balancing, sim
from scalekit.sim.policy import compiled_rule


def test_marks_count_changes_only():
    state = sim.ClusterState((1.0, 1.0, 1.0), sim.rng(0))
    state.mark(1, False)
    state.mark(1, False)  # already down: no change
    assert state.up == [True, False, True] and state.down == 1 and state.marks == 1
    assert state.available() == [0, 2]
    state.mark(1, True)
    assert state.down == 0 and state.marks == 2 and state.n_servers == 3


def test_a_rule_says_what_it_needs():
    assert sim.Rule("fewest_connections").servers is None
    with pytest.raises(ValueError, match="kind"):
        sim.Rule("fastest")
    with pytest.raises(ValueError, match="needs servers"):
        sim.Rule("assigned")
    with pytest.raises(ValueError, match="takes no servers"):
        sim.Rule("least_work", np.zeros(3, dtype=int))


def test_a_subclass_that_changes_a_hook_loses_its_parents_rule():
    class Mine(balancing.FewestConnections):
        def accepted(self, state, server):
            pass

    class Plain(balancing.FewestConnections):
        name = "plain"

    for policy in (Mine(), Plain()):
        policy.reset(3, 10, sim.rng(0))
    assert compiled_rule(Mine(), 10, 3) is None
    assert compiled_rule(Plain(), 10, 3).kind == "fewest_connections"

    class Wrong(sim.Policy):
        def rule(self, n_requests, n_servers):
            return "fewest"

    with pytest.raises(TypeError, match="Rule"):
        compiled_rule(Wrong(), 10, 3)


def test_assigned_sends_each_request_where_it_was_told():
    w = sim.Workload(np.arange(6.0), np.full(6, 0.5))
    picks = [2, 0, 1, 1, 0, 2]
    for use in (True, False):
        r = sim.run(w, servers=3, policy=sim.Assigned(picks, name="mine"), compiled=use)
        assert r.server_of.tolist() == picks and r.policy == "mine"
    with pytest.raises(ValueError, match="names 3"):
        sim.run(w, servers=3, policy=sim.Assigned([0, 1, 2]))
    with pytest.raises(TypeError, match="server indices"):
        sim.Assigned([0.5, 1.0])
    with pytest.raises(ValueError, match=">= 0"):
        sim.Assigned([0, -1])
    with pytest.raises(ValueError, match="outside"):
        sim.run(w, servers=2, policy=sim.Assigned(picks))


def test_the_default_hooks():
    p = sim.Policy()
    with pytest.raises(NotImplementedError, match="choose"):
        p.choose(sim.ClusterState((1.0,), sim.rng(0)))
    assert p.assign(5, 2, None) is None and p.rule(5, 2) is None
    assert p.servers_examined(7) == 7 and repr(p) == "Policy()"
