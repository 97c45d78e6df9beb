"""Marketplace registration, subscription events and status, through the real handlers.

AWS is moto in-process (DynamoDB); AWS Marketplace is the sandbox's emulator over HTTP on
127.0.0.1, reached by the same boto3 clients through the service-specific endpoint variables.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.keys_world import (
    EMAIL,
    OTHER_EMAIL,
    OTHER_SUB,
    SUB,
    FakeLambdaContext,
)
from tests.plugins.subscriptions_world import (
    DATA_TABLE,
    PRODUCT_CODE,
    World,
    product_json,
)


@pytest.fixture(name="world")
def world_fixture(subscriptions_world: World) -> World:
    """This module's world is the subscriptions world (not the delivery world of the same name)."""
    return subscriptions_world


def allows(customer: str, now: datetime) -> bool:
    from shared.config import get_config
    from subscriptions.dal.store import SubscriptionStore
    from subscriptions.logic.status import subscription_allows_activation

    return subscription_allows_activation(SubscriptionStore(get_config().tables["data"]), customer, now)


# ------------------------------------------------------------------------------ registration


def test_registration_links_the_subscription(world: World) -> None:
    account = world.account()
    subscription = world.subscribe(account, entitlements={"seats": 10, "premium_support": True})
    answer = world.register(subscription["registration_token"])
    assert answer.status == 200, answer.body
    assert answer.body == {"status": "active", "aws_account_id": account, "product_code": PRODUCT_CODE}
    assert answer.headers.get("Cache-Control") == "no-store"
    item = world.sub_item()
    assert item is not None
    assert item["customer_id"] == SUB and item["email"] == EMAIL
    assert item["aws_account_id"] == account
    assert item["license_arn"] == subscription["license_arn"]
    assert item["product_code"] == PRODUCT_CODE
    assert item["status"] == "active" and "grace_until" not in item
    assert item["gsi1pk"] == f"SUBACCT#{account}" and item["gsi1sk"] == "SUB"
    assert "customer_identifier" not in item  # new integrations have none
    assert item["entitlements"]["seats"]["value"] == 10
    assert item["entitlements"]["premium_support"]["value"] is True
    assert item["entitlements"]["seats"]["expires_at"].endswith("Z")
    links = world.items("SUBLINK#")
    assert [(i["pk"], i["customer_id"]) for i in links] == [(f"SUBLINK#ACCT#{account}", SUB)]
    assert world.status().body == {"status": "active", "grace_until": None, "aws_account_id": account}
    # the store the metering job reads
    from subscriptions.dal.store import SubscriptionStore

    store = SubscriptionStore(DATA_TABLE)
    assert store.by_account(account).customer_id == SUB
    assert [s.customer_id for s in store.list_all()] == [SUB]


def test_registration_is_audited_without_the_token(world: World) -> None:
    token = world.subscribe(world.account())["registration_token"]
    assert world.register(token).status == 200
    records = [
        r for r in world.vault.audit_items() if r["operation"].endswith("/v1/marketplace/registrations")
    ]
    assert len(records) == 1 and records[0]["customer_id"] == SUB and records[0]["status"] == 200
    assert token not in json.dumps(records, default=str)


def test_same_customer_again_is_idempotent(world: World) -> None:
    token = world.subscribe(world.account())["registration_token"]
    first = world.register(token)
    version = world.sub_item()["version"]
    second = world.register(token)
    assert first.status == second.status == 200
    assert first.body == second.body
    assert world.sub_item()["version"] == version


def test_subscription_of_another_customer_is_409(world: World) -> None:
    account = world.account()
    token = world.subscribe(account)["registration_token"]
    assert world.register(token).status == 200
    before = world.sub_item()
    answer = world.register(token, sub=OTHER_SUB, email=OTHER_EMAIL)
    assert (answer.status, answer.code) == (409, "Conflict")
    assert account not in answer.body["error"]["message"] and SUB not in answer.body["error"]["message"]
    # a fresh token for the same AWS account is the same subscription holder: still 409
    again = world.register(world.subscribe(account)["registration_token"], sub=OTHER_SUB, email=OTHER_EMAIL)
    assert (again.status, again.code) == (409, "Conflict")
    assert world.sub_item(OTHER_SUB) is None
    assert world.sub_item() == before


def test_concurrent_registrations_of_one_account_link_one_customer(
    world: World, atomic_dynamodb: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two customers register one account at once, each in its own Lambda: both read "not linked",
    then both link. The link's conditional transaction lets one win; the other gets 409.

    Each registration runs the registration logic with its own caller (Lambda runs one request
    per process; one Powertools resolver shared by two threads would mix the callers up), and a
    barrier holds both until each has read its state, so the writes really race."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from shared.callers import Caller
    from shared.errors import Conflict
    from subscriptions.context import event_context
    from subscriptions.dal.store import SubscriptionStore
    from subscriptions.logic.registration import register

    token = world.subscribe(world.account())["registration_token"]
    both_read = threading.Barrier(2, timeout=30)
    link = SubscriptionStore.link

    def link_after_both_read(self, *args, **kwargs):
        both_read.wait()
        return link(self, *args, **kwargs)

    monkeypatch.setattr(SubscriptionStore, "link", link_after_both_read)

    def attempt(who: tuple[str, str]) -> int:
        try:
            register(
                event_context(),
                Caller(customer_id=who[0], email=who[1], sub=who[0]),
                token,
                datetime.now(UTC),
            )
        except Conflict:
            return 409
        return 200

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(attempt, [(SUB, EMAIL), (OTHER_SUB, OTHER_EMAIL)]))
    assert sorted(answers) == [200, 409]
    linked = [i for i in world.items("SUB#") if i["sk"] == "SUB"]
    assert len(linked) == 1
    links = [i for i in world.items("SUBLINK#")]
    assert [i["customer_id"] for i in links] == [linked[0]["customer_id"]]


def test_invalid_token_is_400(world: World) -> None:
    answer = world.register("bm90LWEtcmVhbC10b2tlbg==")
    assert (answer.status, answer.code) == (400, "InvalidRegistrationToken")
    assert world.items() == []


def test_expired_token_is_400(world: World) -> None:
    token = world.subscribe(world.account())["registration_token"]
    world.clock.now += timedelta(hours=1, seconds=1)
    answer = world.register(token)
    assert (answer.status, answer.code) == (400, "InvalidRegistrationToken")
    assert "expired" in answer.body["error"]["message"]
    assert world.items() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "registration_token"),
        ({"registration_token": "x", "extra": 1}, "extra"),
        ({"registration_token": 5}, "registration_token"),
        ({"registration_token": "   "}, "registration_token"),
    ],
)
def test_bad_body_is_validation_error(world: World, body: dict, field: str) -> None:
    answer = world.register(body)
    assert (answer.status, answer.code) == (400, "ValidationError")
    assert field in answer.body["error"]["message"]


def test_token_for_another_product_is_refused(world: World) -> None:
    from shared.callers import Caller
    from shared.errors import InvalidRegistrationToken
    from subscriptions.context import event_context
    from subscriptions.dal.marketplace import ResolvedCustomer
    from subscriptions.logic.registration import register

    class OtherProduct:
        def resolve_customer(self, token: str) -> ResolvedCustomer:
            return ResolvedCustomer("111122223333", "otherproduct000000000", "arn:aws:x::1:license:l-1", None)

    ctx = replace(event_context(), marketplace=OtherProduct())
    with pytest.raises(InvalidRegistrationToken):
        register(ctx, Caller(SUB, EMAIL), "token", datetime.now(UTC))
    assert world.items() == []


def test_no_subscription_reads_inactive(world: World) -> None:
    answer = world.status()
    assert answer.status == 200
    assert answer.body == {"status": "inactive", "grace_until": None, "aws_account_id": None}
    assert not allows(SUB, datetime.now(UTC))


def test_routes_need_a_caller(world: World) -> None:
    answer = world.vault.keys_api("GET", "/v1/subscription", claims=False)
    assert (answer.status, answer.code) == (401, "InvalidToken")


# ------------------------------------------------------------------------------ events (EventBridge)


def test_eventbridge_lifecycle_to_grace_and_inactive(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    account = world.account()
    token = world.subscribe(account)["registration_token"]
    created = world.event("purchase-agreement-created", account)
    # the agreement event arrives before the buyer registers: kept, not dropped
    assert world.deliver(created) == {"outcome": "kept"}
    assert len(world.items(f"SUBPEND#ACCT#{account}")) == 1
    assert world.register(token).body["status"] == "active"
    assert world.items("SUBPEND#") == []  # replayed at registration
    assert world.sub_item()["agreement_id"] == created["detail"]["agreement"]["id"]
    assert world.deliver(world.event("license-updated", account)) == {"outcome": "applied"}
    ended = world.event("purchase-agreement-ended", account)
    assert world.deliver(ended) == {"outcome": "applied"}
    ended_at = datetime.fromisoformat(ended["time"].replace("Z", "+00:00"))
    grace_until = ended_at + timedelta(days=10)
    item = world.sub_item()
    assert item["status"] == "grace"
    assert item["grace_until"] == grace_until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert world.deliver(world.event("license-deprovisioned", account)) == {"outcome": "applied"}
    assert world.sub_item()["grace_until"] == item["grace_until"]  # not extended
    answer = world.status().body
    assert answer == {"status": "grace", "grace_until": item["grace_until"], "aws_account_id": account}
    assert allows(SUB, grace_until - timedelta(seconds=1))
    assert not allows(SUB, grace_until)
    import subscriptions.handlers.router

    monkeypatch.setattr(subscriptions.handlers.router, "utcnow", lambda: grace_until + timedelta(hours=1))
    assert world.status().body == {"status": "inactive", "grace_until": None, "aws_account_id": account}


def test_eventbridge_redelivery_is_a_noop(world: World) -> None:
    account = world.account()
    assert world.register(world.subscribe(account)["registration_token"]).status == 200
    ended = world.event("purchase-agreement-ended", account)
    assert world.deliver(ended) == {"outcome": "applied"}
    item = world.sub_item()
    assert world.deliver(ended) == {"outcome": "duplicate"}
    assert world.sub_item() == item


def test_event_for_another_product_is_ignored(world: World) -> None:
    account = world.account()
    assert world.register(world.subscribe(account)["registration_token"]).status == 200
    event = world.event("license-deprovisioned", account)
    event["detail"]["product"]["code"] = "otherproduct000000000"
    assert world.deliver(event) == {"outcome": "ignored"}
    assert world.sub_item()["status"] == "active"


def test_unrecognized_event_shape_is_ignored(world: World) -> None:
    import subscriptions.handlers.events

    assert subscriptions.handlers.events.handler({"hello": "world"}, FakeLambdaContext()) == {
        "outcome": "ignored"
    }


# ------------------------------------------------------------------------------ events (SNS via SQS)


def test_legacy_sns_lifecycle(world: World) -> None:
    account = world.account()
    subscription = world.subscribe(account, legacy=True)
    answer = world.register(subscription["registration_token"])
    assert answer.body["status"] == "pending"  # legacy: wait for subscribe-success
    assert world.sub_item()["customer_identifier"] == subscription["customer_identifier"]
    assert not allows(SUB, datetime.now(UTC))
    assert world.deliver(world.event("subscribe-success", account)) == {"batchItemFailures": []}
    assert world.status().body["status"] == "active"
    world.deliver(world.event("unsubscribe-pending", account))
    assert world.status().body["status"] == "unsubscribe-pending"
    assert allows(SUB, datetime.now(UTC))
    success = world.event("unsubscribe-success", account, after=timedelta(hours=1))
    world.deliver(success)
    item = world.sub_item()
    assert item["status"] == "grace"
    stamp = datetime.fromisoformat(success["Timestamp"].replace("Z", "+00:00"))
    grace_until = (stamp + timedelta(days=10)).replace(microsecond=0)
    assert item["grace_until"] == grace_until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert allows(SUB, grace_until - timedelta(seconds=1))
    assert not allows(SUB, grace_until + timedelta(seconds=1))


def test_older_sns_message_never_moves_state_backwards(world: World) -> None:
    account = world.account()
    assert world.register(world.subscribe(account, legacy=True)["registration_token"]).status == 200
    world.deliver(world.event("subscribe-success", account))
    pending = world.event("unsubscribe-pending", account)
    success = world.event("unsubscribe-success", account)
    world.deliver(success)
    assert world.deliver(pending) == {"batchItemFailures": []}  # late, older: stale
    assert world.sub_item()["status"] == "grace"
    outcomes = {i["pk"].split("#", 1)[1]: i["outcome"] for i in world.items("SUBEVENT#")}
    assert outcomes[f"sns:{pending['MessageId']}"] == "stale"


def test_partial_batch_failure_on_a_malformed_record(world: World) -> None:
    account = world.account()
    assert world.register(world.subscribe(account, legacy=True)["registration_token"]).status == 200
    good = json.dumps(world.event("subscribe-success", account))
    answer = world.deliver_sqs(
        ["{not json", good, json.dumps({"Type": "Notification"})], ids=["bad", "ok", "worse"]
    )
    # not JSON: failed (redelivered, then dead-lettered); unsigned: refused at once, never applied
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert world.sub_item()["status"] == "active"


def test_a_forged_sns_message_is_refused_and_changes_nothing(world: World) -> None:
    """Issue 9 item 9: the queue's messages are verified before anything is applied."""
    account = world.account()
    assert world.register(world.subscribe(account, legacy=True)["registration_token"]).status == 200
    assert world.deliver(world.event("subscribe-success", account)) == {"batchItemFailures": []}
    genuine = world.event("unsubscribe-success", account)
    forged = {**genuine, "Message": genuine["Message"].replace("unsubscribe-success", "unsubscribe-pending")}
    stolen_url = {**genuine, "SigningCertURL": "https://attacker.example/SimpleNotificationService-1.pem"}
    unsigned = {k: v for k, v in genuine.items() if k not in ("Signature", "SignatureVersion")}
    for message in (forged, stolen_url, unsigned):
        assert world.deliver(message) == {"batchItemFailures": []}  # refused, not redelivered
        assert world.sub_item()["status"] == "active"
    assert world.deliver(genuine) == {"batchItemFailures": []}
    assert world.sub_item()["status"] == "grace"


def test_sqs_redelivery_is_a_noop(world: World) -> None:
    account = world.account()
    assert world.register(world.subscribe(account, legacy=True)["registration_token"]).status == 200
    body = json.dumps(world.event("subscribe-success", account))
    world.deliver_sqs([body])
    item = world.sub_item()
    assert world.deliver_sqs([body, body]) == {"batchItemFailures": []}
    assert world.sub_item() == item


def test_a_usage_priced_product_never_calls_get_entitlements(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entitlement topic and GetEntitlements exist for contract pricing only (issue 8 item 2)."""
    from shared.config import get_config

    monkeypatch.setenv("VS_PRODUCT", json.dumps(product_json(world.emulator, "usage")))
    get_config.cache_clear()
    account = world.account()
    before = world.emulator.calls["GetEntitlements"]
    token = world.subscribe(account, entitlements={"seats": 5})["registration_token"]
    assert world.register(token).status == 200
    assert world.deliver(world.event("license-updated", account)) == {"outcome": "applied"}
    assert world.deliver(world.event("entitlement-updated", account)) == {"batchItemFailures": []}
    assert world.emulator.calls["GetEntitlements"] == before
    assert world.sub_item()["entitlements"] == {} and world.sub_item()["status"] == "active"


def test_entitlement_updated_refreshes_entitlements(world: World) -> None:
    account = world.account()
    registered = world.register(
        world.subscribe(account, legacy=True, entitlements={"seats": 5})["registration_token"]
    )
    assert registered.status == 200
    assert world.sub_item()["entitlements"]["seats"]["value"] == 5
    world.emulator.set_entitlements(account, {"seats": 25})
    assert world.deliver(world.event("entitlement-updated", account)) == {"batchItemFailures": []}
    assert world.sub_item()["entitlements"]["seats"]["value"] == 25
    assert world.sub_item()["status"] == "pending"  # entitlements say nothing about the status


def test_sns_for_an_unknown_customer_is_kept_then_replayed(world: World) -> None:
    account = world.account()
    subscription = world.subscribe(account, legacy=True)
    assert world.deliver(world.event("subscribe-success", account)) == {"batchItemFailures": []}
    kept = world.items(f"SUBPEND#CID#{subscription['customer_identifier']}")
    assert len(kept) == 1
    assert world.register(subscription["registration_token"]).body["status"] == "active"
    assert world.items("SUBPEND#") == []


def test_sns_of_a_new_integration_is_mapped_through_its_entitlements(world: World) -> None:
    account = world.account()
    assert (
        world.register(world.subscribe(account, entitlements={"seats": 1})["registration_token"]).status
        == 200
    )
    world.deliver(world.event("unsubscribe-pending", account))
    item = world.sub_item()
    assert item["status"] == "unsubscribe-pending"
    assert item["customer_identifier"]  # learnt once, through GetEntitlements
    assert {i["pk"] for i in world.items("SUBLINK#CID#")} == {f"SUBLINK#CID#{item['customer_identifier']}"}


def test_resubscribing_from_grace_links_the_new_licence(world: World) -> None:
    account = world.account()
    first = world.subscribe(account)
    assert world.register(first["registration_token"]).status == 200
    world.deliver(world.event("purchase-agreement-created", account))
    old_end = world.event("purchase-agreement-ended", account)
    world.deliver(old_end)
    assert world.status().body["status"] == "grace"
    second = world.subscribe(account)
    assert world.register(second["registration_token"]).body["status"] == "active"
    item = world.sub_item()
    assert item["license_arn"] == second["license_arn"] and "grace_until" not in item
    # a late duplicate of the old agreement's end (other role's copy) does not end the new one
    late = {**old_end, "id": str(uuid.uuid4()), "detail-type": "Purchase Agreement Ended - Manufacturer"}
    late["time"] = (world.clock.now + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert world.deliver(late) == {"outcome": "ignored"}
    assert world.status().body["status"] == "active"


# ------------------------------------------------------------------------------ other products' agreements


def test_cancelled_buyer_accepting_another_products_offer_is_not_active_again(world: World) -> None:
    """Issue 9 attack 1: agreement events name no product and the rule gets every agreement of
    the seller. A buyer cancels, then accepts any cheap offer of the same seller."""
    account = world.account()
    assert world.register(world.subscribe(account)["registration_token"]).status == 200
    assert world.deliver(world.event("purchase-agreement-ended", account)) == {"outcome": "applied"}
    assert world.sub_item()["status"] == "grace"
    cheap = world.emulator.other_product_agreement(account)
    world.clock.now += timedelta(seconds=5)
    calls = world.emulator.calls["DescribeAgreement"]
    created = world.emulator.agreement_event("purchase-agreement-created", cheap)
    assert world.deliver(created) == {"outcome": "ignored"}
    assert world.emulator.calls["DescribeAgreement"] == calls + 1  # asked AWS whose it is
    item = world.sub_item()
    assert item["status"] == "grace" and item.get("agreement_id") != cheap
    amended = world.emulator.agreement_event("purchase-agreement-amended", cheap)  # names its product
    assert world.deliver(amended) == {"outcome": "ignored"}
    assert world.sub_item()["status"] == "grace"


def test_paying_buyer_cancelling_another_product_stays_active(world: World) -> None:
    """Issue 9 attack 2: the buyer's agreement for this product was never seen in an event
    (registered through ResolveCustomer only); cancelling another product must not end it."""
    account = world.account()
    assert world.register(world.subscribe(account)["registration_token"]).status == 200
    other = world.emulator.other_product_agreement(account)
    world.clock.now += timedelta(seconds=5)
    assert world.deliver(world.emulator.agreement_event("purchase-agreement-created", other)) == {
        "outcome": "ignored"
    }
    world.clock.now += timedelta(seconds=5)
    ended = world.emulator.agreement_event("purchase-agreement-ended", other)
    assert world.deliver(ended) == {"outcome": "ignored"}
    assert world.sub_item()["status"] == "active" and world.status().body["status"] == "active"
    assert allows(SUB, datetime.now(UTC))


def test_an_agreement_of_this_product_is_verified_once_then_known(world: World) -> None:
    account = world.account()
    assert world.register(world.subscribe(account)["registration_token"]).status == 200
    calls = world.emulator.calls["DescribeAgreement"]
    created = world.event("purchase-agreement-created", account)
    assert world.deliver(created) == {"outcome": "applied"}
    assert world.emulator.calls["DescribeAgreement"] == calls + 1
    assert world.sub_item()["agreement_id"] == created["detail"]["agreement"]["id"]
    assert world.deliver(world.event("purchase-agreement-ended", account)) == {"outcome": "applied"}
    assert world.emulator.calls["DescribeAgreement"] == calls + 1  # known now: not asked again
    assert world.sub_item()["status"] == "grace"


def test_a_licence_event_teaches_the_agreement(world: World) -> None:
    """Licence events name the product: their agreement is this product's without asking AWS."""
    account = world.account()
    assert world.register(world.subscribe(account)["registration_token"]).status == 200
    licence = world.event("license-updated", account)
    assert world.deliver(licence) == {"outcome": "applied"}
    assert world.sub_item()["agreement_id"] == licence["detail"]["agreement"]["id"]
    calls = world.emulator.calls["DescribeAgreement"]
    assert world.deliver(world.event("purchase-agreement-ended", account)) == {"outcome": "applied"}
    assert world.emulator.calls["DescribeAgreement"] == calls


# ------------------------------------------------------------------------------ concurrent agreements


def test_a_replacement_licence_is_adopted_and_metered(world: World) -> None:
    """Concurrent Agreements: a new agreement and licence for the same product and account (an
    upgrade, a renewal or a private offer) replace the current ones without a new registration."""
    account = world.account()
    first = world.subscribe(account)
    assert world.register(first["registration_token"]).status == 200
    assert world.deliver(world.event("license-updated", account)) == {"outcome": "applied"}
    second = world.subscribe(account)  # the buyer accepts a replacement offer
    assert world.deliver(world.event("purchase-agreement-created", account)) == {"outcome": "applied"}
    assert world.deliver(world.event("license-updated", account)) == {"outcome": "applied"}
    item = world.sub_item()
    assert item["license_arn"] == second["license_arn"]  # in the form BatchMeterUsage takes
    assert item["agreement_id"] == second["agreement_id"]
    assert first["agreement_id"] in item["retired_agreements"]
    assert item["status"] == "active"
    # the old licence's late events change nothing
    world.emulator.end_subscription(account)
    stale = world.emulator.event("license-deprovisioned", account)
    stale["detail"]["license"]["arn"] = stale["detail"]["license"]["arn"].replace(
        second["license_arn"].rsplit(":", 1)[1], first["license_arn"].rsplit(":", 1)[1]
    )
    stale["detail"]["agreement"]["id"] = first["agreement_id"]
    assert world.deliver(stale) == {"outcome": "ignored"}
    assert world.sub_item()["status"] == "active"
