"""docs/protocol.md's signing test vector is what `shared.signing` computes, so the document a
client author implements from cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

from shared import signing

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _vector() -> dict[str, str]:
    text = PROTOCOL.read_text()
    section = text[text.index("Test vector") :]
    blocks = re.findall(r"```(?:json|text)\n(.*?)\n```", section, re.S)
    return {
        "secret": re.search(r"secret `([^`]+)`", section).group(1),
        "date": re.search(r"date `([^`]+)`", section).group(1),
        "nonce": re.search(r"nonce `([^`]+)`", section).group(1),
        "body": blocks[0],
        "string_to_sign": blocks[1],
        "signature": re.search(r"the signature `([0-9a-f]{64})`", section).group(1),
    }


def test_the_documented_vector_is_what_the_code_signs() -> None:
    vector = _vector()
    query = signing.canonical_query([("dry_run", "false"), ("a b", "x/y")])
    sts = signing.string_to_sign(
        vector["date"], vector["nonce"], "POST", "/v1/usage", query, vector["body"].encode("utf-8")
    )
    assert sts == vector["string_to_sign"]
    assert signing.compute_signature(vector["secret"], sts) == vector["signature"]


def test_the_documented_limits_are_the_code_s() -> None:
    text = PROTOCOL.read_text()
    assert f"±{signing.WINDOW_SECONDS} s" in text
    assert "16-64 characters of [A-Za-z0-9_-]" in text and signing.valid_nonce("a" * 16)
    assert not signing.valid_nonce("a" * 15) and not signing.valid_nonce("a" * 65)
