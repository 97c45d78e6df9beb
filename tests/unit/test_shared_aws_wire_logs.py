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


def test_put_deployment_parameter_request_bodies_are_dropped_at_debug(caplog):
    """The Quick Launch request carries the deployment key's secret (`secretString`)."""
    caplog.set_level(logging.DEBUG)
    endpoint = logging.getLogger("botocore.endpoint")
    endpoint.debug(
        "Making request for %s with params: %r",
        "OperationModel(name=PutDeploymentParameter)",
        {"body": b'{"deploymentParameter": {"name": "DeploymentKey", "secretString": "vsSK_topsecret"}}'},
    )
    endpoint.debug("Sending http request: %s", "GET /tags/x")
    assert "vsSK_topsecret" not in caplog.text
    assert "GET /tags/x" in caplog.text
