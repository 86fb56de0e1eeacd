"""Signed session cookies, checked against the real thing: Flask 3.1 and itsdangerous 2.2.

Sources: flask/sessions.py (``SecureCookieSessionInterface``: salt "cookie-session", key
derivation "hmac", SHA-1, ``SECRET_KEY_FALLBACKS``), flask/json/tag.py (tagged JSON),
itsdangerous signer.py / timed.py / url_safe.py / encoding.py (the byte layout), werkzeug
``dump_cookie`` (warns above 4093 bytes) and RFC 6265 §6.1 (browsers keep >= 4096 bytes per
cookie). Real Flask apps are driven with their test client, both ways.
"""

import hashlib
import hmac
import random
import string
import time
import uuid
import zlib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import flask
import pytest
from flask.sessions import session_json_serializer
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from itsdangerous import Signer, URLSafeTimedSerializer
from itsdangerous import encoding as its_encoding
from itsdangerous.timed import TimestampSigner
from markupsafe import Markup

from scalekit.sessions import cookies
from scalekit.sessions.cookies import (
    MAX_COOKIE_BYTES,
    BadCookie,
    BadPayload,
    BadSignature,
    BadTimestamp,
    CookieTooLarge,
    SessionSigner,
    SignatureExpired,
)

T = 1_700_000_000  # 2023-11-14 22:13:20 UTC
KEY = "correct horse battery staple"

SMALL = {"user": "ada", "logged_in": True, "visits": 3}
LARGE = {"cart": [f"sku-{i % 10:04d}" for i in range(250)], "user": "ada"}  # compresses
TAGGED = {
    "pair": (1, "a", (2.5, None)),
    "raw": b"\x00\xff binary",
    "when": datetime(2024, 5, 17, 12, 30, 5, tzinfo=UTC),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "nested": {"list": [1, {"x": None}], "deep": {"a": [True, False]}},
    "tag_like": {" t": [1, 2]},  # a one-key dict whose key is a tag: Flask's " di"
    "text": "café ✓ <script>",
}
CASES = {"small": SMALL, "large": LARGE, "tagged": TAGGED}


def signer(keys=KEY, at=T, **kw) -> SessionSigner:
    return SessionSigner(keys, clock=lambda: at, **kw)


def signed_garbage(payload: str, key=KEY, at=T) -> str:
    """A cookie whose signature is right for whatever ``payload`` is."""
    return signer(key, at).sign(payload)


# ------------------------------------------------------------------ a real Flask app


class FlaskApp:
    """A tiny Flask app: GET /set puts ``to_set`` in the session, GET /read records what
    the session holds."""

    def __init__(self, secret_key=KEY, fallbacks=(), to_set=None):
        self.app = flask.Flask(__name__)
        self.app.secret_key = secret_key
        self.app.config["SECRET_KEY_FALLBACKS"] = list(fallbacks)
        self.to_set = to_set or {}
        self.seen: list[dict] = []

        @self.app.get("/set")
        def set_session():
            flask.session.update(self.to_set)
            return "set"

        @self.app.get("/read")
        def read_session():
            self.seen.append(dict(flask.session))
            return "read"

    def cookie_for(self, data) -> str:
        """The session cookie value Flask sets for ``data``."""
        self.to_set = data
        client = self.app.test_client()
        client.get("/set")
        return client.get_cookie("session").value

    def session_from(self, cookie: str) -> dict:
        """What the app finds in its session when the browser sends ``cookie``."""
        client = self.app.test_client()
        client.set_cookie("session", cookie)
        client.get("/read")
        return self.seen[-1]


@pytest.fixture
def frozen_flask(monkeypatch):
    """itsdangerous reads time through one seam, ``TimestampSigner.get_timestamp``."""
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: T)


@pytest.mark.parametrize("name", CASES)
def test_a_flask_cookie_verifies_and_decodes_with_scalekit(frozen_flask, name):
    cookie = FlaskApp().cookie_for(CASES[name])
    assert signer().verify(cookie)
    assert signer().loads(cookie) == CASES[name]


@pytest.mark.parametrize("name", CASES)
def test_flask_accepts_a_scalekit_cookie_as_its_session(frozen_flask, name):
    assert FlaskApp().session_from(signer().dumps(CASES[name])) == CASES[name]


@pytest.mark.parametrize(("name", "compressed"), [("small", False), ("large", True),
                                                   ("tagged", True)])
def test_scalekit_cookie_is_byte_identical_to_flasks(frozen_flask, name, compressed):
    flask_cookie = FlaskApp().cookie_for(CASES[name])
    assert signer().dumps(CASES[name]) == flask_cookie
    assert cookies.parts(flask_cookie).compressed is compressed


# ------------------------------------------------------------------ which cookie a response sends

ACTIONS = {
    "nothing": lambda session: None,
    "read": lambda session: session.get("user"),
    "set": lambda session: session.__setitem__("user", "ada"),
    "clear": lambda session: session.clear(),
    "pop the last key": lambda session: session.pop("user", None),
    "make permanent": lambda session: setattr(session, "permanent", True),
    "mark modified": lambda session: setattr(session, "modified", True),
}
BEFORE = {"no cookie": None, "a session": {"user": "bob"},
          "a permanent session": {"user": "bob", "_permanent": True}}


def flask_response_cookie(before, action, refresh) -> tuple[str, str | None, dict]:
    """What a real Flask app puts in Set-Cookie after ``action`` on the session the browser
    sent (``before``), and what Flask's session object held at the end of the view."""
    app = flask.Flask(__name__)
    app.secret_key = KEY
    app.config["SESSION_REFRESH_EACH_REQUEST"] = refresh
    seen = {}

    @app.get("/")
    def view():
        ACTIONS[action](flask.session)
        seen.update(session=dict(flask.session), modified=flask.session.modified,
                    permanent=flask.session.permanent)
        return "ok"

    client = app.test_client()
    if before is not None:
        client.set_cookie("session", signer().dumps(before))
    headers = [h for h in client.get("/").headers.getlist("Set-Cookie")
               if h.startswith("session=")]
    if not headers:
        return "none", None, seen
    value = headers[0].split(";")[0].removeprefix("session=")
    if value == "" and "Max-Age=0" in headers[0]:
        return "delete", None, seen
    return "set", value, seen


@pytest.mark.parametrize("refresh", [True, False])
@pytest.mark.parametrize("before", BEFORE)
@pytest.mark.parametrize("action", ACTIONS)
def test_save_sends_the_cookie_flask_sends(frozen_flask, action, before, refresh):
    """flask/sessions.py ``save_session``: an empty session sends no cookie (a deletion if
    the request emptied it), an unchanged one is re-sent only when permanent and
    SESSION_REFRESH_EACH_REQUEST; the value, when sent, is byte for byte Flask's."""
    expected, value, seen = flask_response_cookie(BEFORE[before], action, refresh)
    got = signer().save(seen["session"], modified=seen["modified"],
                        permanent=seen["permanent"], refresh_each_request=refresh)
    assert (got.action, got.value) == (expected, value)


def test_an_empty_session_signs_as_flasks_serializer_signs_it_but_is_never_sent(frozen_flask):
    """``dumps`` models the signer, which signs ``{}`` like any dict (itsdangerous); the
    app's rule (``save``) sends no cookie for it."""
    app = flask.Flask(__name__)
    app.secret_key = KEY
    serializer = app.session_interface.get_signing_serializer(app)
    assert signer().dumps({}) == serializer.dumps({})
    assert signer().save({}) == cookies.SessionCookie("delete")
    assert signer().save({}, modified=False) == cookies.SessionCookie("none")
    assert "delete" in signer().save({})._repr_html_()


@pytest.mark.parametrize(("kwargs", "exc", "name"), [
    ({"session": [("a", 1)]}, TypeError, "session"),
    ({"session": {}, "modified": 1}, TypeError, "modified"),
    ({"session": {}, "permanent": "yes"}, TypeError, "permanent"),
    ({"session": {}, "refresh_each_request": None}, TypeError, "refresh_each_request"),
])
def test_save_refuses_bad_input(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        signer().save(**kwargs)


def test_flask_accepts_the_cookie_with_real_time():
    """No frozen clock anywhere: scalekit's default clock and Flask's agree."""
    cookie = SessionSigner(KEY, max_age_s=60).dumps(SMALL)
    assert FlaskApp().session_from(cookie) == SMALL
    assert SessionSigner(KEY, max_age_s=60).loads(FlaskApp().cookie_for(SMALL)) == SMALL


def test_flask_refuses_a_scalekit_cookie_signed_with_another_key(frozen_flask):
    assert FlaskApp().session_from(signer("another key").dumps(SMALL)) == {}


def test_markup_is_tagged_as_flask_does_and_read_back_as_text(frozen_flask):
    data = {"flash": Markup("<b>saved</b>")}
    flask_cookie = FlaskApp().cookie_for(data)
    assert signer().dumps(data) == flask_cookie
    back = signer().loads(flask_cookie)["flash"]
    assert back == "<b>saved</b>" and type(back) is str


def test_key_rotation_matches_flasks_secret_key_fallbacks(frozen_flask):
    rotated = FlaskApp(secret_key="new key", fallbacks=["old key"])
    # the newest key signs, in both
    assert signer(["old key", "new key"]).dumps(SMALL) == rotated.cookie_for(SMALL)
    # a cookie from before the rotation still works, in both
    old_cookie = signer("old key").dumps(SMALL)
    assert rotated.session_from(old_cookie) == SMALL
    assert signer(["old key", "new key"]).loads(old_cookie) == SMALL
    # once the old key is dropped it works in neither
    assert FlaskApp(secret_key="new key").session_from(old_cookie) == {}
    with pytest.raises(BadSignature):
        signer("new key").loads(old_cookie)


# ------------------------------------------------------------------ itsdangerous, directly

_APP = flask.Flask(__name__)  # Flask's JSON settings (sorted keys) apply in an app context


class _FrozenSigner(TimestampSigner):
    now = T

    def get_timestamp(self) -> int:
        return self.now


def flask_serializer(keys=KEY) -> URLSafeTimedSerializer:
    """itsdangerous configured exactly as Flask's SecureCookieSessionInterface does."""
    return URLSafeTimedSerializer(keys, salt="cookie-session", serializer=session_json_serializer,
                                  signer=_FrozenSigner,
                                  signer_kwargs={"key_derivation": "hmac",
                                                 "digest_method": hashlib.sha1})


KEYS = st.one_of(st.text(max_size=10),
                 st.sampled_from([" t", " b", " d", " u", " m", " di", " t__", "x__"]))
JSON_SCALARS = (st.none() | st.booleans() | st.integers()
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(KEYS, kids, max_size=4),
    max_leaves=20)
SESSIONS = st.dictionaries(KEYS, JSON_VALUES, max_size=6)
TAGGED_SCALARS = (JSON_SCALARS | st.binary(max_size=16) | st.uuids()
                  | st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC))
                  .map(lambda d: d.replace(microsecond=0)))
TAGGED_VALUES = st.recursive(
    TAGGED_SCALARS,
    lambda kids: (st.lists(kids, max_size=4) | st.lists(kids, max_size=4).map(tuple)
                  | st.dictionaries(KEYS, kids, max_size=4)),
    max_leaves=20)
TAGGED_SESSIONS = st.dictionaries(KEYS, TAGGED_VALUES, max_size=6)


@settings(max_examples=150, deadline=None)
@given(TAGGED_SESSIONS)
def test_dumps_equals_itsdangerous_with_flasks_settings_for_any_session(session):
    with _APP.app_context():
        expected = flask_serializer().dumps(session)
        assert flask_serializer().loads(expected) == session
    if len(expected) > MAX_COOKIE_BYTES:
        with pytest.raises(CookieTooLarge) as err:
            signer().dumps(session)
        assert err.value.size == len(expected)
        return
    assert signer().dumps(session) == expected
    assert signer().loads(expected) == session


def test_expiry_boundary_is_itsdangerous(monkeypatch):
    cookie = signer().dumps(SMALL)
    for age, expired in [(3600, False), (3601, True)]:
        monkeypatch.setattr(_FrozenSigner, "now", T + age)
        with _APP.app_context():
            try:
                flask_serializer().loads(cookie, max_age=3600)
                theirs = False
            except Exception as exc:  # itsdangerous.SignatureExpired
                theirs = type(exc).__name__ == "SignatureExpired"
        ours = not signer(at=T + age, max_age_s=3600).verify(cookie)
        assert ours is theirs is expired


def test_signature_text_is_compared_where_itsdangerous_decodes_it_first():
    """27 base64 characters carry 162 bits for SHA-1's 160: itsdangerous decodes the text,
    so four last characters (and a trailing "=") give it the same signature. scalekit
    compares the text itself, so that every changed character is a rejected cookie."""
    cookie = signer().dumps(SMALL)
    alphabet = string.ascii_letters + string.digits + "-_"
    variants = [cookie[:-1] + c for c in alphabet if c != cookie[-1]] + [cookie + "="]
    with _APP.app_context():
        theirs = []
        for variant in variants:
            try:
                flask_serializer().loads(variant)
                theirs.append(variant)
            except Exception:  # itsdangerous.BadSignature
                pass
    assert len(theirs) == 4  # three other last characters, and the padded one
    for variant in variants:
        with pytest.raises(BadSignature):
            signer().loads(variant)


def test_key_derivation_and_signature_are_itsdangerous():
    theirs = Signer(KEY, salt="cookie-session", key_derivation="hmac",
                    digest_method=hashlib.sha1)
    key = cookies.derive_key(KEY)
    assert key == theirs.derive_key()
    assert key == hmac.new(KEY.encode(), b"cookie-session", hashlib.sha1).digest()
    assert cookies.get_signature(key, "payload.ts") == theirs.get_signature("payload.ts").decode()
    assert len(cookies.get_signature(key, b"")) == 27  # 20 bytes of SHA-1, unpadded base64


@given(st.integers(0, 2**64 - 1))
def test_timestamp_encoding_is_itsdangerous(seconds):
    text = cookies.encode_timestamp(seconds)
    assert text == its_encoding.base64_encode(its_encoding.int_to_bytes(seconds)).decode()
    assert cookies.decode_timestamp(text) == seconds


def test_timestamp_layout_is_big_endian_without_leading_zero_bytes():
    assert cookies.encode_timestamp(T) == "ZVPxAA"  # 0x6553F100: four bytes, six characters
    assert cookies.encode_timestamp(1) == "AQ"
    assert cookies.encode_timestamp(0) == ""
    with pytest.raises(ValueError, match="seconds"):
        cookies.encode_timestamp(-1)
    with pytest.raises(TypeError, match="seconds"):
        cookies.encode_timestamp(1.5)


# ------------------------------------------------------------------ the steps, one by one


def test_serialize_is_compact_sorted_ascii_json():
    assert cookies.serialize({"b": 1, "a": [1, 2.5, None, True]}) == \
        b'{"a":[1,2.5,null,true],"b":1}'
    assert cookies.serialize({"name": "café"}) == b'{"name":"caf\\u00e9"}'


@pytest.mark.parametrize(("value", "json_text"), [
    ((1, "a"), b'{" t":[1,"a"]}'),
    (b"\x00\xff", b'{" b":"AP8="}'),
    (datetime(2024, 5, 17, 12, 30), b'{" d":"Fri, 17 May 2024 12:30:00 GMT"}'),  # naive: UTC
    (datetime(2024, 5, 17, 14, 30, tzinfo=timezone(timedelta(hours=2))),
     b'{" d":"Fri, 17 May 2024 12:30:00 GMT"}'),
    (uuid.UUID(int=1), b'{" u":"00000000000000000000000000000001"}'),
    ({" t": 1}, b'{" di":{" t__":1}}'),
    ({" t": 1, "b": 2}, b'{" t":1,"b":2}'),  # two keys: not a tag, nothing to escape
    ([(1,), {"x": b""}], b'[{" t":[1]},{"x":{" b":""}}]'),
])
def test_serialize_tags_what_json_lacks_as_flask_does(value, json_text):
    assert cookies.serialize({"v": value}) == b'{"v":' + json_text + b"}"
    assert cookies.deserialize(cookies.serialize({"v": value}))["v"] == \
        (value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None
         else value)


@pytest.mark.parametrize(("session", "error", "words"), [
    ({"s": {1, 2}}, TypeError, r"session\['s'\] is a set"),
    ({"d": [date(2024, 1, 1)]}, TypeError, r"session\['d'\]\[0\] is a date"),
    ({"m": Decimal("1.5")}, TypeError, "is a Decimal"),
    ({"o": {"deep": object()}}, TypeError, r"session\['o'\]\['deep'\] is a object"),
    ({1: "int key"}, TypeError, "keys must be str"),
    ({"x": float("nan")}, ValueError, "NaN"),
    ({"x": [float("inf")]}, ValueError, "infinity"),
    ([("a", 1)], TypeError, "session must be a dict"),
])
def test_serialize_refuses_what_it_cannot_round_trip(session, error, words):
    with pytest.raises(error, match=words):
        cookies.serialize(session)


def test_serialize_refuses_a_session_that_contains_itself():
    loop: dict = {}
    loop["me"] = loop
    with pytest.raises(ValueError, match="nested too deeply"):
        cookies.serialize(loop)


def test_compression_only_when_it_saves_two_bytes():
    data = b"x" * 100
    squeezed, compressed = cookies.compress(data)
    assert compressed and zlib.decompress(squeezed) == data
    assert cookies.compress(b'{"a":1}') == (b'{"a":1}', False)
    assert cookies.encode_payload(data).startswith(".")
    assert cookies.decode_payload(cookies.encode_payload(data)) == data
    assert cookies.decode_payload(cookies.encode_payload(b"{}")) == b"{}"


@pytest.mark.parametrize("text", ["a+b/", "ab==", "abcde", "a b", "é"])
def test_b64decode_refuses_anything_but_url_safe_base64(text):
    with pytest.raises(ValueError, match="base64"):
        cookies.b64decode(text)


def test_b64_round_trips_without_padding():
    for n in range(10):
        data = bytes(range(250, 250 - n, -1))
        text = cookies.b64encode(data)
        assert "=" not in text and cookies.b64decode(text) == data


# ------------------------------------------------------------------ round trips and tampering


@settings(max_examples=150, deadline=None)
@given(SESSIONS)
def test_any_session_round_trips(session):
    s = signer()
    try:
        cookie = s.dumps(session)
    except CookieTooLarge as exc:
        assert exc.size > MAX_COOKIE_BYTES
        return
    assert s.loads(cookie) == session
    assert len(cookie) <= MAX_COOKIE_BYTES and cookie.isascii()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(CASES.values())), st.data())
def test_any_single_character_change_is_rejected(session, data):
    cookie = signer().dumps(session)
    index = data.draw(st.integers(0, len(cookie) - 1), label="index")
    new = data.draw(st.integers(0, 255).map(chr) | st.characters(), label="new character")
    assume(cookie[index] != new)
    with pytest.raises(BadCookie):  # and nothing else: another type fails the test
        signer().loads(cookie[:index] + new + cookie[index + 1:])


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(CASES.values())), st.data())
def test_any_truncation_is_rejected(session, data):
    cookie = signer().dumps(session)
    cut = data.draw(st.integers(0, len(cookie) - 1), label="keep")
    with pytest.raises(BadCookie):
        signer().loads(cookie[:cut])


@given(st.text(string.ascii_letters + string.digits + "-_", min_size=27, max_size=27))
def test_a_guessed_signature_is_rejected(guess):
    cookie = signer().dumps(SMALL)
    assume(not cookie.endswith(guess))
    with pytest.raises(BadSignature):
        signer().loads(cookie.rpartition(".")[0] + "." + guess)


@given(st.binary(min_size=1, max_size=40))
def test_a_cookie_forged_with_any_other_key_is_rejected(wrong_key):
    assume(wrong_key != KEY.encode())
    forged = signer(wrong_key).dumps({"user": "admin"})
    with pytest.raises(BadSignature) as err:
        signer().loads(forged)
    assert type(err.value) is BadSignature


def test_changing_the_readable_payload_breaks_the_signature():
    """The attack a student tries first: decode, edit, re-encode, keep the signature."""
    cookie = signer().dumps({"user": "ada", "admin": False})
    parts = cookies.parts(cookie)
    assert parts.decoded == '{"admin":false,"user":"ada"}'  # anyone can read it
    payload = cookies.encode_payload(cookies.serialize({"user": "ada", "admin": True}))
    forged = ".".join([payload, parts.timestamp_b64, parts.signature_b64])
    with pytest.raises(BadSignature) as err:
        signer().loads(forged)
    assert err.value.payload == payload  # the evidence: what the attacker sent


def test_tamper_changes_exactly_one_character():
    cookie = signer().dumps(SMALL)
    changed = cookies.tamper(cookie, 0, "A" if cookie[0] != "A" else "B")
    assert len(changed) == len(cookie)
    assert sum(a != b for a, b in zip(changed, cookie, strict=True)) == 1
    assert cookies.tamper(cookie, -1, "x" if cookie[-1] != "x" else "y")[:-1] == cookie[:-1]
    assert not signer().verify(changed)
    with pytest.raises(ValueError, match="changes nothing"):
        cookies.tamper(cookie, 0, cookie[0])
    with pytest.raises(ValueError, match="index"):
        cookies.tamper(cookie, len(cookie), "x")
    with pytest.raises(ValueError, match="single character"):
        cookies.tamper(cookie, 0, "xy")


# ------------------------------------------------------------------ malformed cookies


def _valid() -> str:
    return signer().dumps(SMALL)


def _bad_timestamp(text: str) -> str:
    signed = cookies.b64encode(b"{}") + "." + text
    return signed + "." + cookies.get_signature(cookies.derive_key(KEY), signed)


MALFORMED = {
    "empty": (lambda: "", BadCookie),
    "one part": (lambda: "eyJhIjoxfQ", BadCookie),
    "two parts": (lambda: "eyJhIjoxfQ.ZVPzgA", BadCookie),
    "not ascii": (lambda: "é" + _valid(), BadCookie),
    "bad base64, wrong signature": (lambda: "!!!{not json.ZVPzgA.c2lnbmF0dXJl", BadSignature),
    "truncated": (lambda: _valid()[:-3], BadSignature),
    "payload only": (lambda: _valid().split(".")[0], BadCookie),
    "wrong key": (lambda: signer("wrong key").dumps(SMALL), BadSignature),
    "signature of another cookie": (
        lambda: _valid().rpartition(".")[0] + "." + signer().dumps({}).rpartition(".")[2],
        BadSignature),
    "expired": (lambda: signer(at=T - 3601).dumps(SMALL), SignatureExpired),
    "from the future": (lambda: signer(at=T + 61).dumps(SMALL), BadTimestamp),
    "malformed timestamp": (lambda: _bad_timestamp("!!"), BadTimestamp),
    "9-byte timestamp": (lambda: _bad_timestamp(cookies.b64encode(b"\1" * 9)), BadTimestamp),
    "oversized": (lambda: "a" * (MAX_COOKIE_BYTES + 1), CookieTooLarge),
    "signed non-base64": (lambda: signed_garbage("!!!"), BadPayload),
    "signed bad JSON": (lambda: signed_garbage(cookies.b64encode(b"{not json")), BadPayload),
    "signed bad UTF-8": (lambda: signed_garbage(cookies.b64encode(b'"\xff\xfe"')), BadPayload),
    "signed bad zlib": (lambda: signed_garbage("." + cookies.b64encode(b"not zlib")),
                        BadPayload),
    "signed JSON list": (lambda: signed_garbage(cookies.b64encode(b"[1,2]")), BadPayload),
    "signed bad bytes tag": (
        lambda: signed_garbage(cookies.b64encode(b'{"x":{" b":"***"}}')), BadPayload),
    "signed bad tuple tag": (
        lambda: signed_garbage(cookies.b64encode(b'{"x":{" t":5}}')), BadPayload),
    "signed bad date tag": (
        lambda: signed_garbage(cookies.b64encode(b'{"x":{" d":"yesterday"}}')), BadPayload),
    "signed bad uuid tag": (
        lambda: signed_garbage(cookies.b64encode(b'{"x":{" u":"nope"}}')), BadPayload),
    "signed bad dict tag": (
        lambda: signed_garbage(cookies.b64encode(b'{"x":{" di":3}}')), BadPayload),
    "signed zip bomb of nesting": (
        lambda: signed_garbage("." + cookies.b64encode(zlib.compress(b"[" * 200_000))),
        BadPayload),
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_each_malformed_cookie_raises_its_own_error(kind):
    make, expected = MALFORMED[kind]
    with pytest.raises(ValueError) as err:
        signer(max_age_s=3600).loads(make())
    assert type(err.value) is expected, f"{kind}: {type(err.value).__name__}: {err.value}"
    assert not signer(max_age_s=3600).verify(make())


@pytest.mark.parametrize("cookie", [b"abc.def.ghi", None, 42, ["a.b.c"]])
def test_a_cookie_that_is_not_a_str_is_a_type_error(cookie):
    with pytest.raises(TypeError, match="cookie must be a str"):
        signer().loads(cookie)
    with pytest.raises(TypeError, match="cookie must be a str"):
        signer().verify(cookie)


def test_the_error_ladder_all_value_errors():
    assert issubclass(SignatureExpired, BadTimestamp)
    assert issubclass(BadTimestamp, BadSignature)
    assert issubclass(BadSignature, BadCookie)
    assert issubclass(BadPayload, BadCookie) and not issubclass(BadPayload, BadSignature)
    for cls in (BadCookie, CookieTooLarge):
        assert issubclass(cls, ValueError)


def test_bad_payload_chains_the_decoding_error():
    with pytest.raises(BadPayload) as err:
        signer().loads(signed_garbage(cookies.b64encode(b"{not json")))
    assert isinstance(err.value.__cause__, ValueError)
    assert err.value.payload == cookies.b64encode(b"{not json")


# ------------------------------------------------------------------ verify before decoding


def test_signatures_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    cookie = signer().dumps(SMALL)
    assert signer().loads(cookie) == SMALL
    assert calls == [(cookie.rpartition(".")[2].encode(),) * 2]
    calls.clear()
    assert not signer("wrong").verify(cookie)
    assert len(calls) == 1


def test_nothing_is_decoded_before_the_signature_matches(monkeypatch):
    def must_not_run(text):
        raise AssertionError(f"decoded {text!r} before checking the signature")

    monkeypatch.setattr(cookies, "decode_payload", must_not_run)
    monkeypatch.setattr(cookies, "decode_timestamp", must_not_run)
    with pytest.raises(BadSignature) as err:
        signer().loads("!!!{not base64, not json}.@@.AAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert type(err.value) is BadSignature


def test_age_is_checked_before_the_payload_is_decoded():
    stale_garbage = signed_garbage(cookies.b64encode(b"{not json"), at=T - 7200)
    with pytest.raises(SignatureExpired):
        signer(max_age_s=3600).loads(stale_garbage)


# ------------------------------------------------------------------ key rotation


def test_the_newest_key_signs():
    assert signer(["old", "new"]).dumps(SMALL) == signer("new").dumps(SMALL)
    assert signer(["old", "new"]).key_index(signer("new").dumps(SMALL)) == 1


def test_an_old_key_still_verifies_while_it_is_in_the_list():
    old_cookie = signer("old").dumps(SMALL)
    assert signer(["old", "new"]).loads(old_cookie) == SMALL
    assert signer(["older", "old", "new"]).key_index(old_cookie) == 1
    with pytest.raises(BadSignature) as err:
        signer(["older", "new"]).loads(old_cookie)
    assert type(err.value) is BadSignature


def test_verification_tries_the_newest_key_first(monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    three = signer(["k1", "k2", "k3"])
    three.loads(signer("k3").dumps(SMALL))
    assert len(calls) == 1
    calls.clear()
    three.loads(signer("k1").dumps(SMALL))
    assert len(calls) == 3


def test_keys_may_be_bytes_and_salt_separates_purposes():
    assert signer(KEY.encode()).dumps(SMALL) == signer(KEY).dumps(SMALL)
    other_purpose = signer(salt="password-reset").dumps(SMALL)
    with pytest.raises(BadSignature):
        signer().loads(other_purpose)


@pytest.mark.parametrize(("keys", "error", "words"), [
    ([], ValueError, "at least one key"),
    ([""], ValueError, r"secret_keys\[0\] is empty"),
    (["ok", 3], TypeError, r"secret_keys\[1\]"),
    (5, TypeError, "secret_keys"),
])
def test_bad_keys_are_named(keys, error, words):
    with pytest.raises(error, match=words):
        SessionSigner(keys)


# ------------------------------------------------------------------ time


def test_expiry_at_max_age_and_one_second_after():
    now = [T]
    s = SessionSigner(KEY, max_age_s=3600, clock=lambda: now[0])
    cookie = s.dumps(SMALL)
    now[0] = T + 3600
    assert s.loads(cookie) == SMALL
    now[0] = T + 3601
    with pytest.raises(SignatureExpired) as err:
        s.loads(cookie)
    assert err.value.signed_at == T and err.value.age_s == 3601
    assert "3601 s ago" in str(err.value) and "max_age_s=3600" in str(err.value)


def test_a_future_timestamp_beyond_the_skew_is_refused_even_without_max_age():
    ahead = signer(at=T + 61).dumps(SMALL)
    with pytest.raises(BadTimestamp) as err:
        signer().loads(ahead)
    assert type(err.value) is BadTimestamp and err.value.signed_at == T + 61
    assert "61 s in the future" in str(err.value)
    assert signer().loads(signer(at=T + 60).dumps(SMALL)) == SMALL  # within the skew
    assert signer(clock_skew_s=0).verify(signer(at=T).dumps(SMALL))
    assert not signer(clock_skew_s=0).verify(signer(at=T + 1).dumps(SMALL))


def test_a_malformed_timestamp_has_no_signing_time():
    with pytest.raises(BadTimestamp) as err:
        signer().loads(_bad_timestamp("!!"))
    assert err.value.signed_at is None and err.value.payload == cookies.b64encode(b"{}")


def test_the_clock_is_only_what_was_injected(monkeypatch):
    def no_wall_clock():
        raise AssertionError("read the wall clock")

    monkeypatch.setattr(time, "time", no_wall_clock)
    s = signer(max_age_s=10)
    assert s.loads(s.dumps(SMALL)) == SMALL
    assert cookies.parts(s.dumps(SMALL)).signed_at == T


def test_the_default_clock_is_time_time():
    assert SessionSigner(KEY).clock is time.time


def test_fractional_clock_readings_are_truncated_like_itsdangerous():
    assert cookies.parts(signer(at=T + 0.999).dumps(SMALL)).signed_at == T


@pytest.mark.parametrize(("reading", "error"), [(-1, ValueError), (float("nan"), ValueError),
                                                ("now", TypeError), (2.0**64, ValueError)])
def test_a_bad_clock_reading_is_named(reading, error):
    with pytest.raises(error, match=r"clock\(\)"):
        signer(at=reading).dumps(SMALL)


def test_bad_constructor_arguments_are_named():
    with pytest.raises(ValueError, match="max_age_s"):
        SessionSigner(KEY, max_age_s=-1)
    with pytest.raises(TypeError, match="clock"):
        SessionSigner(KEY, clock=5)
    with pytest.raises(ValueError, match="clock_skew_s"):
        SessionSigner(KEY, clock_skew_s=float("nan"))


# ------------------------------------------------------------------ size


#: A 5-byte timestamp (2106): base64 never leaves one spare character, so with T's 6-character
#: timestamp no compressed cookie is 4093 (≡ 1 mod 4) long, and any long ASCII JSON compresses.
LATE = 2**32


def _session_with_cookie_length(target: int, at: int) -> dict:
    """A session whose cookie, signed at ``at``, is exactly ``target`` characters long."""
    rng = random.Random(3)
    text = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(8000))
    for n in range(target - 1200, target + 200):
        session = {"notes": text[:n]}
        try:
            size = len(signer(at=at).dumps(session))
        except CookieTooLarge as exc:
            size = exc.size
        if size == target:
            return session
    raise AssertionError(f"no session gives a {target}-byte cookie")


def test_a_cookie_exactly_at_the_limit_is_accepted():
    session = _session_with_cookie_length(MAX_COOKIE_BYTES, at=LATE)
    cookie = signer(at=LATE).dumps(session)
    assert len(cookie) == MAX_COOKIE_BYTES
    assert signer(at=LATE).loads(cookie) == session


def test_a_cookie_one_byte_over_is_refused_with_its_size():
    session = _session_with_cookie_length(MAX_COOKIE_BYTES + 1, at=T)
    with pytest.raises(CookieTooLarge) as err:
        signer().dumps(session)
    assert err.value.size == MAX_COOKIE_BYTES + 1 and err.value.limit == MAX_COOKIE_BYTES
    assert "4,094 bytes" in str(err.value) and "4,093-byte limit" in str(err.value)
    with pytest.raises(CookieTooLarge):  # nor read back: a browser may have dropped it
        signer().loads("a" * (MAX_COOKIE_BYTES + 1))


def test_a_large_session_names_how_large():
    with pytest.raises(CookieTooLarge, match=r"is \d{1,3},\d{3} bytes") as err:
        signer().dumps({"blob": random.Random(1).randbytes(6000)})
    assert err.value.size > 8000


# ------------------------------------------------------------------ anatomy and shortcuts


def test_parts_reads_everything_without_a_key():
    cookie = signer().dumps(LARGE)
    p = cookies.parts(cookie)
    assert ".".join([p.payload_b64, p.timestamp_b64, p.signature_b64]) == cookie
    assert p.compressed and p.payload_b64.startswith(".")
    assert p.decoded == cookies.serialize(LARGE).decode()
    assert p.signed_at == T and p.signed_at_utc == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert p.size_bytes == len(cookie)
    assert signer().parts(cookie) == p
    with pytest.raises(AttributeError):
        p.signed_at = 0  # frozen


def test_parts_of_a_cookie_that_does_not_decode():
    p = cookies.parts("!!!.@@.sig")
    assert p.decoded is None and p.signed_at is None and p.signature_b64 == "sig"
    with pytest.raises(BadCookie, match="three parts"):
        cookies.parts("no-dots")


def test_module_shortcuts():
    cookie = cookies.dumps(SMALL, KEY, clock=lambda: T)
    assert cookie == signer().dumps(SMALL)
    assert cookies.loads(cookie, ["old", KEY], clock=lambda: T) == SMALL
    assert "1 key(s)" in repr(signer())


def test_parts_show_as_a_table_that_says_nothing_is_verified():
    page = cookies.parts(signer().dumps({"x": "<b>"}))._repr_html_()
    assert "nothing here is verified" in page and "2023-11-14 22:13:20+00:00" in page
    assert "&lt;b&gt;" in page and "<b>" not in page


# ------------------------------------------------------------------ any value (issue 18)

NUMBERS = st.one_of(
    st.sampled_from([1e308, -1e308, 5e-324, 2**63, 2**64, 10**400, float("inf"), float("nan"),
                     0, -0.0, -1]),
    st.integers(), st.floats(), st.none(), st.booleans(), st.text(max_size=3),
    st.just([]), st.just({}))


def _names(message: str, name: str) -> bool:
    import _walk
    return _walk.names(message, name)


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(["max_age_s", "clock_skew_s", "clock()", "seconds", "index"]),
       value=NUMBERS)
def test_every_number_is_taken_or_refused_naming_its_parameter(name, value):
    """Each numeric parameter of the signer — the ages, the clock's reading, a timestamp's
    seconds, tamper's index — with any value: a cookie round trip works, or a TypeError /
    ValueError names the parameter (never an OverflowError from deep inside)."""
    def call():
        if name == "seconds":
            return cookies.encode_timestamp(value)
        if name == "index":
            return cookies.tamper(signer().dumps(SMALL), value, "~")
        kwargs = {"clock": lambda: value} if name == "clock()" else {name: value}
        made = SessionSigner(KEY, **({"clock": lambda: T} | kwargs))
        return made.loads(made.dumps(SMALL))
    try:
        got = call()
    except (TypeError, ValueError) as exc:
        assert _names(str(exc), name.rstrip("()")), f"{type(exc).__name__}: {exc}"
        return
    if name in ("max_age_s", "clock_skew_s", "clock()"):
        assert got == SMALL
