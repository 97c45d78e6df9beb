"""Marketplace event parsing (every fixture file) and the subscription state machine."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from subscriptions.logic.events import (
    APPLIED,
    IGNORED,
    REFRESHED,
    STALE,
    MalformedEvent,
    decide,
    grace_end,
    is_eventbridge,
    parse_eventbridge,
    parse_sns,
    parse_sqs_body,
)
from subscriptions.models import (
    ACTIVE,
    GRACE,
    INACTIVE,
    PENDING,
    UNSUBSCRIBE_PENDING,
    MarketplaceEvent,
    Subscription,
    event_from_dict,
    event_to_dict,
    license_id,
    same_license,
)
from tests.aws_fixtures import AWS_FIXTURES

FIXTURES = AWS_FIXTURES
LICENSE_ID = "l-0123456789abcdef0123456789abcdef"
RESOLVE_ARN = f"arn:aws:license-manager::444455556666:license:{LICENSE_ID}"
EVENT_ARN = f"aws:license-manager:us-east-1:444455556666:{LICENSE_ID}"
AGREEMENT = "agmt-exampleagreement0000001"
GRACE_DAYS = 10


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def parsed(name: str) -> MarketplaceEvent:
    document = fixture(name)
    event = parse_eventbridge(document) if is_eventbridge(document) else parse_sns(document)
    assert event is not None
    return event


def subscription(**changes) -> Subscription:
    base = Subscription(
        customer_id="cust-1",
        email="user@example.com",
        aws_account_id="111122223333",
        product_code="exampleprod1234567890",
        status=ACTIVE,
        license_arn=RESOLVE_ARN,
        version=1,
    )
    return replace(base, **changes)


# ------------------------------------------------------------------------------ parsing


EVENTBRIDGE_EXPECTED = {
    "marketplace-eventbridge-purchase-agreement-created-proposer.json": ("agreement-created", None),
    "marketplace-eventbridge-purchase-agreement-created-manufacturer.json": ("agreement-created", None),
    "marketplace-eventbridge-purchase-agreement-created-proposer-renew.json": ("agreement-created", None),
    "marketplace-eventbridge-purchase-agreement-amended-proposer.json": ("agreement-amended", None),
    "marketplace-eventbridge-purchase-agreement-amended-manufacturer.json": ("agreement-amended", None),
    "marketplace-eventbridge-purchase-agreement-ended-proposer.json": ("agreement-ended", None),
    "marketplace-eventbridge-purchase-agreement-ended-manufacturer.json": ("agreement-ended", None),
    "marketplace-eventbridge-purchase-agreement-ending-proposer.json": ("agreement-ending", None),
    "marketplace-eventbridge-purchase-agreement-advisory-issued-manufacturer.json": (
        "agreement-advisory",
        None,
    ),
    "marketplace-eventbridge-license-updated-manufacturer.json": ("license-updated", LICENSE_ID),
    "marketplace-eventbridge-license-deprovisioned-manufacturer.json": ("license-deprovisioned", LICENSE_ID),
}
SNS_EXPECTED = {
    "marketplace-sns-subscription-subscribe-success.json": ("subscribe-success", "2026-03-02T10:15:30.123Z"),
    "marketplace-sns-subscription-subscribe-fail.json": ("subscribe-fail", "2026-03-02T10:16:30.456Z"),
    "marketplace-sns-subscription-unsubscribe-pending.json": (
        "unsubscribe-pending",
        "2026-04-01T08:00:00.789Z",
    ),
    "marketplace-sns-subscription-unsubscribe-success.json": (
        "unsubscribe-success",
        "2026-04-01T09:00:05.012Z",
    ),
    "marketplace-sns-entitlement-updated.json": ("entitlement-updated", "2026-03-02T10:15:31.000Z"),
}


def test_every_marketplace_fixture_is_covered() -> None:
    # Every documented event payload (EventBridge and SNS); API request/response shapes are not events.
    names = {
        p.name
        for pattern in ("marketplace-eventbridge-*.json", "marketplace-sns-*.json")
        for p in FIXTURES.glob(pattern)
    }
    assert names == set(EVENTBRIDGE_EXPECTED) | set(SNS_EXPECTED)


@pytest.mark.parametrize("name", sorted(EVENTBRIDGE_EXPECTED))
def test_eventbridge_fixture_parses(name: str) -> None:
    document = fixture(name)
    event = parse_eventbridge(document)
    kind, lid = EVENTBRIDGE_EXPECTED[name]
    assert event.kind == kind
    assert event.channel == "eventbridge"
    assert event.event_id == f"eb:{document['id']}"
    assert event.time == at(document["time"])
    assert event.detail_type == document["detail-type"]
    assert event.aws_account_id == "111122223333"
    assert event.agreement_id == document["detail"]["agreement"]["id"]
    assert event.license_id == lid
    assert event.offer_id == "offer-example1234567"
    if kind.startswith("license-"):
        assert event.product_code == "exampleprod1234567890"
        assert same_license(event.license_arn, RESOLVE_ARN)
    else:
        assert event.product_code is None  # agreement events carry no product code
    # the same event also parses when it comes through SQS
    assert parse_sqs_body(json.dumps(document)) == event


def test_renewal_fixture_names_its_previous_agreement() -> None:
    event = parsed("marketplace-eventbridge-purchase-agreement-created-proposer-renew.json")
    assert event.agreement_id == "agmt-examplerenewal0000002"
    assert event.previous_agreement_id == AGREEMENT
    assert event.agreement_status == "ACTIVE"


def test_ended_fixture_status_is_kept() -> None:
    assert parsed("marketplace-eventbridge-purchase-agreement-ended-proposer.json").agreement_status == (
        "CANCELLED"
    )


@pytest.mark.parametrize("name", sorted(SNS_EXPECTED))
def test_sns_fixture_parses_as_an_sqs_body(name: str) -> None:
    text = (FIXTURES / name).read_text()
    event = parse_sqs_body(text)
    kind, timestamp = SNS_EXPECTED[name]
    envelope = json.loads(text)
    assert event is not None
    assert event.kind == kind
    assert event.channel == "sns"
    assert event.event_id == f"sns:{envelope['MessageId']}"
    assert event.time == at(timestamp)
    assert event.customer_identifier == "X01EXAMPLEX"
    assert event.product_code == "exampleprod1234567890"
    assert event.aws_account_id is None and event.license_arn is None
    if kind == "entitlement-updated":
        assert event.free_trial is None and event.offer_id is None
    else:
        assert event.free_trial is False  # the string "false", per AWS
    if kind in ("subscribe-success", "subscribe-fail"):
        assert event.offer_id == "offer-example1234567"


def test_free_trial_string_true_is_true() -> None:
    envelope = fixture("marketplace-sns-subscription-subscribe-success.json")
    message = json.loads(envelope["Message"])
    message["isFreeTrialTermPresent"] = "true"
    envelope["Message"] = json.dumps(message)
    event = parse_sns(envelope)
    assert event is not None and event.free_trial is True


def test_customer_identifier_is_trimmed() -> None:
    """AWS's own example prints `" X01EXAMPLEX"` with a leading space."""
    envelope = fixture("marketplace-sns-subscription-subscribe-success.json")
    message = json.loads(envelope["Message"])
    message["customer-identifier"] = " X01EXAMPLEX"
    envelope["Message"] = json.dumps(message)
    assert parse_sns(envelope).customer_identifier == "X01EXAMPLEX"


def test_subscription_confirmation_is_not_an_event() -> None:
    assert parse_sns({"Type": "SubscriptionConfirmation", "MessageId": "m"}) is None


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"Type": "Notification", "MessageId": "m", "Message": "{not json"}),
        json.dumps({"Type": "Notification", "MessageId": "m", "Message": json.dumps({"action": "x"})}),
        json.dumps({"Type": "Weird"}),
        json.dumps({**fixture("marketplace-sns-entitlement-updated.json"), "Timestamp": "yesterday"}),
        json.dumps(
            {**fixture("marketplace-eventbridge-license-updated-manufacturer.json"), "source": "evil"}
        ),
        json.dumps({**fixture("marketplace-eventbridge-license-updated-manufacturer.json"), "id": None}),
    ],
)
def test_malformed_bodies_are_refused(body: str) -> None:
    with pytest.raises(MalformedEvent):
        parse_sqs_body(body)


def test_event_round_trips_through_its_stored_form() -> None:
    for name in (*EVENTBRIDGE_EXPECTED, *SNS_EXPECTED):
        event = parsed(name)
        assert event_from_dict(json.loads(json.dumps(event_to_dict(event)))) == event


# ------------------------------------------------------------------------------ licence ids


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (RESOLVE_ARN, LICENSE_ID),
        (EVENT_ARN, LICENSE_ID),
        (f"arn:aws:license-manager:us-east-1:444455556666:license/{LICENSE_ID}", LICENSE_ID),
        (LICENSE_ID, LICENSE_ID),
        ("arn:aws:license-manager::444455556666:license:", None),
        ("", None),
        (None, None),
    ],
)
def test_license_id_of_every_arn_form(arn: str | None, expected: str | None) -> None:
    assert license_id(arn) == expected


def test_license_forms_compare_equal_but_other_ids_do_not() -> None:
    assert same_license(RESOLVE_ARN, EVENT_ARN)
    assert not same_license(RESOLVE_ARN, EVENT_ARN.replace("0123", "9999"))
    assert not same_license(None, None)


# ------------------------------------------------------------------------------ transitions


@pytest.mark.parametrize(
    ("name", "start", "status"),
    [
        ("marketplace-sns-subscription-subscribe-success.json", PENDING, ACTIVE),
        ("marketplace-sns-subscription-subscribe-fail.json", PENDING, PENDING),
        ("marketplace-sns-subscription-unsubscribe-pending.json", ACTIVE, UNSUBSCRIBE_PENDING),
        ("marketplace-sns-subscription-unsubscribe-success.json", UNSUBSCRIBE_PENDING, GRACE),
        ("marketplace-eventbridge-purchase-agreement-created-proposer.json", PENDING, ACTIVE),
        ("marketplace-eventbridge-purchase-agreement-created-manufacturer.json", PENDING, ACTIVE),
        ("marketplace-eventbridge-purchase-agreement-amended-proposer.json", ACTIVE, ACTIVE),
        ("marketplace-eventbridge-purchase-agreement-ended-proposer.json", ACTIVE, GRACE),
        ("marketplace-eventbridge-purchase-agreement-ended-manufacturer.json", ACTIVE, GRACE),
        ("marketplace-eventbridge-license-updated-manufacturer.json", GRACE, ACTIVE),
        ("marketplace-eventbridge-license-deprovisioned-manufacturer.json", ACTIVE, GRACE),
    ],
)
def test_state_transitions(name: str, start: str, status: str) -> None:
    event = parsed(name)
    decision = decide(subscription(status=start), event, GRACE_DAYS)
    assert decision.outcome == APPLIED
    assert decision.after is not None
    assert decision.after.status == status
    assert decision.after.last_event_time == event.time
    assert decision.after.last_event_id == event.event_id
    if status == GRACE:
        assert decision.after.grace_until == grace_end(event.time, GRACE_DAYS)
    else:
        assert decision.after.grace_until is None


def test_unsubscribe_success_grace_is_event_time_plus_grace_days() -> None:
    event = parsed("marketplace-sns-subscription-unsubscribe-success.json")
    after = decide(subscription(status=UNSUBSCRIBE_PENDING), event, GRACE_DAYS).after
    assert after.grace_until == datetime(2026, 4, 11, 9, 0, 5, tzinfo=UTC)


def test_grace_reads_inactive_once_grace_until_passes() -> None:
    until = datetime(2026, 4, 11, 9, 0, 5, tzinfo=UTC)
    sub = subscription(status=GRACE, grace_until=until)
    assert sub.status_at(until - timedelta(seconds=1)) == GRACE
    assert sub.allows_activation(until - timedelta(seconds=1))
    assert sub.status_at(until) == INACTIVE
    assert not sub.allows_activation(until)


@pytest.mark.parametrize(
    ("status", "allowed"),
    [(ACTIVE, True), (UNSUBSCRIBE_PENDING, True), (PENDING, False), (INACTIVE, False)],
)
def test_activation_by_status(status: str, allowed: bool) -> None:
    assert subscription(status=status).allows_activation(datetime.now(UTC)) is allowed


def test_second_ending_event_does_not_extend_grace() -> None:
    ended = parsed("marketplace-eventbridge-purchase-agreement-ended-proposer.json")
    deprovisioned = parsed("marketplace-eventbridge-license-deprovisioned-manufacturer.json")
    first = decide(subscription(), ended, GRACE_DAYS).after
    second = decide(first, deprovisioned, GRACE_DAYS).after
    assert second.status == GRACE
    assert second.grace_until == first.grace_until == grace_end(ended.time, GRACE_DAYS)


def test_ending_a_never_active_subscription_is_inactive() -> None:
    event = parsed("marketplace-sns-subscription-unsubscribe-success.json")
    after = decide(subscription(status=PENDING), event, GRACE_DAYS).after
    assert after.status == INACTIVE and after.grace_until is None


def test_older_event_never_moves_state_backwards() -> None:
    success = parsed("marketplace-sns-subscription-unsubscribe-success.json")
    pending = parsed("marketplace-sns-subscription-unsubscribe-pending.json")
    subscribed = parsed("marketplace-sns-subscription-subscribe-success.json")
    graced = decide(subscription(status=UNSUBSCRIBE_PENDING), success, GRACE_DAYS).after
    for older in (pending, subscribed):
        decision = decide(graced, older, GRACE_DAYS)
        assert decision.outcome == STALE and decision.after is None


def test_same_time_event_is_applied() -> None:
    created = parsed("marketplace-eventbridge-purchase-agreement-created-proposer.json")
    also = parsed("marketplace-eventbridge-purchase-agreement-created-manufacturer.json")
    first = decide(subscription(status=PENDING), created, GRACE_DAYS).after
    assert decide(first, also, GRACE_DAYS).outcome == APPLIED


def test_licence_events_about_another_licence_are_ignored() -> None:
    deprovisioned = parsed("marketplace-eventbridge-license-deprovisioned-manufacturer.json")
    other = subscription(license_arn=RESOLVE_ARN.replace(LICENSE_ID, "l-ffffffffffffffffffffffffffffffff"))
    decision = decide(other, deprovisioned, GRACE_DAYS)
    assert decision.outcome == IGNORED and decision.after is None


def test_licence_event_in_the_event_arn_form_matches_the_resolved_licence() -> None:
    deprovisioned = parsed("marketplace-eventbridge-license-deprovisioned-manufacturer.json")
    assert deprovisioned.license_arn == EVENT_ARN
    assert decide(subscription(), deprovisioned, GRACE_DAYS).after.status == GRACE


def test_created_adopts_the_agreement_and_ended_of_another_is_ignored() -> None:
    created = parsed("marketplace-eventbridge-purchase-agreement-created-proposer.json")
    after = decide(subscription(status=PENDING), created, GRACE_DAYS).after
    assert after.agreement_id == AGREEMENT
    ended = replace(
        parsed("marketplace-eventbridge-purchase-agreement-ended-proposer.json"), agreement_id="agmt-other"
    )
    assert decide(after, ended, GRACE_DAYS).outcome == IGNORED


def test_renewal_retires_the_old_agreement_so_its_end_is_ignored() -> None:
    created = parsed("marketplace-eventbridge-purchase-agreement-created-proposer.json")
    renewed = parsed("marketplace-eventbridge-purchase-agreement-created-proposer-renew.json")
    first = decide(subscription(status=PENDING), created, GRACE_DAYS).after
    second = decide(first, renewed, GRACE_DAYS).after
    assert second.agreement_id == "agmt-examplerenewal0000002"
    assert AGREEMENT in second.retired_agreements
    late_end = replace(
        parsed("marketplace-eventbridge-purchase-agreement-ended-proposer.json"),
        time=renewed.time + timedelta(seconds=5),
    )
    decision = decide(second, late_end, GRACE_DAYS)
    assert decision.outcome == IGNORED
    assert second.status == ACTIVE


def test_entitlement_updated_only_refreshes() -> None:
    decision = decide(subscription(), parsed("marketplace-sns-entitlement-updated.json"), GRACE_DAYS)
    assert decision.outcome == REFRESHED and decision.refresh and decision.after is None


def test_license_updated_refreshes_entitlements() -> None:
    decision = decide(
        subscription(), parsed("marketplace-eventbridge-license-updated-manufacturer.json"), GRACE_DAYS
    )
    assert decision.refresh and decision.after.status == ACTIVE


def test_usage_pricing_never_refreshes_entitlements() -> None:
    """The entitlement topic and GetEntitlements exist for contract pricing only."""
    updated = decide(
        subscription(), parsed("marketplace-sns-entitlement-updated.json"), GRACE_DAYS, has_entitlements=False
    )
    assert updated.outcome == IGNORED and not updated.refresh
    licence = decide(
        subscription(),
        parsed("marketplace-eventbridge-license-updated-manufacturer.json"),
        GRACE_DAYS,
        has_entitlements=False,
    )
    assert licence.after.status == ACTIVE and not licence.refresh


@pytest.mark.parametrize(
    "name",
    [
        "marketplace-eventbridge-purchase-agreement-ending-proposer.json",
        "marketplace-eventbridge-purchase-agreement-advisory-issued-manufacturer.json",
    ],
)
def test_notice_only_events_change_nothing(name: str) -> None:
    decision = decide(subscription(), parsed(name), GRACE_DAYS)
    assert decision.outcome == IGNORED and decision.after is None


def test_a_replacement_licence_is_metered_in_resolve_customers_arn_form() -> None:
    from subscriptions.models import metering_license_arn

    current = "arn:aws:license-manager::444455556666:license:l-0123456789abcdef0123456789abcdef"
    event_form = "aws:license-manager:us-east-1:444455556666:l-fedcba9876543210fedcba9876543210"
    expected = "arn:aws:license-manager::444455556666:license:l-fedcba9876543210fedcba9876543210"
    assert metering_license_arn(current, event_form) == expected
    assert metering_license_arn(None, event_form) == expected
    assert metering_license_arn(current, expected) == expected


def test_a_licence_event_of_a_replaced_agreement_is_ignored() -> None:
    event = parsed("marketplace-eventbridge-license-updated-manufacturer.json")
    sub = replace(subscription(), retired_agreements=(event.agreement_id,))
    assert decide(sub, event, GRACE_DAYS).outcome == IGNORED
