"""Hostile JSON bodies become 400 ValidationError in one place (`shared.http.parse_json`), never
another exception: deep nesting, huge numbers, invalid UTF-8, NUL, lone surrogates, duplicate
keys, NaN. Checked on examples and with generated bodies (hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from shared.errors import ValidationError
from shared.http import MAX_DEPTH, MAX_NUMBER_CHARS, parse_body, parse_json
from tests.plugins.hypothesis_profiles import examples


class Small(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),  # RecursionError in json.loads otherwise
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nests deeper"),
        (b'{"records":[' + b"9" * 5000 + b"]}", "longer than"),  # ValueError past 4300 digits otherwise
        (b'{"q":-' + b"1" * 40 + b"}", "longer than"),
        (b'{"q":1e999999}', "out of range"),
        (b'{"q":NaN}', "not a JSON value"),
        (b'{"q":-Infinity}', "not a JSON value"),
        (b'{"name":"\xff\xfe"}', "not valid UTF-8"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),  # a BOM
        (b'{"name":"a\\u0000b"}', "NUL"),
        (b'{"na\\u0000me":"a"}', "NUL"),
        (b'{"name":"\\ud800"}', "surrogate"),
        (b'{"name":"a","name":"b"}', "more than once"),
        (b'{"x":{"k":1,"k":1}}', "more than once"),
        (b'{"name":"a\x00b"}', "not valid JSON"),  # a raw control character inside a string
        (b"", "JSON object"),
        (b"[]", "JSON object"),
        (b"null", "JSON object"),
    ],
)
def test_hostile_bodies_are_a_validation_error(body: bytes, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_body(body, Small)
    assert says in caught.value.message
    assert caught.value.status == 400 and caught.value.code == "ValidationError"


def test_what_the_contract_sends_still_parses() -> None:
    body = b'{"records":[{"id":"r-1","dimension":"requests","quantity":2147483647,"timestamp":"x"}]}'
    assert parse_json(body)["records"][0]["quantity"] == 2147483647
    assert parse_json(b'{"a":' * (MAX_DEPTH - 1) + b"1" + b"}" * (MAX_DEPTH - 1))
    assert parse_json(b'{"s":"[[[[{{{{ \\" ]]"}') == {"s": '[[[[{{{{ " ]]'}  # brackets in strings
    assert parse_json(('{"n":' + "9" * MAX_NUMBER_CHARS + "}").encode())["n"] == int("9" * MAX_NUMBER_CHARS)
    assert parse_json('{"é":"😀"}'.encode()) == {"é": "😀"}
    assert parse_body(b'{"name":"\\ufffd"}', Small).name == "\ufffd"  # what API Gateway makes of bad bytes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def _hostile(draw_value: object, kind: str) -> bytes:
    text = json.dumps(draw_value)
    if kind == "deep":
        return ("[" * (MAX_DEPTH + 1) + text + "]" * (MAX_DEPTH + 1)).encode()
    if kind == "huge-int":
        return ('{"v":[' + text + "," + "7" * 4400 + "]}").encode()
    if kind == "duplicate":
        return ('{"k":' + text + ',"k":' + text + "}").encode()
    if kind == "nul":
        return ('{"k":[' + text + ',"\\u0000"]}').encode()
    if kind == "bad-utf8":
        return b'{"k":"' + b"\xc3\x28" + b'","v":' + text.encode() + b"}"
    raise AssertionError(kind)


@settings(max_examples=examples(ci=60, local=10))
@given(json_values, st.sampled_from(["deep", "huge-int", "duplicate", "nul", "bad-utf8"]))
def test_generated_hostile_bodies_never_raise_anything_but_validation_error(value: object, kind: str) -> None:
    with pytest.raises(ValidationError):
        parse_body(_hostile(value, kind), Small)


@settings(max_examples=examples(ci=200, local=25))
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_are_a_validation_error(data: bytes) -> None:
    try:
        parse_json(data)
    except ValidationError:
        pass
