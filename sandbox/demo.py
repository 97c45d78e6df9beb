"""`make demo`: the whole story, in both roles, against the sandbox: the vendor publishes; a buyer
subscribes, signs up, creates a key and launches the stack in their (emulated) AWS account; the
solution serves SigV4-signed calls; the reporter reports and the metering job bills; the vendor
publishes a new version and the buyer updates to it; the buyer cancels (grace, the final usage
billed, a relaunch refused with 402); the stack is deleted. One line per step, nothing secret
printed, a summary table at the end.

Each step is a function of the shared `Story` registered in `STEPS`, so a new step (a Quick Launch
path, license tokens) is one more function in the list.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox.client import PlatformClient
from sandbox.server import Sandbox

VENDOR_STACK = "VendstackVendorPlatform"
ACCOUNT = "111122223333"
EMAIL, PASSWORD = "buyer@example.com", "Demo-Passw0rd!"
GRACE_LEFT_S = 30  # the cancellation is dated so that the grace period ends this long after it


class DemoFailed(RuntimeError):
    """A step did not get what the story needs; the demo stops there and says why."""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Story:
    sandbox: Sandbox
    api: PlatformClient
    product: str
    started: float = field(default_factory=time.monotonic)
    facts: dict[str, Any] = field(default_factory=dict)
    summary: list[tuple[str, str, str]] = field(default_factory=list)  # (role, what, result)

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Any:
        status, answer = self.api.call(method, path, body, headers=headers)
        return status, answer

    def expect(self, status: int, wanted: int | tuple[int, ...], answer: Any, doing: str) -> Any:
        if status not in (wanted if isinstance(wanted, tuple) else (wanted,)):
            message = (answer or {}).get("error", {}).get("message") if isinstance(answer, dict) else answer
            raise DemoFailed(f"{doing}: HTTP {status} {str(message)[:200]}")
        return answer

    def line(self, role: str, what: str, result: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {role:<6} {what}: {result}", flush=True)
        self.summary.append((role, what, result))

    def solution(self, path: str, body: dict, *, sign: bool = True) -> tuple[int, Any]:
        """A call to the buyer's solution API, SigV4-signed (service execute-api) with the stack's
        credentials, as an IAM caller in the buyer's account would sign it."""
        url = self.facts["stack"]["outputs"]["SolutionApiUrl"] + path.lstrip("/")
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if sign:
            creds = self.facts["stack"]["credentials"]
            request = AWSRequest("POST", url, data=data, headers=headers)
            SigV4Auth(
                Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]),
                "execute-api",
                "us-east-1",
            ).add_auth(request)
            headers = dict(request.headers.items())
        sent = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(sent, timeout=60) as response:  # noqa: S310 - 127.0.0.1 only
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def vendor_publishes(story: Story) -> None:
    release = story.sandbox.release["release"]
    names = ", ".join(a["name"] for a in release["artifacts"])
    story.line("vendor", "publishes", f"{story.product} {release['version']} ({names}; {release['signing']})")


def buyer_subscribes(story: Story) -> None:
    status, made = story.call("POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": ACCOUNT})
    made = story.expect(status, 201, made, "subscribing")
    story.facts["registration_token"] = made["registration_token"]
    story.line(
        "buyer",
        "subscribes in AWS Marketplace",
        f"account {ACCOUNT}, license {made['license_arn'].rsplit(':', 1)[-1]}",
    )


def buyer_signs_up(story: Story) -> None:
    status, answer = story.call("POST", "/_sandbox/users", {"email": EMAIL, "password": PASSWORD})
    story.expect(status, 201, answer, "signing up")
    status, tokens = story.call("POST", "/_sandbox/tokens", {"email": EMAIL, "password": PASSWORD})
    tokens = story.expect(status, 200, tokens, "signing in")
    story.facts["bearer"] = {"Authorization": f"Bearer {tokens['id_token']}"}
    body = {"registration_token": story.facts.pop("registration_token")}
    status, linked = story.call("POST", "/v1/marketplace/registrations", body, story.facts["bearer"])
    linked = story.expect(status, 200, linked, "registering the subscription")
    story.line("buyer", "signs up and registers", f"{EMAIL}, subscription {linked['status']}")


def quick_launch_prepared(story: Story) -> None:
    """AWS Marketplace Quick Launch: the agreement event, the vendor's Quick Launch job, and what
    Quick Launch would fill into the template (references to secrets, never a key's value)."""
    # The agreement event is dated before the cancellation the story sends later (which is dated
    # so that the grace period ends seconds from now): an event older than the last applied one
    # never changes a subscription, as with AWS's own out-of-order deliveries.
    grace_days = int(story.sandbox._product()["grace_days"])
    created_at = datetime.now(UTC) - timedelta(days=grace_days, minutes=10)
    status, answer = story.call("POST", "/_sandbox/jobs/notices", {"now": iso(created_at)})
    story.expect(status, 200, answer, "setting the clock")
    event = {"type": "purchase-agreement-created", "aws_account_id": ACCOUNT}
    status, answer = story.call("POST", "/_sandbox/marketplace/events", event)
    story.expect(status, 200, answer, "delivering the agreement event")
    soon = iso(datetime.now(UTC) + timedelta(minutes=1))
    status, answer = story.call("POST", "/_sandbox/jobs/quicklaunch", {"now": soon})
    story.expect(status, 200, answer, "running the Quick Launch job")
    status, filled = story.call("POST", "/_sandbox/marketplace/quick-launch", {"aws_account_id": ACCOUNT})
    filled = story.expect(status, (200, 404), filled, "reading the Quick Launch parameters")
    names = sorted((filled or {}).get("parameters", {}) if status == 200 else [])
    story.facts["quick_launch"] = (filled or {}).get("parameters", {}) if status == 200 else {}
    story.line(
        "vendor", "prepares Quick Launch", f"parameters {', '.join(names) or 'none'} (secret references)"
    )


def buyer_quick_launches(story: Story) -> None:
    """Quick Launch: a stack launched with only what Quick Launch fills in (a reference to the
    deployment key's secret in the buyer's account): no key created by hand, none pasted. It is
    deleted again so the rest of the story runs as before."""
    parameters = story.facts.get("quick_launch") or {}
    if not parameters:
        raise DemoFailed("Quick Launch: the vendor delivered no deployment parameter")
    began = time.monotonic()
    body = {"aws_account_id": ACCOUNT, "parameters": parameters}
    status, stack = story.call("POST", "/_sandbox/customer/stacks", body)
    stack = story.expect(status, 201, stack, "launching through Quick Launch")
    if stack["status"] != "CREATE_COMPLETE":
        raise DemoFailed(f"launching through Quick Launch: {stack['status']}: {stack['reason']}")
    story.line(
        "buyer",
        "Quick Launch: launches, no key pasted",
        f"{stack['stack_name']} {stack['status']} in {time.monotonic() - began:.1f} s "
        f"(parameters: {', '.join(sorted(parameters))})",
    )
    status, answer = story.call("DELETE", f"/_sandbox/customer/stacks/{stack['stack_name']}")
    story.expect(status, 200, answer, "deleting the Quick Launch stack")


def buyer_creates_key(story: Story) -> None:
    body = {"label": "production stack", "expires_at": iso(datetime.now(UTC) + timedelta(days=90))}
    status, key = story.call("POST", "/v1/keys", body, story.facts["bearer"])
    key = story.expect(status, 201, key, "creating a key")
    story.facts["key"] = key
    story.line("buyer", "creates an API key", f"{key['access_key']} (secret shown once, not printed)")


def _launch(story: Story) -> dict:
    key = story.facts["key"]
    body = {
        "aws_account_id": ACCOUNT,
        "parameters": {"AccessKey": key["access_key"], "SecretKey": key["secret_key"]},
    }
    status, stack = story.call("POST", "/_sandbox/customer/stacks", body)
    return story.expect(status, 201, stack, "launching the stack")


def buyer_launches(story: Story) -> None:
    began = time.monotonic()
    stack = _launch(story)
    if stack["status"] != "CREATE_COMPLETE":
        raise DemoFailed(f"launching the stack: {stack['status']}: {stack['reason']}")
    story.facts["stack"] = stack
    story.line(
        "buyer",
        "launches the stack",
        f"{stack['stack_name']} {stack['status']} in {time.monotonic() - began:.1f} s, "
        f"release {stack['version']}",
    )


def solution_serves(story: Story) -> None:
    status, answer = story.solution("/analyze", {"text": "Good service, great results. Fast and friendly."})
    story.expect(status, 200, answer, "calling the solution")
    unsigned, _ = story.solution("/analyze", {"text": "x"}, sign=False)
    story.line(
        "buyer",
        "calls the solution (SigV4)",
        f"200 {answer['words']} words, {answer['sentiment']['label']}; unsigned call → {unsigned}",
    )
    story.facts["usage_hour"] = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _report(story: Story) -> dict:
    name = story.facts["stack"]["stack_name"]
    status, summary = story.call("POST", f"/_sandbox/customer/stacks/{name}/jobs/usage-reporter", {})
    return story.expect(status, 200, summary, "running the usage reporter")


def _meter(story: Story, hour: datetime) -> list[dict]:
    before = len(story.call("GET", "/_sandbox/marketplace/metered")[1]["records"])
    status, answer = story.call(
        "POST", "/_sandbox/jobs/metering", {"now": iso(hour + timedelta(hours=4, minutes=5))}
    )
    story.expect(status, 200, answer, "running the metering job")
    return story.call("GET", "/_sandbox/marketplace/metered")[1]["records"][before:]


def _billed(records: list[dict]) -> str:
    return ", ".join(f"{r['dimension']} {r['quantity']} ({r['status']})" for r in records) or "nothing"


def reporter_reports_and_vendor_bills(story: Story) -> None:
    summary = _report(story)
    story.line("buyer", "usage reporter runs", f"{summary['accepted']} records accepted by the vendor")
    records = _meter(story, story.facts["usage_hour"])
    story.line("vendor", "metering job (BatchMeterUsage)", _billed(records))


def vendor_publishes_new_version(story: Story) -> None:
    version = story.sandbox.release["release"]["version"].rsplit(".", 1)
    new = f"{version[0]}.{int(version[1]) + 1}"
    status, release = story.call("POST", "/_sandbox/releases", {"version": new})
    release = story.expect(status, 201, release, "publishing a new version")
    story.line("vendor", "publishes a new version", f"{story.product} {release['version']}")
    name = story.facts["stack"]["stack_name"]
    status, stack = story.call("PUT", f"/_sandbox/customer/stacks/{name}", {"template": "current"})
    stack = story.expect(status, 200, stack, "updating the stack")
    if stack["status"] != "UPDATE_COMPLETE":
        raise DemoFailed(f"updating the stack: {stack['status']}: {stack['reason']}")
    story.facts["stack"] = stack
    status, answer = story.solution("/analyze", {"text": "Served by the new release."})
    story.expect(status, 200, answer, "calling the updated solution")
    story.line(
        "buyer", "updates the stack", f"{stack['status']}, release {stack['version']}, serves: {status}"
    )


def buyer_cancels(story: Story) -> None:
    # The agreement ends at a clock time chosen so that the grace period (grace_days) ends
    # GRACE_LEFT_S from now: the demo shows grace, then its end, without waiting days.
    grace_days = int(story.sandbox._product()["grace_days"])
    ended_at = datetime.now(UTC) - timedelta(days=grace_days) + timedelta(seconds=GRACE_LEFT_S)
    status, answer = story.call("POST", "/_sandbox/jobs/notices", {"now": iso(ended_at)})
    story.expect(status, 200, answer, "setting the clock")
    status, answer = story.call(
        "POST",
        "/_sandbox/marketplace/events",
        {"type": "purchase-agreement-ended", "aws_account_id": ACCOUNT},
    )
    story.expect(status, 200, answer, "delivering the cancellation")
    status, sub = story.call("GET", "/v1/subscription", headers=story.facts["bearer"])
    sub = story.expect(status, 200, sub, "reading the subscription")
    story.facts["grace_until"] = sub.get("grace_until")
    story.line(
        "buyer", "cancels in AWS Marketplace", f"subscription {sub['status']} until {sub.get('grace_until')}"
    )
    status, _ = story.solution("/analyze", {"text": "Still working in grace, one last time."})
    summary = _report(story)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    records = _meter(story, hour)
    story.line(
        "vendor",
        "bills the final usage",
        f"served {status}, {summary['accepted']} reported, {_billed(records)}"
        + (f" ({summary['rejected']} refused)" if summary.get("rejected") else ""),
    )
    until = datetime.fromisoformat(str(story.facts["grace_until"]).replace("Z", "+00:00"))
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds() + 1))
    relaunch = _launch(story)
    refused = "402" in relaunch["reason"]
    story.line(
        "buyer",
        "relaunches after the grace period",
        f"{relaunch['status']} ({'the vendor answered 402' if refused else relaunch['reason'][:120]})",
    )
    story.facts["relaunch"] = relaunch
    story.call("POST", "/_sandbox/jobs/notices", {"now": iso(datetime.now(UTC))})  # the clock back to now


def buyer_deletes(story: Story) -> None:
    for key in ("relaunch", "stack"):
        name = story.facts[key]["stack_name"]
        status, answer = story.call("DELETE", f"/_sandbox/customer/stacks/{name}")
        answer = story.expect(status, 200, answer, "deleting the stack")
        story.line("buyer", f"deletes {name}", answer["status"])


STEPS: list[Callable[[Story], None]] = [
    vendor_publishes,
    buyer_subscribes,
    buyer_signs_up,
    quick_launch_prepared,
    buyer_quick_launches,
    buyer_creates_key,
    buyer_launches,
    solution_serves,
    reporter_reports_and_vendor_bills,
    vendor_publishes_new_version,
    buyer_cancels,
    buyer_deletes,
]


def print_summary(story: Story) -> None:
    width = max(len(what) for _, what, _ in story.summary)
    print("\nSummary")
    print(f"  {'role':<6}  {'step':<{width}}  result")
    for role, what, result in story.summary:
        print(f"  {role:<6}  {what:<{width}}  {result[:90]}")


def main() -> int:
    started = time.monotonic()
    state = Path(tempfile.mkdtemp(prefix="vendstack-demo-"))
    with (state / "sandbox.log").open("w", buffering=1) as log:
        sandbox = Sandbox(Path("cdk.out"), VENDOR_STACK, Path("dist/customer.template.json"), state, log)
        try:
            endpoints = sandbox.start(progress=lambda m: print(f"sandbox: {m}", flush=True))
            print(f"sandbox: ready in {time.monotonic() - started:.1f} s\n", flush=True)
            story = Story(
                sandbox, PlatformClient(endpoints["api_url"], timeout=300), sandbox.releases.product
            )
            for step in STEPS:
                step(story)
            print_summary(story)
        except DemoFailed as exc:
            print(f"\ndemo stopped: {exc}", flush=True)
            return 1
        finally:
            sandbox.stop()
    print(f"\ndemo done in {time.monotonic() - started:.1f} s; the sandbox's log: {state / 'sandbox.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
