"""Hourly usage reporter: drains the customer's usage queue and reports it to the vendor, signed.

Lambda handler `reporter.handler` (this package's `handler`), run by an EventBridge schedule (rate
1 hour). Standard library + boto3 only: the artifact is this package with `vendor_client.py` (the
customer side's one client for the vendor) and `signing.py` (runtime/shared/signing.py) beside
it at the zip's root.

The modules, one job each: `config` (environment, key, time budget), `records` (messages →
records with deterministic ids; the window), `sending` (batches POSTed through the vendor client
and the replies applied), `usage_queue` (drain and settle the queue), `report` (one run and the
handler), `common` (log lines and errors without secrets).

One run:
1. Receive (10 a call) until the queue is empty, MAX_RECEIVE_ROUNDS is reached, or the time guard
   stops it: less than RECEIVE_RESERVE_S plus the estimated clean-up time (deletes, checkpoints)
   would remain. Each receive hides its messages for the rest of the run + 60 s, so they cannot
   reappear while this run still owns them, and are back soon after a crash.
2. Aggregate per dimension and UTC hour. Event messages are deduplicated by event_id (a sender
   retry may enqueue one event twice). Each aggregate gets a deterministic record id:
       "u1-" + sha256(json [dimension, hour, sorted event_ids])[:32 hex]
   so a new set of events (messages of the same hour that arrive in a later run) never collides
   with an earlier aggregate, and the same set always gives the same id.
3. Give up what the vendor can no longer accept: a record whose hour started USAGE_WINDOW_HOURS
   or more ago (the vendor's acceptance window, set by the template from cdk.json
   metering.usage_window_hours) is not sent; it goes to the dead-letter queue (below).
4. POST {VENDOR_API_URL}/v1/usage, oldest hours first, in batches of <= 500 records and <= 64 KiB
   of body (500 records with long dimension names would exceed the limit), signed per attempt.
   Network errors, 5xx and 429 (a flood, a throttle) are retried by the vendor client with
   full-jitter exponential backoff, Retry-After honoured, for as long as the run's time allows
   (sending.MAX_ATTEMPTS is only a safety cap); what is still unsent then is checkpointed and
   the next runs go on trying until the window closes. A reply that does not follow §4.2 ends
   the sending for this run. Another 4xx is logged; after 401/402/403 no further batch is tried
   either.
5. Settle. Acknowledged records (accepted or duplicate) have their messages deleted. Records the
   vendor rejected (too old, unknown dimension, hour full, ...: a retry cannot change the answer;
   each is logged at ERROR as usage_record_rejected), records past the window (logged at ERROR as
   usage_record_expired) and messages that are not usage go to the dead-letter queue
   (DEAD_LETTER_QUEUE_URL: records in the checkpoint format, so a redrive to the source queue
   replays them; the reason in message attributes), whose depth alarm tells the customer; only
   then are their messages deleted, so nothing is dropped silently. A record that was not acknowledged is
   *checkpointed*: its record (with its id) is enqueued as one message, and only then are the event
   messages it covers deleted. The next run re-sends that exact id, so a run whose request reached
   the vendor but whose reply was lost costs a duplicate, never a second charge, even when the next
   run receives a different set of event messages (SQS gives no such guarantee). It also compacts
   the backlog during a vendor outage: thousands of events become one message per (dimension,
   hour, run). Checkpoint messages that stay unacknowledged are simply left on the queue; each run
   receives them once, so the queue's maxReceiveCount moves them to the DLQ after that many runs.
   Messages that are not valid usage (not JSON, bad fields) are left alone and reach the DLQ the
   same way. Whatever this run could not settle is released at the end (visibility 0): the run's
   claim ends with the run, so a re-run after the vendor is back sees those messages at once.

Overlapping runs (an EventBridge event delivered twice, an async retry, a manual invoke: the
function has no reserved concurrency, see constructs/usage_reporting.py) are safe: a run owns
every message it received for its whole remaining time + 60 s (the receive's visibility timeout),
so two runs never aggregate the same message; each aggregate's id is deterministic and idempotent
at the vendor, and a checkpoint that a concurrent run picks up is re-sent under its own id (a
duplicate at worst). Two runs may each send part of one hour: two records that add up.

Residual risks (stated, not hidden): if the run dies between the vendor's acknowledgement and the
deletes (or between a checkpoint and its deletes), the event messages reappear and may be
aggregated into a different set, hence a different id. The time guard keeps time for this phase.
One event enqueued twice (a recorder retry after a lost SQS reply, or SQS's at-least-once
delivery) is counted once when both copies reach the same run; copies that reach two different
runs (more likely when runs overlap) are counted twice.

Env: USAGE_QUEUE_URL, DEAD_LETTER_QUEUE_URL, VENDOR_API_URL (the license API base URL, stage
included), SECRET_ARN (SecretString {"access_key", "secret_key"}), USAGE_WINDOW_HOURS (the
vendor's acceptance window); optional MAX_RECEIVE_ROUNDS (default 10000), RECEIVE_WAIT_SECONDS
(long polling, default 1). IAM: sqs:ReceiveMessage, sqs:DeleteMessage, sqs:SendMessage,
sqs:ChangeMessageVisibility on the queue; sqs:SendMessage on the dead-letter queue;
secretsmanager:GetSecretValue on the secret. The secret key and the Authorization header are
never logged.
"""

from .common import ReporterError
from .config import load_config
from .report import handler, run

__all__ = ["ReporterError", "handler", "load_config", "run"]
