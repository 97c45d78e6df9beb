"""One BatchMeterUsage batch, with bounded exponential backoff.

The DAL (`metering.dal.marketplace`) has already sorted every SDK error into `Retry` or
`BatchRejected`; this module decides what to do with them and holds no I/O of its own.
- `Retry` (throttling, Marketplace's internal errors, transport failures) is retried: resending
  the identical records is safe because Marketplace deduplicates on customer, dimension and hour.
- `UnprocessedRecords` are sent again, alone.
- `BatchRejected` (a refusal of the whole request, or botocore's client-side
  `ParamValidationError` as code `PARAM_VALIDATION`) is not retried: the caller isolates it, and
  the job flags `PARAM_VALIDATION` records and counts them for an alarm.
- After `max_attempts` calls, what is still unanswered is returned as `left`; it stays
  `pending` and the next run sends it again.
- Throttling backs off the whole pool: the job's workers share one `PoolGate`. A throttled call
  closes the gate for a jittered, growing delay, and every worker waits at the gate before its
  next call, so the run slows down as a whole instead of each worker hammering on alone. A
  successful call resets the growth. (AWS docs: "Retry behavior", AWS SDKs and Tools Reference
  Guide, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html: back off
  on throttling errors, with jitter.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from metering.dal.marketplace import Retry
from metering.logic.plan import record_key
from shared.backoff import equal_jitter

SUCCESS = "Success"
DUPLICATE_RECORD = "DuplicateRecord"
CUSTOMER_NOT_SUBSCRIBED = "CustomerNotSubscribed"


@dataclass(frozen=True)
class Backoff:
    max_attempts: int = 6
    base_seconds: float = 0.2
    cap_seconds: float = 5.0

    def delay(self, retry: int) -> float:
        """Exponential with 'equal jitter' (`shared.backoff`); `retry` counts from 1."""
        return equal_jitter(retry - 1, base=self.base_seconds, cap=self.cap_seconds)


class PoolGate:
    """One backoff shared by every worker of a run (see the module docstring)."""

    def __init__(
        self,
        backoff: Backoff,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._open_at = 0.0
        self._streak = 0

    def wait(self) -> None:
        """Before a call: sleep until the gate opens (once; a later throttle closes it again)."""
        with self._lock:
            delay = self._open_at - self._clock()
        if delay > 0:
            self._sleep(delay)

    def throttled(self) -> None:
        with self._lock:
            self._streak += 1
            self._open_at = max(self._open_at, self._clock() + self._backoff.delay(self._streak))

    def succeeded(self) -> None:
        with self._lock:
            self._streak = 0


@dataclass(frozen=True)
class Outcome:
    status: str
    metering_record_id: str | None = None


@dataclass
class Submitted:
    outcomes: dict[tuple, Outcome] = field(default_factory=dict)
    left: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    retries: int = 0
    throttled: int = 0


def submit_batch(
    call: Callable[[list[dict[str, Any]]], dict[str, Any]],
    records: list[dict[str, Any]],
    *,
    backoff: Backoff,
    sleep: Callable[[float], None],
    gate: PoolGate | None = None,
) -> Submitted:
    """`call(records)` performs one BatchMeterUsage request and returns its response. With a
    `gate`, a throttle backs off every worker sharing it, and the gate's wait replaces this
    batch's own sleep before the retry."""
    done = Submitted()
    remaining = list(records)
    pooled_wait = False  # the last failure was a throttle already waited for at the gate
    while remaining:
        if done.calls >= backoff.max_attempts:
            done.left = remaining
            return done
        if done.calls:
            done.retries += 1
            if not pooled_wait:
                sleep(backoff.delay(done.retries))
        if gate is not None:
            gate.wait()
        pooled_wait = False
        done.calls += 1
        try:
            answer = call(remaining)
        except Retry as retry:
            done.throttled += retry.throttle
            if retry.throttle and gate is not None:
                gate.throttled()
                pooled_wait = True
            continue
        if gate is not None:
            gate.succeeded()
        for result in answer.get("Results", []):
            done.outcomes[record_key(result["UsageRecord"])] = Outcome(
                status=result["Status"], metering_record_id=result.get("MeteringRecordId")
            )
        # Whatever has no result yet is sent again, whether Marketplace listed it as unprocessed or
        # (against its documentation) left it out of both lists.
        remaining = [r for r in remaining if record_key(r) not in done.outcomes]
    return done
