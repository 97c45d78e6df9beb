"""Threads that ask for a client at the same time get one client, made once, and boto3's default
session is never entered by two threads at once (`shared.aws.made_once`, `shared.aws.new_client`).

boto3 is replaced by a stand-in whose `client` takes a while and records who is inside it, so the
race the lock closes happens on every run: without the lock, each of the eight threads below
misses the cache and makes a client of its own.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from typing import Any

import pytest

THREADS = 8


class SlowBoto3(types.ModuleType):
    """`boto3.client` that takes 20 ms, counts its calls and the most threads inside it at once."""

    def __init__(self) -> None:
        super().__init__("boto3")
        self.made: list[tuple[str, Any]] = []
        self.inside = 0
        self.most_inside = 0
        self._count = threading.Lock()

    def client(self, service: str, **options: Any) -> Any:
        with self._count:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.02)
        made = FakeDynamoDB(service)
        with self._count:
            self.made.append((service, made))
            self.inside -= 1
        return made


class FakeDynamoDB:
    def __init__(self, service: str) -> None:
        self.service = service
        self.queries: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.queries.append(request)
        return {"Items": []}


@pytest.fixture
def boto3(monkeypatch) -> SlowBoto3:
    from shared import aws, observability

    fake = SlowBoto3()
    monkeypatch.setitem(sys.modules, "boto3", fake)
    monkeypatch.setattr(observability, "trace_sdk_calls", lambda: None)
    aws.client.cache_clear()
    yield fake
    aws.client.cache_clear()


def at_once(call: Any, count: int = THREADS) -> list[Any]:
    """`call()` in `count` threads released together; their answers."""
    start = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def run(index: int) -> None:
        start.wait()
        answers[index] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_threads_asking_at_once_share_one_client(boto3: SlowBoto3) -> None:
    from shared.aws import client

    answers = at_once(lambda: client("dynamodb"))

    assert len(boto3.made) == 1
    assert all(answer is answers[0] for answer in answers)
    assert client("dynamodb") is answers[0]


def test_no_two_clients_are_made_at_once_even_of_different_services(boto3: SlowBoto3) -> None:
    from shared.aws import new_client

    services = iter(["dynamodb", "s3", "sqs", "kms"] * 2)
    lock = threading.Lock()

    def next_service() -> Any:
        with lock:
            service = next(services)
        return new_client(service)

    at_once(next_service)

    assert len(boto3.made) == THREADS  # new_client makes a new one each time...
    assert boto3.most_inside == 1  # ...but never two inside boto3's default session at once


def test_a_client_already_made_is_returned_while_another_is_being_made(boto3: SlowBoto3, monkeypatch) -> None:
    """Only a miss takes the lock: a warm function's SDK calls never wait on a slow client."""
    from shared.aws import client

    dynamodb = client("dynamodb")
    inside, release = threading.Event(), threading.Event()
    slow = boto3.client

    def held(service: str, **options: Any) -> Any:
        inside.set()
        release.wait(5)
        return slow(service, **options)

    monkeypatch.setattr(boto3, "client", held)
    maker = threading.Thread(target=client, args=("s3",))
    maker.start()
    try:
        assert inside.wait(5)  # the s3 client is being made, under the lock
        answers: list[Any] = []
        reader = threading.Thread(target=lambda: answers.append(client("dynamodb")))
        reader.start()
        reader.join(1)
        assert answers == [dynamodb]  # answered while the lock was held
    finally:
        release.set()
        maker.join()
    assert [service for service, _ in boto3.made] == ["dynamodb", "s3"]


def test_cache_clear_still_starts_afresh(boto3: SlowBoto3) -> None:
    from shared.aws import client

    first = client("dynamodb")
    client.cache_clear()
    second = client("dynamodb")

    assert first is not second
    assert [service for service, _ in boto3.made] == ["dynamodb", "dynamodb"]


def test_the_metering_jobs_shards_on_a_cold_start_make_one_client(boto3: SlowBoto3) -> None:
    """The job's first read: eight shards in eight threads, each asking for the DynamoDB client."""
    from metering.dal.aggregates import MeterStore
    from usage.models import DUE_SHARDS

    store = MeterStore("usage", workers=DUE_SHARDS)

    assert store.due("2026-11-28T10:00:00Z") == []
    assert len(boto3.made) == 1
    (_, made) = boto3.made[0]
    assert len(made.queries) == DUE_SHARDS


def test_the_metering_client_is_made_once_for_the_jobs_threads(boto3: SlowBoto3) -> None:
    from metering.dal.marketplace import metering_client

    metering_client.cache_clear()
    try:
        answers = at_once(metering_client)
    finally:
        metering_client.cache_clear()

    assert [service for service, _ in boto3.made] == ["meteringmarketplace"]
    assert all(answer is answers[0] for answer in answers)
