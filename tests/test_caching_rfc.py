"""The pure RFC 9111 / RFC 9110 rules of scalekit.caching.http.rules, one test per rule with the
section it checks: Cache-Control and HTTP-date parsing, freshness lifetime, age, what may be
stored, entity-tag comparison and If-None-Match, and the Headers type."""

import pytest

from scalekit.caching.http.rules import (
    Headers,
    Request,
    Response,
    current_age,
    format_http_date,
    freshness_lifetime,
    if_none_match_matches,
    parse_cache_control,
    parse_http_date,
    storable,
    strong_match,
    weak_match,
)

T0 = 1_700_000_000.0


# ---------------------------------------------------------------- parsing (RFC 9111 §5.2)

def test_cache_control_tokens_quoted_strings_and_case():
    # §5.2: names case-insensitive; arguments token or quoted-string (accept both forms)
    cc = parse_cache_control('Max-Age="60", PUBLIC, no-cache="Set-Cookie, X", private')
    assert cc == {"max-age": "60", "public": None, "no-cache": "Set-Cookie, X",
                  "private": None}
    assert parse_cache_control(None) == {} and parse_cache_control(" , ,") == {}


def test_duplicate_directives_first_wins_but_conflicting_max_age_is_stale():
    # §4.2.1: with conflicting duplicates a cache may "consider the response stale"
    assert parse_cache_control("max-age=5, max-age=60")["max-age"] == "0"
    assert parse_cache_control("max-age=60, max-age=60")["max-age"] == "60"
    assert parse_cache_control("no-cache, no-cache=a")["no-cache"] is None
    assert freshness_lifetime({"Cache-Control": "max-age=5, max-age=60"}) == (0.0, "max-age")


@pytest.mark.parametrize("text", [
    "Sun, 06 Nov 1994 08:49:37 GMT",   # IMF-fixdate
    "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850
    "Sun Nov  6 08:49:37 1994",        # asctime
])
def test_the_three_http_date_formats(text):
    # RFC 9110 §5.6.7, the RFC's own example instant
    assert parse_http_date(text, now=T0) == 784111777.0


@pytest.mark.parametrize("text", ["", "yesterday", "0", "-1", "Sun, 31 Feb 1994 08:49:37 GMT",
                                  "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT"])
def test_invalid_dates_are_none(text):
    assert parse_http_date(text) is None


def test_rfc850_two_digit_year_is_at_most_50_years_ahead():
    # RFC 9110 §5.6.7: more than 50 years in the future → the century before
    now_2023 = T0
    assert parse_http_date("Monday, 01-Jan-73 00:00:00 GMT", now=now_2023) == pytest.approx(
        parse_http_date("Mon, 01 Jan 2073 00:00:00 GMT"))
    assert parse_http_date("Monday, 01-Jan-74 00:00:00 GMT", now=now_2023) == pytest.approx(
        parse_http_date("Tue, 01 Jan 1974 00:00:00 GMT"))


# ---------------------------------------------------------------- freshness (§4.2.1, §4.2.2)

def test_freshness_order_s_maxage_only_in_shared_caches():
    h = {"Cache-Control": "max-age=60, s-maxage=600",
         "Expires": format_http_date(T0 + 9000), "Date": format_http_date(T0)}
    assert freshness_lifetime(h, shared=True) == (600.0, "s-maxage")
    assert freshness_lifetime(h, shared=False) == (60.0, "max-age")
    del h["Cache-Control"]
    assert freshness_lifetime(h) == (9000.0, "expires")  # Expires − Date


def test_invalid_expires_means_already_expired():
    # §5.3: an invalid date, e.g. "0", represents a time in the past
    h = {"Expires": "0", "Date": format_http_date(T0), "Last-Modified": format_http_date(0)}
    assert freshness_lifetime(h) == (0.0, "expires")


def test_heuristic_is_ten_percent_of_date_minus_last_modified():
    # §4.2.2: typical heuristic 10% of the time since Last-Modified
    h = {"Date": format_http_date(T0), "Last-Modified": format_http_date(T0 - 10_000)}
    assert freshness_lifetime(h) == (pytest.approx(1000.0), "heuristic")
    assert freshness_lifetime(h, heuristic_fraction=0.2)[0] == pytest.approx(2000.0)
    # 302 is not heuristically cacheable (RFC 9110 §15.1), unless marked public
    assert freshness_lifetime(h, status=302) == (0.0, "none")
    assert freshness_lifetime(h | {"Cache-Control": "public"}, status=302)[1] == "heuristic"
    # an explicit lifetime, even 0, wins over any heuristic
    assert freshness_lifetime(h | {"Cache-Control": "max-age=0"}) == (0.0, "max-age")


@pytest.mark.parametrize("value, lifetime", [("-1", 0.0), ("abc", 0.0), ("", 0.0),
                                             ("1e3", 0.0), ('"30"', 30.0),
                                             ("99999999999999999999999", 2.0**31)])
def test_invalid_max_age_is_stale_and_huge_caps_at_2_31(value, lifetime):
    # §4.2.1 invalid → stale; §1.2.2 delta-seconds overflow → 2^31
    assert freshness_lifetime({"Cache-Control": f"max-age={value}"})[0] == lifetime


# ---------------------------------------------------------------- age (§4.2.3)

def test_age_calculation_takes_the_larger_of_clock_and_age_header():
    # Age 10 + response delay 2 = 12 beats the apparent age 5; then 30 s resident
    h = {"Date": format_http_date(T0 - 5), "Age": "10"}
    assert current_age(h, request_time=T0 - 2, response_time=T0, now=T0 + 30) == 42.0
    # a clock that says 100 s beats Age 10 + delay 2
    h = {"Date": format_http_date(T0 - 100), "Age": "10"}
    assert current_age(h, request_time=T0 - 2, response_time=T0, now=T0 + 30) == 130.0


def test_age_with_missing_date_and_invalid_or_listed_age():
    # RFC 9110 §6.6.1: no Date → the time received; §5.1: invalid Age ignored, list → first
    assert current_age({}, request_time=T0, response_time=T0, now=T0 + 7) == 7.0
    assert current_age({"Age": "x"}, request_time=T0, response_time=T0, now=T0) == 0.0
    assert current_age({"Age": "3, 9"}, request_time=T0, response_time=T0, now=T0) == 3.0


# ---------------------------------------------------------------- storing (§3, §3.5)

AUTH = [("Authorization", "Bearer alice")]


@pytest.mark.parametrize("req_headers, cc, shared, ok", [
    ([], "max-age=60", True, True),
    ([], "max-age=60, no-store", False, False),                # §3: no-store
    ([("Cache-Control", "no-store")], "max-age=60", False, False),
    ([], "max-age=60, private", True, False),                  # §3: private, shared
    ([], "max-age=60, private", False, True),                  # private cache may
    (AUTH, "max-age=60", True, False),                         # §3.5 Authorization
    (AUTH, "max-age=60", False, True),
    (AUTH, "max-age=60, public", True, True),
    (AUTH, "s-maxage=60", True, True),
    (AUTH, "max-age=60, must-revalidate", True, True),
])
def test_storable_per_mode(req_headers, cc, shared, ok):
    response = Response(200, {"Cache-Control": cc})
    assert storable(Request("GET", "/", req_headers), response, shared=shared)[0] is ok


def test_storable_status_and_method_rules():
    assert not storable(Request("POST", "/"), Response(200, {"Cache-Control": "max-age=9"}),
                        shared=False)[0]
    # 302 is not heuristically cacheable: stored only with explicit freshness (§3)
    assert not storable(Request(), Response(302, {"ETag": '"x"'}), shared=False)[0]
    assert storable(Request(), Response(302, {"Cache-Control": "max-age=9"}), shared=False)[0]
    # RFC 9111 §3.3: a cache may store a 206 (a part), but never a 304 (not a whole response)
    assert storable(Request(), Response(206, {"Cache-Control": "max-age=9"}), shared=False)[0]
    assert not storable(Request(), Response(304, {"Cache-Control": "max-age=9"}),
                        shared=False)[0]
    ok, why = storable(Request(), Response(200, {"Cache-Control": "private"}), shared=True,
                       obey_private=False)
    assert ok, why


# ---------------------------------------------------------------- validators (RFC 9110)

@pytest.mark.parametrize("a, b, strong, weak", [
    ('W/"1"', 'W/"1"', False, True),   # the table of RFC 9110 §8.8.3.2
    ('W/"1"', 'W/"2"', False, False),
    ('W/"1"', '"1"', False, True),
    ('"1"', '"1"', True, True),
])
def test_entity_tag_comparison_table(a, b, strong, weak):
    assert strong_match(a, b) is strong and weak_match(a, b) is weak


def test_if_none_match_star_lists_and_weak_prefixes():
    # RFC 9110 §13.1.2: "*" matches any; a list matches if any member matches weakly
    assert if_none_match_matches("*", '"a"')
    assert if_none_match_matches('"x", W/"a" ,"y"', '"a"')
    assert if_none_match_matches('"a"', 'W/"a"')
    assert not if_none_match_matches('"x", "y"', '"a"')
    assert not if_none_match_matches(None, '"a"') and not if_none_match_matches('"a"', None)


# ---------------------------------------------------------------- headers (RFC 9110 §5.3)

def test_headers_are_case_insensitive_ordered_and_multi_valued():
    h = Headers([("Cache-Control", "max-age=1"), ("X", "a"), ("cache-control", "public")])
    assert h.get("CACHE-CONTROL") == "max-age=1, public"   # RFC 9110 §5.3
    assert h.get_all("x") == ["a"] and "x" in h and len(h) == 3
    h.set("CACHE-control", "no-store")
    assert h.items() == [("CACHE-control", "no-store"), ("X", "a")]
    h.remove("x")
    assert list(h) == ["CACHE-control"] and h.get("x", "none") == "none"
    with pytest.raises(ValueError):
        Headers({"X": "a\r\nSet-Cookie: evil"})


# ---------------------------------------------------------------- review fixes

def test_lower_case_w_is_not_a_weak_indicator():
    # RFC 9110 §8.8.3: the weak indicator "W/" is case-sensitive; w/"a" is just opaque text
    assert not weak_match('w/"a"', '"a"') and not strong_match('w/"a"', '"a"')
    assert weak_match('w/"a"', 'w/"a"') and strong_match('w/"a"', 'w/"a"')
    assert not if_none_match_matches('w/"a"', '"a"')
    assert not if_none_match_matches('"x", w/"a"', 'W/"a"')
    assert if_none_match_matches('"x", W/"a"', '"a"')


def test_bad_arguments_name_the_parameter():
    with pytest.raises(TypeError, match="etag_a"):
        weak_match(None, '"a"')
    with pytest.raises(TypeError, match="etag_b"):
        strong_match('"a"', 5)
    with pytest.raises(TypeError, match="header_value"):
        if_none_match_matches(5, '"a"')
    with pytest.raises(ValueError, match="heuristic_fraction"):
        freshness_lifetime({}, heuristic_fraction=-1)
    with pytest.raises(TypeError, match="status"):
        freshness_lifetime({}, status="200")
    with pytest.raises(TypeError, match="shared"):
        storable(Request(), Response(200), shared="yes")
    with pytest.raises(ValueError, match="response_time"):
        current_age({}, request_time=0, response_time=float("inf"), now=0)
    with pytest.raises(ValueError, match="now"):
        parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now=1e20)
    with pytest.raises(ValueError, match="now"):
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", now=float("nan"))


@pytest.mark.parametrize("name", ["A b", "X(y)", "Set-Cookie:", 'X"', "Ä"])
def test_header_names_must_be_tokens(name):
    # RFC 9110 §5.1: field-name = token
    with pytest.raises(ValueError, match="header name"):
        Headers({name: "x"})
    assert Headers({"X-Ok!#$%&'*+-.^_`|~1": "x"})
