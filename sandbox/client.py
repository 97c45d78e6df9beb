"""A small client of the platform API for the demo and the benchmarks: JSON over urllib, and
VS1-signed calls made with the project's one signing module (`runtime/shared/signing.py`)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

RUNTIME = str(Path(__file__).resolve().parents[1] / "runtime")
if RUNTIME not in sys.path:
    sys.path.insert(0, RUNTIME)

from shared.signing import sign_request  # noqa: E402 - the Lambda asset root is not a package


class PlatformClient:
    def __init__(self, api_url: str, timeout: float = 30) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout  # a stack launch waits for CloudFormation's work: give it longer

    def call(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        headers: dict | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> tuple[int, dict | None]:
        data = json.dumps(body).encode() if body is not None else None
        url = self.api_url + path + (f"?{urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - 127.0.0.1 only
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        return status, (json.loads(text) if text else None)

    def signed(
        self,
        access_key: str,
        secret_key: str,
        method: str,
        path: str,
        body: dict | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> tuple[int, dict | None]:
        data = json.dumps(body).encode() if body is not None else b""
        headers = sign_request(access_key, secret_key, method, path, query or (), data)
        return self.call(method, path, body, headers=headers, query=query)
