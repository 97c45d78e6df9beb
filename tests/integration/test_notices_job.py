"""The daily notices job through its handler: moto DynamoDB + SES (sent mail read from moto's backend)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.plugins.keys_world import (
    EMAIL,
    OTHER_EMAIL,
    OTHER_SUB,
    PRODUCT,
    SUB,
    FakeLambdaContext,
    Vault,
    iso,
)
from tests.plugins.platform_tables import create_data_table

SENDER = "notices@vendstack.example"
PAGE = "https://developer.vendstack.example"
REGION = "us-east-1"
DATA_TABLE = "vs-data"


def parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.fixture(name="notices_world", scope="module")
def notices_world_fixture(aws_world: str) -> Iterator[None]:
    import shared.aws
    from shared.config import get_config

    patch = pytest.MonkeyPatch()
    patch.setenv("VS_TABLE_DATA", DATA_TABLE)
    patch.setenv("VS_PRODUCT", json.dumps({**PRODUCT, "product_code": "exampleprod1234567890"}))
    patch.setenv("VS_NOTICES_SENDER", SENDER)
    patch.setenv("VS_DEVELOPER_PAGE_URL", PAGE)
    patch.setenv("VS_SANDBOX_EVENT_CLOCK", "1")  # runs are dated ahead, as the sandbox dates them
    create_data_table(boto3.client("dynamodb", region_name=REGION))
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
    get_config.cache_clear()
    shared.aws.client.cache_clear()
    try:
        yield
    finally:
        patch.undo()
        get_config.cache_clear()


class Job:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    @staticmethod
    def run(now: datetime) -> dict:
        """As EventBridge Scheduler invokes it: a Scheduled Event whose `time` is the job clock."""
        import notices.handlers.job

        event = {
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "444455556666",
            "time": iso(now),
            "region": REGION,
            "resources": ["arn:aws:events:us-east-1:444455556666:rule/vendstack-notices"],
            "detail": {},
        }
        return notices.handlers.job.handler(event, FakeLambdaContext())

    @staticmethod
    def mails() -> list[Any]:
        return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)

    def records(self) -> list[dict]:
        return [i for i in self.vault.scan(DATA_TABLE) if i["pk"].startswith("NOTICE#")]


@pytest.fixture(name="job")
def job_fixture(vault: Vault, notices_world: None) -> Iterator[Job]:
    vault.empty(DATA_TABLE)
    ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages.clear()
    from shared.config import get_config

    get_config.cache_clear()
    yield Job(vault)
    get_config.cache_clear()


def counts(summary: dict) -> tuple[int, int, int]:
    return summary["sent"], summary["skipped"], summary["failed"]


def test_key_notices_once_per_threshold_across_runs(job: Job) -> None:
    key = job.vault.create_key(days=40, label="ci key")
    expires = parse(key["expires_at"])
    day_30 = expires - timedelta(days=30) + timedelta(hours=1)
    assert counts(job.run(day_30 - timedelta(hours=2))) == (0, 0, 0)  # not yet
    first = job.run(day_30)
    assert counts(first) == (1, 0, 0)
    assert first["by_kind"] == {"key_30d": {"sent": 1, "skipped": 0, "failed": 0}}
    assert first["now"] == iso(day_30) and first["job"] == "notices"
    assert counts(job.run(day_30)) == (0, 1, 0)
    assert counts(job.run(day_30 + timedelta(days=5))) == (0, 1, 0)
    day_7 = expires - timedelta(days=7) + timedelta(minutes=5)
    assert counts(job.run(day_7)) == (1, 0, 0)
    assert counts(job.run(day_7 + timedelta(days=1))) == (0, 1, 0)
    assert counts(job.run(expires + timedelta(minutes=1))) == (0, 0, 0)  # expired: nothing more
    mails = job.mails()
    assert len(mails) == 2
    for mail in mails:
        assert mail.source == SENDER
        assert mail.destinations["ToAddresses"] == [EMAIL]
        assert key["access_key"] in mail.subject and key["access_key"] in mail.body
        assert key["secret_key"] not in mail.body and key["secret_key"] not in mail.subject
        assert PAGE in mail.body
    assert "in 30 days" in mails[0].subject and "in 7 days" in mails[1].subject
    records = job.records()
    assert sorted(r["pk"] for r in records) == [
        f"NOTICE#{SUB}#KEY#{key['access_key']}#30",
        f"NOTICE#{SUB}#KEY#{key['access_key']}#7",
    ]
    assert {r["status"] for r in records} == {"sent"} and all(r["message_id"] for r in records)


def test_key_found_inside_7_days_gets_only_the_7_day_notice(job: Job) -> None:
    key = job.vault.create_key(days=5)
    now = parse(key["expires_at"]) - timedelta(days=4)
    assert job.run(now)["by_kind"] == {"key_7d": {"sent": 1, "skipped": 0, "failed": 0}}
    assert counts(job.run(now)) == (0, 1, 0)
    assert len(job.mails()) == 1


def test_revoked_keys_get_no_notice(job: Job) -> None:
    key = job.vault.create_key(days=20)
    assert job.vault.keys_api("DELETE", f"/v1/keys/{key['access_key']}").status == 204
    assert counts(job.run(datetime.now(UTC))) == (0, 0, 0)
    assert job.mails() == []


def test_each_customer_gets_their_own_notice(job: Job) -> None:
    mine = job.vault.create_key(days=20)
    theirs = job.vault.create_key(days=20, sub=OTHER_SUB, email=OTHER_EMAIL)
    assert counts(job.run(datetime.now(UTC))) == (2, 0, 0)
    by_recipient = {m.destinations["ToAddresses"][0]: m for m in job.mails()}
    assert (
        mine["access_key"] in by_recipient[EMAIL].body
        and theirs["access_key"] not in by_recipient[EMAIL].body
    )
    assert theirs["access_key"] in by_recipient[OTHER_EMAIL].body


def grace_subscription(until: datetime) -> None:
    from subscriptions.dal.store import SubscriptionStore
    from subscriptions.models import GRACE, Subscription

    sub = Subscription(
        customer_id=SUB,
        email=EMAIL,
        aws_account_id="111122223333",
        product_code="exampleprod1234567890",
        status=GRACE,
        license_arn="arn:aws:license-manager::444455556666:license:l-0123456789abcdef0123456789abcdef",
        grace_until=until,
    )
    SubscriptionStore(DATA_TABLE).link(sub, None, now=until - timedelta(days=10))


def test_grace_notice_once_and_not_after_grace(job: Job) -> None:
    now = datetime(2026, 4, 2, 6, 0, tzinfo=UTC)
    grace_subscription(datetime(2026, 4, 11, 9, 0, 5, tzinfo=UTC))
    summary = job.run(now)
    assert summary["by_kind"] == {"grace": {"sent": 1, "skipped": 0, "failed": 0}}
    assert counts(job.run(now + timedelta(days=1))) == (0, 1, 0)
    assert counts(job.run(datetime(2026, 4, 12, tzinfo=UTC))) == (0, 0, 0)  # grace over: inactive
    (mail,) = job.mails()
    assert mail.destinations["ToAddresses"] == [EMAIL]
    assert "2026-04-11 09:00 UTC" in mail.subject and "111122223333" in mail.body
    assert [r["pk"] for r in job.records()] == [f"NOTICE#{SUB}#GRACE#2026-04-11T09:00:05Z"]


def test_a_run_during_another_runs_send_does_not_send_again(
    job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record is claimed before the email goes out: a concurrent run sees it and skips."""
    from notices.dal.mailer import Mailer

    job.vault.create_key(days=20)
    now = datetime.now(UTC)
    original = Mailer.send
    nested: list[dict] = []

    def send_while_another_run_starts(self: Mailer, to: str, subject: str, text: str) -> str:
        if not nested:
            nested.append(job.run(now))
        return original(self, to, subject, text)

    monkeypatch.setattr(Mailer, "send", send_while_another_run_starts)
    assert counts(job.run(now)) == (1, 0, 0)
    assert counts(nested[0]) == (0, 1, 0)
    assert len(job.mails()) == 1


def test_concurrent_runs_send_each_notice_once(job: Job, atomic_dynamodb: None) -> None:
    """Three runs at once send each notice once: the notice records' conditional writes decide.

    Each thread runs the job's logic with its own sources, as each concurrent invocation runs in
    its own execution environment (AWS docs: "Understanding Lambda function scaling",
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html). Threads running the
    handler itself would share what one process holds once, Powertools' metric set: one run's
    flush would publish another's counts and the other would flush none ("No application metrics
    to publish"), a mix Lambda never makes. The handler's own path (event, clock, metrics) is
    what every other test here runs."""
    from concurrent.futures import ThreadPoolExecutor

    from notices.handlers.job import sources
    from notices.logic.notices import run_notices
    from shared.config import get_config

    for _ in range(3):
        job.vault.create_key(days=20)
    now = datetime.now(UTC)
    config = get_config()

    def run(_: int) -> dict:
        return run_notices(sources(), now, product=config.product_name, page_url=config.developer_page_url)

    with ThreadPoolExecutor(max_workers=3) as pool:
        summaries = list(pool.map(run, range(3)))
    assert sum(s["sent"] for s in summaries) == 3
    assert sum(s["skipped"] for s in summaries) == 6
    assert len(job.mails()) == 3


def test_failed_send_is_retried_by_the_next_run(job: Job, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.config import get_config

    job.vault.create_key(days=20)
    now = datetime.now(UTC)
    monkeypatch.setenv("VS_NOTICES_SENDER", "unverified@elsewhere.example")
    get_config.cache_clear()
    assert counts(job.run(now)) == (0, 0, 1)  # SES: MessageRejected (sender not verified)
    assert job.records() == [] and job.mails() == []
    monkeypatch.setenv("VS_NOTICES_SENDER", SENDER)
    get_config.cache_clear()
    assert counts(job.run(now)) == (1, 0, 0)
    assert len(job.mails()) == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_missing_sender_configuration_fails_loudly(job: Job, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.config import get_config

    monkeypatch.delenv("VS_NOTICES_SENDER")
    get_config.cache_clear()
    with pytest.raises(RuntimeError, match="VS_NOTICES_SENDER"):
        job.run(datetime.now(UTC))


def test_notices_go_to_the_teams_owner_and_admins(job: Job) -> None:
    """A key made by a developer of a team: its notice goes to the owner and the admins, once."""
    from boto3.dynamodb.types import TypeSerializer

    from teams.dal.team_store import TeamStore, membership_item
    from teams.models import Membership

    joined = datetime(2026, 11, 1, tzinfo=UTC)
    TeamStore(DATA_TABLE).create_team_of_one(Membership(SUB, SUB, "owner", EMAIL, joined))
    serializer = TypeSerializer()
    for sub, email, role in (
        ("a0000000-0000-4000-8000-00000000000a", "admin@example.com", "admin"),
        (OTHER_SUB, OTHER_EMAIL, "developer"),
        ("e0000000-0000-4000-8000-00000000000e", "viewer@example.com", "viewer"),
    ):
        item = membership_item(Membership(sub, SUB, role, email, joined + timedelta(days=1)))
        job.vault.ddb.put_item(
            TableName=DATA_TABLE, Item={k: serializer.serialize(v) for k, v in item.items()}
        )
    # made by the developer for the team (the developer API keys it by the team id)
    job.vault.create_key(sub=SUB, email=OTHER_EMAIL, days=40, label="dev key")
    key_at = parse(job.vault.key_items()[0]["expires_at"]) - timedelta(days=30) + timedelta(hours=1)
    assert counts(job.run(key_at)) == (1, 0, 0)
    assert counts(job.run(key_at)) == (0, 1, 0), "never twice"
    (mail,) = job.mails()
    assert mail.destinations["ToAddresses"] == [EMAIL, "admin@example.com"]
