"""The sandbox (`python -m sandbox`), booted once per test session from the session's synthesized
app and shared by every test that asks for it (the end-to-end and the browser tests).

Its tests carry `xdist_group("sandbox")`, so under xdist they all run on one worker, which boots it
once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT_S = 300  # boot takes seconds when idle, minutes when the machine is shared


class Api:
    """A tiny HTTP client for the sandbox API (stdlib only, like the customer stack)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body=None, headers: dict | None = None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(  # noqa: S310 - the sandbox on 127.0.0.1
            self.base + path, data=data, method=method, headers=headers or {}
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1 only
                status, text, got = response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, text, got = error.code, error.read().decode(), dict(error.headers)
        return status, (json.loads(text) if text else None), got


@pytest.fixture(scope="session")
def sandbox(assembly, tmp_path_factory):
    state = tmp_path_factory.mktemp("sandbox")
    out = Path(assembly.directory)
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "sandbox",
            "--cdk-out",
            str(out),
            "--customer-template",
            str(out / "VendstackCustomer.template.json"),
            "--state-dir",
            str(state),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    endpoints_file = state / "endpoints.json"
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while not endpoints_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"sandbox did not start:\n{process.stdout.read() if process.stdout else ''}")
        time.sleep(0.1)
    endpoints = json.loads(endpoints_file.read_text())
    endpoints["state_dir"] = str(state)
    yield endpoints
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not endpoints_file.exists(), "the sandbox removes endpoints.json when it stops"


@pytest.fixture(scope="session")
def api(sandbox) -> Api:
    return Api(sandbox["api_url"])
