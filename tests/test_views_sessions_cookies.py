"""The cookie anatomy view: each part shown and coloured, the payload readable and escaped,
the verdict of a signer and its reason.

Source for the escaping: the HTML Living Standard, §13.1.2 — in text, ``<`` and ``&`` must
be written ``&lt;`` and ``&amp;``, or the browser reads markup where the user meant a value.
"""

import ast
import re
from pathlib import Path

import pytest

from scalekit.sessions import cookies
from scalekit.sessions.cookies import SessionSigner
from scalekit.views.sessions import cookies as cookies_view
from scalekit.views.sessions.cookies import PART_COLORS, CookieView, show_cookie

T = 1_700_000_000
KEY = "correct horse battery staple"


def signer(keys=KEY, at=T, **kw):
    return SessionSigner(keys, clock=lambda: at, **kw)


def text_of(markup: str) -> str:
    """The page's visible text: tags removed (entities left as written)."""
    return re.sub(r"<[^>]+>", "", markup)


def test_each_part_is_shown_in_its_own_colour():
    cookie = signer().dumps({"user": "ada"})
    p = cookies.parts(cookie)
    page = show_cookie(cookie)._repr_html_()
    for name, text in [("payload", p.payload_b64), ("timestamp", p.timestamp_b64),
                       ("signature", p.signature_b64)]:
        span = f"<span title='{name}' style='border-bottom:3px solid {PART_COLORS[name]};"
        assert span in page and f">{text}</span>" in page, name
    assert "2023-11-14 22:13:20 UTC" in page and "1,700,000,000 Unix seconds" in page


def test_the_payload_is_shown_decoded_for_anyone():
    page = show_cookie(signer().dumps({"user": "ada", "admin": False}))._repr_html_()
    assert "anyone can read this" in page
    assert "&quot;admin&quot;: false" in page and "&quot;user&quot;: &quot;ada&quot;" in page
    assert "No signer given: nothing above is verified" in page


def test_a_malicious_payload_is_escaped():
    evil = "<script>alert('x')</script>&"
    page = show_cookie(signer().dumps({evil: evil}))._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;" in page


def test_a_forged_payload_is_escaped_too():
    """An attacker controls every byte of an unverified cookie, including the JSON."""
    payload = cookies.b64encode(b'{"x":"</pre><img src=x onerror=alert(1)>"}')
    page = show_cookie(payload + ".AAAA.sig", signer())._repr_html_()
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Does not verify" in page


def test_verified_with_the_newest_key():
    s = signer(["old", KEY])
    view = show_cookie(s.dumps({"user": "ada"}), s)
    assert view.verified is True and view.key_index == 1 and view.age_s == 0
    page = view._repr_html_()
    assert "✓ Verifies" in page and "the newest key" in page and "key 2 of 2" in page


def test_verified_with_an_older_key_says_to_re_sign():
    view = show_cookie(signer("old").dumps({"user": "ada"}), signer(["old", KEY]))
    assert view.verified and view.key_index == 0
    assert "an older key, secret_keys[0]" in view._repr_html_()


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: cookies.tamper(signer().dumps({"user": "ada"}), 3, "~"), "BadSignature"),
    (lambda: signer("another key").dumps({"user": "ada"}), "BadSignature"),
    (lambda: signer(at=T - 7200).dumps({"user": "ada"}), "SignatureExpired"),
    (lambda: signer(at=T + 3600).dumps({"user": "ada"}), "BadTimestamp"),
])
def test_a_cookie_that_does_not_verify_says_why(make, reason):
    view = show_cookie(make(), signer(max_age_s=3600))
    assert view.verified is False and view.reason.startswith(reason + ":")
    page = view._repr_html_()
    assert "✗ Does not verify" in page and reason in page


def test_the_age_by_the_signers_clock_is_shown():
    view = show_cookie(signer(at=T - 90).dumps({"a": 1}), signer(max_age_s=60))
    assert view.age_s == 90
    assert "90 s ago by the signer's clock" in view._repr_html_()


def test_compression_and_flask_tags_are_explained():
    session = {"cart": [f"sku-{i % 7}" for i in range(200)], "pair": (1, 2), "raw": b"\x00"}
    page = show_cookie(signer().dumps(session))._repr_html_()
    assert "zlib-compressed" in page
    assert "&#x27; t&#x27; = tuple" in page and "&#x27; b&#x27; = bytes" in page


def test_a_long_payload_is_cut_short():
    session = {"notes": "a" * 50_000}  # compresses to a small cookie, unpacks to 50 kB
    page = show_cookie(signer().dumps(session))._repr_html_()
    assert "more characters)" in page and len(page) < 10_000


@pytest.mark.parametrize(("cookie", "words"), [
    ("", "the cookie is empty"),
    ("only-one-part", "three parts"),
    ("x" * 5000, "5,000 bytes"),
    ("<b>not</b>.a", "three parts"),
])
def test_what_is_not_a_cookie_is_said_plainly(cookie, words):
    view = show_cookie(cookie)
    assert view.parts is None
    page = view._repr_html_()
    assert "Not a signed session cookie" in page and words in page
    assert "<b>not</b>" not in page


def test_undecodable_parts_are_named():
    page = show_cookie("!!!.@@.sig", signer())._repr_html_()
    assert "does not decode" in page and "the timestamp does not decode" in page
    assert "Does not verify" in page


def test_bad_arguments():
    with pytest.raises(TypeError, match="cookie must be a str"):
        show_cookie(b"a.b.c")
    with pytest.raises(TypeError, match="signer must be"):
        show_cookie("a.b.c", signer="key")


def test_the_view_is_a_frozen_value_and_needs_no_matplotlib():
    view = show_cookie(signer().dumps({"a": 1}))
    assert isinstance(view, CookieView)
    with pytest.raises(AttributeError):
        view.verified = True
    tree = ast.parse(Path(cookies_view.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "html", "json", "dataclasses", "scalekit",
                        "scalekit.sessions"}, imported  # (the cookies, no matplotlib)


def test_part_colours_are_the_shared_palette():
    from scalekit.views.style import COLORS

    assert set(PART_COLORS.values()) <= set(COLORS.values())
