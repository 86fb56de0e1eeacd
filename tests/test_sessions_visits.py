"""Users and their visits (scalekit.sessions.visits): the pages of a shop visit.

Source: the lecture's model of a visit — log in, browse, add to cart, check out.
"""

import json

import numpy as np

from scalekit import sessions
from scalekit.sessions import visits


def test_visits_have_the_shape_of_a_shop_visit():
    assert sessions.visit_steps(1) == ("login",)
    assert sessions.visit_steps(2) == ("login", "browse")
    assert sessions.visit_steps(5) == ("login", "browse", "browse", "add_to_cart", "checkout")
    v = visits.draw_visits(50, 6, 5.0, 100.0, 0.05, 0.0, 1)
    assert (np.diff(v.at) >= 0).all() and (v.at < 100.0).all()
    for u in range(50):  # each visit starts with its login and goes step by step
        steps = v.step[v.user == u]
        np.testing.assert_array_equal(steps, np.arange(steps.size))
    data = visits.session_data(6, 1000)
    assert abs(len(json.dumps(data[0], separators=(",", ":"))) - 1000) <= 2
    assert data[-2]["cart"] and data[-1]["cart"] == [] and data[-1]["orders"]
