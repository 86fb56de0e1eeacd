"""The API walk's machinery (tests/_walk.py) on small hand-made callables: the rules a topic's
table relies on, each shown once with a case it must catch and one it must let pass."""

from __future__ import annotations

import inspect

import _walk


def _target(fn) -> _walk.Target:
    return _walk.Target(fn.__qualname__, fn, inspect.signature(fn), "function")


def test_a_message_names_a_parameter_only_as_a_whole_word():
    assert _walk.names("n must be an integer >= 1, got -1", "n")
    assert not _walk.names("unknown policy 'x'", "n")            # the letter inside a word
    assert not _walk.names("keys must be >= 1", "key")           # a longer name
    assert not _walk.names("secret_keys must hold a key", "secret_key")
    assert _walk.names("secret_keys[0] is empty", "secret_keys")
    assert _walk.names("clock() returned 'x'", "clock")


def test_positional_only_parameters_are_walked_and_passed_by_position():
    def run(settings=None, /, **overrides):
        if settings is not None and not isinstance(settings, dict):
            raise TypeError(f"settings must be a dict, got {settings!r}")
        return settings, overrides
    target = _target(run)
    # the positional-only parameter and each extra keyword of the baseline
    assert [p.name for p in _walk.walked(target.signature, {"delay_s": 1})] == [
        "settings", "delay_s"]
    assert _walk.invoke(target, {"settings": {"a": 1}, "delay_s": 2}) == ({"a": 1},
                                                                          {"delay_s": 2})
    assert _walk.attempt(target, {"settings": "bogus"})[0] == "TypeError"


def test_without_var_keyword_no_extra_names_are_walked():
    def f(a, *, b=1):
        return a + b
    assert [p.name for p in _walk.walked(inspect.signature(f), {"a": 1, "zzz": 2})] == ["a",
                                                                                         "b"]


def test_a_subclass_of_value_error_is_a_clear_refusal_with_its_name_kept():
    class BadThing(ValueError):
        pass

    def f(x):
        raise BadThing(f"x is bad: {x!r}")
    outcome, detail = _walk.attempt(_target(f), {"x": 1})
    assert outcome == "ValueError" and detail == "BadThing: x is bad: 1"
    outcome, _ = _walk.attempt(_target(lambda x: 1 / 0), {"x": 1})
    assert outcome == "ZeroDivisionError"  # anything else stays a finding


def test_each_method_call_gets_a_fresh_instance_and_closes_it():
    made = []

    class Server:
        def __init__(self):
            self.closed = False
            made.append(self)

        def handle(self, n):
            return n

        def close(self):
            self.closed = True
    call = _walk._bound(Server, "handle")
    assert call(n=3) == 3 and call(n=4) == 4
    assert len(made) == 2 and all(s.closed for s in made)


def test_wrapped_functions_are_walked_and_a_stale_skip_entry_is_caught():
    """lru_cache'd public functions (scalekit.design.tiers) were invisible to the walk, so
    their SKIP entries hid nothing; and a SKIP entry left behind by a rename must fail."""
    from scalekit.design import tiers
    walked = dict(_walk.defined_here(tiers))
    assert "scalekit.design.tiers.http_tier" in walked  # functools.lru_cache around it
    assert _walk.resolves("scalekit.design.tiers.http_tier")
    assert _walk.resolves("scalekit.caching.CachingProxy.close")          # a method
    assert not _walk.resolves("scalekit.design.tiers.no_such_step")       # renamed away
    assert not _walk.resolves("scalekit.no_such_module.f")
