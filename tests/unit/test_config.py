"""The configuration gate: a bad value fails the synth and names the key and the expected form."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest

from stacks.config import ConfigError, parse_config

CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]["vendstack"]


def with_change(path: str, value):
    tree = copy.deepcopy(CONTEXT)
    node = tree
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return tree


def test_shipped_configuration_parses():
    config = parse_config(CONTEXT)
    assert config.key_max_lifetime_days == 730
    assert config.max_active_keys == 20
    assert config.grace_days == 10
    assert [d.name for d in config.dimensions] == ["requests", "characters"]
    assert config.dimensions[0].price_per_unit == Decimal("0.0002")
    runtime = json.loads(config.runtime_product_json())
    assert runtime["dimensions"][0]["price_per_unit"] == "0.0002"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("product.version", "1.4", "vendstack.product.version' is '1.4'; expected a version such as"),
        ("product.name", KeyError, "vendstack.product.name' is missing"),
        (
            "keys.max_lifetime_days",
            "730",
            "vendstack.keys.max_lifetime_days' is '730'; expected a whole number",
        ),
        ("keys.max_active_per_customer", 0, "expected a whole number from 1 to 1000"),
        ("grace_days", True, "vendstack.grace_days' is True"),
        ("dimensions.0.price_per_unit", 0.1, "expected a decimal string"),
        ("dimensions.0.price_per_unit", "-1", "expected a decimal string"),
        ("dimensions.1.name", "requests", "repeats a dimension name"),
        ("dimensions.0.name", "Bad Name", "vendstack.name' is 'Bad Name'"),
        ("dimensions", [], "must be a list of 1 to 24 dimensions"),
        ("api.developer_page_origins", ["https://x.example.com/path"], "(scheme and host, no path)"),
        ("marketplace.product_code", "Not A Code", "expected the AWS Marketplace product code"),
    ],
)
def test_bad_values_name_the_key(path, value, message):
    with pytest.raises(ConfigError) as error:
        parse_config(with_change(path, value))
    assert message in str(error.value)


def test_unknown_dimension_key_is_rejected():
    tree = with_change("dimensions.0.colour", "blue")
    with pytest.raises(ConfigError, match=r"dimensions\[0\]' has unknown keys \['colour'\]"):
        parse_config(tree)


def test_missing_context_is_rejected():
    with pytest.raises(ConfigError, match="'vendstack' is missing"):
        parse_config(None)
