"""`make bench`: the product's speed and memory targets, measured side by side in one run.

Each comparison alternates its two sides (A, B, A, B, …) and reports medians and their ratio,
so machine noise hits both alike. Nothing here is a pass/fail test; the targets are printed
next to what was measured.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
ENV = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PYTHONDONTWRITEBYTECODE": "1"}

WHOLE_APP = """
import json, sys, aws_cdk as cdk
from app import build_app
context = {**json.load(open("cdk.json"))["context"], "vendstack:sandbox": True}
app = cdk.App(context=context, outdir=sys.argv[1])
build_app(app).synth()
"""
MINIMAL_APP = """
import sys, aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
app = cdk.App(outdir=sys.argv[1])
stack = cdk.Stack(app, "Minimal")
key = dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
dynamodb.Table(stack, "Table", partition_key=key)
app.synth()
"""
IMPORT_TIMER = """
import importlib, sys, time
sys.path.insert(0, "runtime")
start, cpu = time.perf_counter(), time.process_time()
importlib.import_module(sys.argv[1])
print(time.perf_counter() - start, time.process_time() - cpu)
"""
HANDLERS = [  # every vendor Lambda function's handler module (constructs/ names them)
    "product.handlers.api",
    "apis.developer_api",
    "apis.signed_api",
    "admin.handlers.api",
    "subscriptions.handlers.events",
    "subscriptions.handlers.fulfillment",
    "metering.handlers.job",
    "notices.handlers.job",
    "quicklaunch.handlers.job",
    "activations.handlers.silence_job",
    "events.handlers.stream",
]


def timed_run(code: str, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([PY, "-c", code, *args], cwd=ROOT, env=ENV, check=True, capture_output=True)  # noqa: S603
    return time.perf_counter() - start


def alternate(rounds: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[list[float], list[float]]:
    first, second = [], []
    for _ in range(rounds):
        first.append(a())
        second.append(b())
    return first, second


def row(name: str, value: str, target: str) -> None:
    print(f"  {name:<58} {value:>22}   target {target}")


def bench_synth(rounds: int = 3) -> None:
    print("synth (whole app vs a minimal one-table CDK app, separate processes, alternating)")
    with tempfile.TemporaryDirectory() as tmp:
        whole, minimal = alternate(
            rounds,
            lambda: timed_run(WHOLE_APP, f"{tmp}/whole"),
            lambda: timed_run(MINIMAL_APP, f"{tmp}/minimal"),
        )
    w, m = statistics.median(whole), statistics.median(minimal)
    row("whole app synth (median s)", f"{w:.2f}", "")
    row("minimal app synth (median s)", f"{m:.2f}", "")
    row("ratio whole / minimal", f"{w / m:.2f}x", "<= 1.5x")


def bench_sandbox_start(rounds: int = 3) -> str | None:
    print("sandbox (python -m sandbox, from start to endpoints.json)")
    times, endpoint = [], None
    for _ in range(rounds):
        state = Path(tempfile.mkdtemp())
        start = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603
            [PY, "-m", "sandbox", "--state-dir", str(state)],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not (state / "endpoints.json").exists():
            if process.poll() is not None or time.perf_counter() - start > 120:
                raise SystemExit("sandbox did not start: run `make synth` first")
            time.sleep(0.02)
        times.append(time.perf_counter() - start)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    row("start to endpoints.json (median s)", f"{statistics.median(times):.2f}", "(reported)")
    return endpoint


def bench_verify(iterations: int = 20000) -> None:
    sys.path.insert(0, str(ROOT / "runtime"))
    from license.logic.verifier import verify_signature
    from shared.signing import sign_request

    print("VS1 verification in-process, secret cached, no storage calls")
    secret = "vsSK_" + "A" * 43
    now = datetime.now(UTC)
    cases = {
        "GET /v1/whoami": ("GET", "/v1/whoami", [], b""),
        "POST /v1/usage, 1 KiB body, 2 query pairs": (
            "POST",
            "/v1/usage",
            [("a", "1"), ("b", "x y")],
            b"x" * 1024,
        ),
    }
    for name, (method, path, query, body) in cases.items():
        headers = [
            sign_request("VSAKAAAAAAAAAAAAAAAA", secret, method, path, query, body, now=now)
            for _ in range(iterations)
        ]
        start = time.perf_counter()
        for h in headers:
            verify_signature(secret, method, path, query, body, h, now)
        rate = iterations / (time.perf_counter() - start)
        row(f"{name} (verifications/s)", f"{rate:,.0f}", ">= 20,000/s")


def bench_imports(rounds: int = 5) -> None:
    print("cold import of each handler module vs `import boto3` (fresh processes, alternating)")

    # As in Lambda: LAMBDA_TASK_ROOT makes the X-Ray SDK use its local sampler instead of
    # building an X-Ray client at import.
    lambda_env = {**ENV, "LAMBDA_TASK_ROOT": str(ROOT / "runtime"), "AWS_LAMBDA_FUNCTION_NAME": "bench"}

    def one(module: str) -> tuple[float, float]:
        out = subprocess.run(  # noqa: S603
            [PY, "-c", IMPORT_TIMER, module],
            cwd=ROOT,
            env=lambda_env,
            check=True,
            capture_output=True,
            text=True,
        )
        wall, cpu = out.stdout.split()
        return float(wall), float(cpu)

    # Wall time is what a cold start costs; CPU time (the import's process time) is the steadier
    # figure on a shared machine, where another process can take the core mid-import.
    for handler in HANDLERS:
        boto, mine = alternate(rounds, lambda: one("boto3"), lambda h=handler: one(h))
        b, h = statistics.median(t[0] for t in boto), statistics.median(t[0] for t in mine)
        b_cpu, h_cpu = statistics.median(t[1] for t in boto), statistics.median(t[1] for t in mine)
        row(f"{handler} / boto3 ({h * 1000:.0f} ms / {b * 1000:.0f} ms)", f"{h / b:.2f}x", "<= 1.5x")
        row("  the same on CPU time", f"{h_cpu / b_cpu:.2f}x", "<= 1.5x")


def _extra(module: str) -> Callable[[], None]:
    def run() -> None:
        __import__(module, fromlist=["run"]).run(row)

    return run


PARTS: dict[str, Callable[[], object]] = {
    "synth": bench_synth,
    "sandbox": bench_sandbox_start,
    "verify": bench_verify,
    "imports": bench_imports,
    "staging": _extra("tests.bench.staging"),
    "usage": _extra("tests.bench.usage"),
    "reporter": _extra("tests.bench.reporter"),
    "metering": _extra("tests.bench.metering_latency"),
    "tokens": _extra("tests.bench.tokens"),
    "buyer": _extra("tests.bench.buyer"),
}


def main(argv: list[str]) -> int:
    """`python -m tests.bench [part …]`: every part, or only the named ones (CPU is shared)."""
    unknown = [name for name in argv if name not in PARTS]
    if unknown:
        print(f"unknown part(s) {', '.join(unknown)}; the parts are: {', '.join(PARTS)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    print(f"vendstack benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    for name in argv or list(PARTS):
        PARTS[name]()
        print()
    print(f"benchmarks took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
