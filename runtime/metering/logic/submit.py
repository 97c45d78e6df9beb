"""One BatchMeterUsage batch, with bounded exponential backoff.

- Throttling, Marketplace's internal errors and transport failures (a timeout may or may not
  have reached Marketplace) are retried: resending the identical records is safe because
  Marketplace deduplicates on customer, dimension and hour.
- `UnprocessedRecords` are sent again, alone.
- Any other error of the request as a whole (`InvalidLicenseException`,
  `TimestampOutOfBoundsException`, …) is `BatchRejected`: not retried, the caller isolates it.
- botocore's client-side `ParamValidationError` (its model refuses the request before it is
  sent: an SDK that lacks `LicenseArn`, or a record the model forbids) is a bug, not a transient
  error: `BatchRejected` with code `PARAM_VALIDATION`, never retried (it would fail identically
  forever); the job flags the records and counts them for an alarm.
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

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from metering.logic.plan import record_key
from shared.backoff import equal_jitter

SUCCESS = "Success"
DUPLICATE_RECORD = "DuplicateRecord"
CUSTOMER_NOT_SUBSCRIBED = "CustomerNotSubscribed"
PARAM_VALIDATION = "ParamValidationError"
RETRYABLE_ERRORS = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "InternalServiceErrorException",
    "ServiceUnavailableException",
    "InternalFailure",
    "RequestTimeout",
    "RequestTimeoutException",
}


class BatchRejected(Exception):
    """Marketplace refused the whole request (not a throttle, not a server error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


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
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in RETRYABLE_ERRORS or status >= 500 or status == 429:
                throttle = code.startswith("Throttl") or code == "TooManyRequestsException" or status == 429
                done.throttled += throttle
                if throttle and gate is not None:
                    gate.throttled()
                    pooled_wait = True
                continue
            raise BatchRejected(code or "Error", str(error.get("Message", ""))) from None
        except ParamValidationError as exc:  # a BotoCoreError, but never transient
            raise BatchRejected(PARAM_VALIDATION, str(exc)[:400]) from None
        except BotoCoreError:
            continue  # timeout or connection error: unknown outcome, the identical resend is safe
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
