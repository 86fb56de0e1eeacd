"""Issue 18: every public callable of scalekit.sessions.cookies, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery and its rules: tests/_walk.py.

Almost every bad value is a wrong *type* here: cookies are text, keys are text or bytes,
sessions are dicts. The legitimate acceptances are the ones Flask and itsdangerous make too:
a str where bytes are also fine (encoded as UTF-8), an empty session dict (signed as ``{}``,
as itsdangerous signs it), and ``verify`` answering False for a cookie that is not one.
"""

from __future__ import annotations

import _walk

PACKAGE = "scalekit.sessions.cookies"

C = "scalekit.sessions.cookies"
KEY = "a secret key of some length"


def _cookie() -> str:
    from scalekit.sessions import cookies
    return cookies.SessionSigner(KEY, clock=lambda: 1.7e9).dumps({"user": "ada"})


def _signer():
    from scalekit.sessions import cookies
    return cookies.SessionSigner(KEY, clock=lambda: 1.7e9)


EXAMPLES = {
    f"{C}.b64encode": lambda: {"data": b"\x00\xffsession"},
    f"{C}.b64decode": lambda: {"text": "AP9zZXNzaW9u"},
    f"{C}.derive_key": lambda: {"secret_key": KEY},
    f"{C}.get_signature": lambda: {"key": b"k" * 20, "value": "payload.timestamp"},
    f"{C}.serialize": lambda: {"session": {"user": "ada", "cart": (1, 2)}},
    f"{C}.deserialize": lambda: {"data": b'{"user":"ada"}'},
    f"{C}.compress": lambda: {"data": b"a" * 100},
    f"{C}.encode_payload": lambda: {"data": b'{"user":"ada"}'},
    f"{C}.decode_payload": lambda: {"text": "eyJ1c2VyIjoiYWRhIn0"},
    f"{C}.encode_timestamp": lambda: {"seconds": 1_700_000_000},
    f"{C}.decode_timestamp": lambda: {"text": "ZVPxAA"},
    f"{C}.SessionSigner": lambda: {"secret_keys": [KEY, KEY + " (new)"], "max_age_s": 3600.0,
                                   "clock": lambda: 1.7e9},
    f"{C}.SessionSigner.sign": lambda: {"payload": "eyJ1c2VyIjoiYWRhIn0"},
    f"{C}.SessionSigner.dumps": lambda: {"session": {"user": "ada"}},
    f"{C}.SessionSigner.save": lambda: {"session": {"user": "ada"}},
    f"{C}.SessionSigner.key_index": lambda: {"cookie": _cookie()},
    f"{C}.SessionSigner.unsign": lambda: {"cookie": _cookie()},
    f"{C}.SessionSigner.loads": lambda: {"cookie": _cookie()},
    f"{C}.SessionSigner.verify": lambda: {"cookie": _cookie()},
    f"{C}.SessionSigner.parts": lambda: {"cookie": _cookie()},
    f"{C}.parts": lambda: {"cookie": _cookie()},
    # the shortcuts pass **kw on to SessionSigner: walk those keywords too
    f"{C}.dumps": lambda: {"session": {"user": "ada"}, "secret_keys": KEY,
                           "clock": lambda: 1.7e9, "salt": "cookie-session"},
    f"{C}.loads": lambda: {"cookie": _cookie(), "secret_keys": KEY, "clock": lambda: 1.7e9,
                           "clock_skew_s": 60.0},
    f"{C}.tamper": lambda: {"cookie": _cookie(), "index": -1, "new_char": "x"},
}

INSTANCES = {f"{C}.SessionSigner": _signer}

TEXT_OR_BYTES = {"string": "a str is encoded as UTF-8, as itsdangerous does (str or bytes)"}
EMPTY_SESSION = {"empty dict": "the empty session: signed as {} (itsdangerous signs it; "
                               "Flask's app decides not to send it: SessionSigner.save)"}

ACCEPTED = {
    (f"{C}.derive_key", "secret_key"): TEXT_OR_BYTES,
    (f"{C}.derive_key", "salt"): TEXT_OR_BYTES,
    (f"{C}.get_signature", "key"): TEXT_OR_BYTES,
    (f"{C}.get_signature", "value"): TEXT_OR_BYTES,
    (f"{C}.SessionSigner", "secret_keys"): {
        "string": "one key as a str (documented: one key, or a list oldest to newest)"},
    (f"{C}.SessionSigner", "salt"): TEXT_OR_BYTES,
    (f"{C}.SessionSigner", "max_age_s"): {"None": "None: no age limit (documented)"},
    (f"{C}.SessionSigner", "clock"): {"None": "the default clock, time.time (documented)"},
    (f"{C}.dumps", "secret_keys"): {"string": "one key as a str"},
    (f"{C}.dumps", "salt"): TEXT_OR_BYTES,
    (f"{C}.dumps", "clock"): {"None": "the default clock, time.time (documented)"},
    (f"{C}.loads", "clock"): {"None": "the default clock, time.time (documented)"},
    (f"{C}.SessionSigner.sign", "payload"): {
        "string": "any text can be signed (a payload is what encode_payload made, or not)"},
    (f"{C}.serialize", "session"): EMPTY_SESSION,
    (f"{C}.SessionSigner.dumps", "session"): EMPTY_SESSION,
    (f"{C}.dumps", "session"): EMPTY_SESSION,
    (f"{C}.SessionSigner.save", "session"): {
        "empty dict": "an empty session: no cookie, as Flask's save_session (documented)"},
    (f"{C}.SessionSigner.verify", "cookie"): {
        "string": "a str that is not a signed cookie: verify answers False (documented)"},
    (f"{C}.tamper", "cookie"): {
        "string": "tamper edits any text (a demonstration: the signer then refuses it)"},
    (f"{C}.tamper", "index"): {"negative": "a negative index counts from the end "
                                           "(documented, as Python's own indexing)"},
}

SKIP = {
    f"{C}.CookieParts": "a result dataclass built only by parts()",
    f"{C}.SessionCookie": "a result dataclass built only by SessionSigner.save",
    f"{C}.BadCookie": "an exception the signer raises, not a call",
    f"{C}.BadSignature": "an exception the signer raises, not a call",
    f"{C}.BadTimestamp": "an exception the signer raises, not a call",
    f"{C}.SignatureExpired": "an exception the signer raises, not a call",
    f"{C}.BadPayload": "an exception the signer raises, not a call",
    f"{C}.CookieTooLarge": "an exception the signer raises, not a call",
}


def test_walk_api():
    _walk.assert_clean(__file__)
