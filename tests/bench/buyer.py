"""The buyer's side (`make bench` imports this module and calls `run(row)`):

(a) the time from a launch request (`POST /_sandbox/customer/stacks`) to its answer with
    `CREATE_COMPLETE`, in the sandbox booted in this process from `cdk.out/` (after `make synth`):
    the CloudFormation stand-in creates ~30 resources, runs the activation custom resource (vendor
    call, manifest check, staging) and creates the functions from the staged code. Several launches
    in a row, each by a new buyer; the first also pays for starting the vendor's license worker.
(b) `make demo` on a warm checkout (set-up done): the whole story, synth included, in a subprocess.

Standalone: `.venv/bin/python -m tests.bench.buyer [launches]` (after `make synth`).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "Bench-Passw0rd!"


def _buyer(api) -> dict:  # noqa: ANN001 - sandbox.client.PlatformClient
    account = f"{uuid.uuid4().int % 10**12:012d}"
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    api.call("POST", "/_sandbox/users", {"email": email, "password": PASSWORD})
    token = api.call("POST", "/_sandbox/tokens", {"email": email, "password": PASSWORD})[1]["id_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    key = api.call("POST", "/v1/keys", {"label": "bench", "expires_at": expires}, headers=bearer)[1]
    made = api.call("POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": account})[1]
    api.call(
        "POST",
        "/v1/marketplace/registrations",
        {"registration_token": made["registration_token"]},
        headers=bearer,
    )
    return {"account": account, "key": key}


def bench_launch(row: Callable[[str, str, str], None], launches: int = 3) -> None:
    from sandbox.client import PlatformClient
    from sandbox.server import Sandbox

    print("customer stack: launch request → CREATE_COMPLETE (sandbox in this process)")
    state = Path(tempfile.mkdtemp(prefix="vendstack-bench-"))
    with (state / "sandbox.log").open("w", buffering=1) as log:
        sandbox = Sandbox(
            ROOT / "cdk.out", "VendstackVendorPlatform", ROOT / "dist" / "customer.template.json", state, log
        )
        try:
            endpoints = sandbox.start()
            api = PlatformClient(endpoints["api_url"], timeout=600)
            times = []
            for _ in range(launches):
                who = _buyer(api)
                body = {
                    "aws_account_id": who["account"],
                    "parameters": {
                        "AccessKey": who["key"]["access_key"],
                        "SecretKey": who["key"]["secret_key"],
                    },
                }
                start = time.perf_counter()
                status, stack = api.call("POST", "/_sandbox/customer/stacks", body)
                times.append(time.perf_counter() - start)
                if status != 201 or stack["status"] != "CREATE_COMPLETE":
                    row("launch → CREATE_COMPLETE", f"failed: {status} {stack.get('status')}", "reported")
                    return
        finally:
            sandbox.stop()
    each = ", ".join(f"{t:.1f}" for t in times)
    row(
        "launch → CREATE_COMPLETE, median of launches",
        f"{statistics.median(times):.1f} s ({each})",
        "reported",
    )


def bench_demo(row: Callable[[str, str, str], None]) -> None:
    print("make demo on a warm checkout (set-up done; synth included)")
    start = time.perf_counter()
    done = subprocess.run(["make", "demo"], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S607
    took = time.perf_counter() - start
    row("make demo", f"{took:.0f} s" if done.returncode == 0 else f"failed after {took:.0f} s", "reported")


def run(row: Callable[[str, str, str], None]) -> None:
    print()
    bench_launch(row)
    print()
    bench_demo(row)


if __name__ == "__main__":

    def _row(name: str, value: str, target: str) -> None:
        print(f"  {name:<58} {value:>22}   target {target}")

    bench_launch(_row, launches=int(sys.argv[1]) if len(sys.argv) > 1 else 3)
