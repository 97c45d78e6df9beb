"""The configuration gate: a bad value fails the synth and names the key and the expected form."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from decimal import Decimal

import pytest

from stacks.config import ConfigError, parse_config
from tests.plugins.config_tree import CONTEXT, with_change


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
        ("admin.principals", [], "must be a list of 1 to 20 IAM role or user ARNs"),
        ("admin.principals", KeyError, "vendstack.admin.principals' is missing"),
        ("admin.principals", ["arn:aws:iam::111122223333:role/*"], "admin.principals'[0] is"),
        ("admin.principals", ["*"], "expected an IAM role or user ARN"),
        (
            "admin.principals",
            ["arn:aws:sts::111122223333:assumed-role/Ops/me"],
            "no wildcards, no assumed-role sessions",
        ),
        (
            "admin.principals",
            ["arn:aws:iam::111122223333:user/a", "arn:aws:iam::111122223333:user/a"],
            "repeats a principal",
        ),
        ("subscriptions.require_approval", "yes", "require_approval' is 'yes'; expected true or false"),
        ("admin.support_contact", "call us", "expected an email address"),
    ],
)
def test_bad_values_name_the_key(path, value, message):
    with pytest.raises(ConfigError) as error:
        parse_config(with_change(path, value))
    assert message in str(error.value)


def test_admin_settings_reach_the_runtime():
    config = parse_config(with_change("subscriptions.require_approval", True))
    assert config.admin_principals == ("arn:aws:iam::123456789012:user/vendstack-operator",)
    runtime = json.loads(config.runtime_product_json())
    assert runtime["require_approval"] is True
    assert runtime["support_contact"] == "support@example.com"


def test_unknown_dimension_key_is_rejected():
    tree = with_change("dimensions.0.colour", "blue")
    with pytest.raises(ConfigError, match=r"dimensions\[0\]' has unknown keys \['colour'\]"):
        parse_config(tree)


def test_missing_context_is_rejected():
    with pytest.raises(ConfigError, match="'vendstack' is missing"):
        parse_config(None)


# --------------------------------------------------------------------------- billing window


def test_metering_deadline_arithmetic() -> None:
    from stacks.config import metering_deadline_minutes

    # hour 60 + window 180 + settle 1 + schedule 60 + job run 15 = 316 min = 5 h 16 min
    assert metering_deadline_minutes(3, 60) == 316
    assert metering_deadline_minutes(4, 5) == 60 + 240 + 1 + 5 + 15


def test_default_window_and_schedule_bill_inside_marketplaces_six_hours() -> None:
    from stacks.config import MARKETPLACE_WINDOW_MINUTES, SAFETY_MINUTES, metering_deadline_minutes

    config = parse_config(copy.deepcopy(CONTEXT))
    deadline = metering_deadline_minutes(config.usage_window_hours, config.metering_schedule_minutes)
    assert deadline <= MARKETPLACE_WINDOW_MINUTES - SAFETY_MINUTES


@pytest.mark.parametrize(("window", "schedule"), [(4, 60), (5, 5), (6, 60), (24, 60)])
def test_window_and_schedule_that_miss_marketplaces_window_are_refused(window: int, schedule: int) -> None:
    context = copy.deepcopy(CONTEXT)
    context["metering"] = {"usage_window_hours": window, "schedule_minutes": schedule}
    with pytest.raises(ConfigError) as caught:
        parse_config(context)
    message = str(caught.value)
    assert "vendstack.metering.usage_window_hours" in message
    assert "vendstack.metering.schedule_minutes" in message
    assert f"{window * 60} (window)" in message and "360 min" in message


def test_window_shorter_than_the_hourly_reporter_needs_is_refused() -> None:
    context = copy.deepcopy(CONTEXT)
    context["metering"] = {"usage_window_hours": 1, "schedule_minutes": 60}
    with pytest.raises(ConfigError, match="reporter"):
        parse_config(context)


@pytest.mark.parametrize(("window", "schedule"), [(2, 60), (3, 60), (4, 30)])
def test_window_and_schedule_that_fit_are_accepted(window: int, schedule: int) -> None:
    context = copy.deepcopy(CONTEXT)
    context["metering"] = {"usage_window_hours": window, "schedule_minutes": schedule}
    assert parse_config(context).usage_window_hours == window


def test_config_minutes_mirror_the_runtime() -> None:
    """stacks/ may not import runtime/: the numbers are written twice and kept equal here."""
    from metering.logic import plan
    from stacks import config

    assert timedelta(minutes=config.SETTLE_MINUTES) == plan.SETTLE
    assert timedelta(minutes=config.SAFETY_MINUTES) == plan.SAFETY
    assert timedelta(minutes=config.MARKETPLACE_WINDOW_MINUTES) == plan.MARKETPLACE_WINDOW
