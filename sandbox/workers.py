"""Emulated Lambda functions: one worker process per function, started on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")


class FunctionError(RuntimeError):
    """The handler raised: API Gateway turns this into a 502."""


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    asset_dir: Path
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int


class FunctionWorker:
    def __init__(self, spec: FunctionSpec, base_env: dict[str, str], log: IO[str]) -> None:
        self.spec = spec
        self._base_env = base_env
        self._log = log
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = {
            **self._base_env,
            **self.spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.spec.timeout_s),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            # Set in every Lambda environment (the function's code), and read by libraries to know
            # they run in Lambda: without it the X-Ray SDK's recorder builds its centralized
            # sampler, two botocore clients at import (about 0.5 s of every cold start here, none
            # on AWS). AWS docs: "Defined runtime environment variables"
            # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
            "LAMBDA_TASK_ROOT": str(self.spec.asset_dir),
        }
        process = subprocess.Popen(  # noqa: S603 - runs this project's own worker with the venv's python
            [sys.executable, str(WORKER_SCRIPT), str(self.spec.asset_dir), self.spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            cwd=str(self.spec.asset_dir),
        )
        ready = process.stdout.readline() if process.stdout else ""
        if not ready:
            raise FunctionError(f"function {self.spec.logical_id} failed to start (see the sandbox log)")
        return process

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            if self._process.stdin is None or self._process.stdout is None:
                raise FunctionError(f"function {self.spec.logical_id} has no pipes")
            self._process.stdin.write(json.dumps({"event": event}) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
            if not line:
                self._process = None
                raise FunctionError(f"function {self.spec.logical_id} exited during an invocation")
            reply = json.loads(line)
        if "error" in reply:
            raise FunctionError(f"{reply['error']['type']}: {reply['error']['message']}")
        return reply["result"]

    def stop(self) -> None:
        with self._lock:
            if self._process and self._process.poll() is None:
                if self._process.stdin:
                    self._process.stdin.close()  # end of input: the worker's loop ends
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
            self._process = None


def base_environment(endpoint_url: str, region: str) -> dict[str, str]:
    """What every emulated function sees besides its own variables: the emulator, fake credentials."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TZ", "SYSTEMROOT"}}
    return {
        **keep,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",  # noqa: S105 - the emulator accepts any credentials
        "PYTHONDONTWRITEBYTECODE": "1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_DISABLED": "false",
    }
