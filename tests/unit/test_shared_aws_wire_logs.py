"""botocore's DEBUG wire logs never carry a GenerateMac response (that is a secret key)."""

from __future__ import annotations

import logging

import shared.aws  # noqa: F401 - installs the filter


def test_generate_mac_response_bodies_are_dropped_at_debug(caplog):
    caplog.set_level(logging.DEBUG)
    parsers = logging.getLogger("botocore.parsers")
    parsers.debug(
        "Response body:\n%r", b'{"Mac": "c2VjcmV0LW1hYy1ieXRlcw==", "MacAlgorithm": "HMAC_SHA_256"}'
    )
    parsers.debug("Response headers: %r", {"x-amzn-requestid": "abc"})
    parsers.warning('a warning that mentions "Mac" stays')
    assert "c2VjcmV0LW1hYy1ieXRlcw" not in caplog.text
    assert "x-amzn-requestid" in caplog.text
    assert "a warning that mentions" in caplog.text
