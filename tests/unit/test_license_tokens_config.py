"""`vendstack.license_tokens` and `silent_usage` in cdk.json: validated at synth, each bad value
named with its key."""

from __future__ import annotations

import json

import pytest

from shared.config import config_from_env
from stacks.config import ConfigError, parse_config
from tests.plugins.config_tree import CONTEXT, with_change


def test_the_shipped_block_parses_and_reaches_the_functions() -> None:
    config = parse_config(CONTEXT)
    tokens = config.license_tokens
    assert (tokens.lifetime_seconds, tokens.features, tokens.offline_grace_seconds) == (
        3600,
        ("analysis",),
        86400,
    )
    assert (tokens.refresh_ahead_seconds, tokens.authorizer_cache_seconds) == (600, 300)
    assert tokens.routes == {"POST /analyze": "analysis"}
    assert config.silent_after_hours == 24
    runtime = config_from_env({"VS_PRODUCT": config.runtime_product_json()})
    assert (runtime.token_lifetime_seconds, runtime.features, runtime.silent_after_hours) == (
        3600,
        ("analysis",),
        24,
    )


def test_without_the_block_the_defaults_apply() -> None:
    config = parse_config(with_change("license_tokens", KeyError))
    assert config.license_tokens.lifetime_seconds == 3600
    assert config.license_tokens.features == () and config.license_tokens.routes == {}
    assert parse_config(with_change("silent_usage", KeyError)).silent_after_hours == 24


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("license_tokens.lifetime_seconds", 60, "lifetime_seconds' is 60; expected a whole number from 300"),
        ("license_tokens.lifetime_seconds", True, "lifetime_seconds' is True"),
        ("license_tokens.offline_grace_seconds", -1, "offline_grace_seconds' is -1"),
        (
            "license_tokens.authorizer_cache_seconds",
            3601,
            "authorizer_cache_seconds' is 3601; expected a whole number from 0 to 3600",
        ),
        ("license_tokens.refresh_ahead_seconds", 2000, "must be at most half of 'lifetime_seconds'"),
        ("license_tokens.features", ["Bad Name"], "license_tokens.features' must be a list of names"),
        ("license_tokens.features", ["requests"], "repeats a name or a dimension's name"),
        ("license_tokens.routes", {"POST /analyze": "nothing"}, "expected a dimension or a feature"),
        ("license_tokens.routes", {"analyze": "analysis"}, 'expected "METHOD /path"'),
        ("license_tokens.routes", [], "license_tokens.routes' must be an object"),
        ("license_tokens.colour", "red", "unknown keys ['colour']"),
        ("silent_usage.after_hours", 1, "silent_usage.after_hours' is 1"),
    ],
)
def test_a_bad_value_names_its_key(path: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match="vendstack") as refused:
        parse_config(with_change(path, value))
    assert message in str(refused.value)


def test_a_route_may_need_a_dimension() -> None:
    config = parse_config(
        with_change("license_tokens.routes", {"POST /analyze": "requests", "ANY /x": "analysis"})
    )
    assert (
        json.dumps(config.license_tokens.routes, sort_keys=True)
        == '{"ANY /x": "analysis", "POST /analyze": "requests"}'
    )
