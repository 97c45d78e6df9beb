"""PutEvents to the lifecycle bus, at most 10 entries a call (AWS docs: "PutEvents", Amazon
EventBridge API Reference: 1-10 entries per request; `FailedEntryCount` names entries that were
not accepted, which are sent again). What still fails raises, so the stream batch is retried."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from events.logic.translate import SOURCE, LifecycleEvent
from shared.aws import client

MAX_ENTRIES = 10
_ATTEMPTS = 3


class PublishFailed(Exception):
    """Some events were not accepted by EventBridge; the batch is retried by the event source."""


class LifecycleBus:
    def __init__(self, bus_name: str, *, events_client: Any = None) -> None:
        self._bus = bus_name
        self._events = events_client

    @property
    def _client(self) -> Any:
        return self._events or client("events")

    def publish(self, events: list[LifecycleEvent]) -> int:
        for start in range(0, len(events), MAX_ENTRIES):
            entries = [
                {
                    "EventBusName": self._bus,
                    "Source": SOURCE,
                    "DetailType": event.detail_type,
                    "Detail": json.dumps(event.detail, separators=(",", ":"), sort_keys=True),
                    "Resources": [],
                }
                for event in events[start : start + MAX_ENTRIES]
            ]
            for _ in range(_ATTEMPTS):
                try:
                    answer = self._client.put_events(Entries=entries)
                except (ClientError, BotoCoreError) as exc:
                    raise PublishFailed("EventBridge is unavailable") from exc
                results = answer.get("Entries", [])
                entries = [
                    entry for entry, result in zip(entries, results, strict=False) if result.get("ErrorCode")
                ]
                if not answer.get("FailedEntryCount") or not entries:
                    break
            else:
                raise PublishFailed(f"{len(entries)} events not accepted by EventBridge")
        return len(events)
