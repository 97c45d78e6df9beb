"""SNS signing certificates: fetched over https from the SNS host named by `SigningCertURL`,
checked (`subscriptions.logic.sns_signature.check_cert_url`) before any fetch, cached in memory.

The sandbox signs its emulated SNS messages with its own certificate; its workers alone are
given it (`VS_SANDBOX_SNS_CERTS`: JSON `{certificate URL: PEM}`), a trust setting the
synthesized template never carries (`tests/infra` checks it). Outside the sandbox the variable
is absent and every certificate comes from SNS itself.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

from shared.errors import ServiceError
from subscriptions.logic.sns_signature import (
    RsaCertificate,
    UnverifiedMessage,
    check_cert_url,
    parse_certificate,
)

SANDBOX_CERTS_VARIABLE = "VS_SANDBOX_SNS_CERTS"
MAX_CERT_BYTES = 64 * 1024
MAX_CACHED = 16
TIMEOUT_SECONDS = 5


def _https_get(url: str) -> bytes:
    """The certificate's bytes, over TLS with the default (verifying) context."""
    request = urllib.request.Request(url, headers={"User-Agent": "vendstack-sns-verifier"})  # noqa: S310
    with urllib.request.urlopen(  # noqa: S310 - https only, checked by check_cert_url
        request, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
    ) as answer:
        return answer.read(MAX_CERT_BYTES + 1)


class CertificateCache:
    def __init__(self, fetch: Callable[[str], bytes] = _https_get, env: dict[str, str] | None = None) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._cache: dict[str, RsaCertificate] = {}
        raw = (os.environ if env is None else env).get(SANDBOX_CERTS_VARIABLE)
        self._trusted: dict[str, str] = json.loads(raw) if raw else {}

    def get(self, url: object) -> RsaCertificate:
        """Raises `UnverifiedMessage` for a URL or certificate that is not SNS's, `ServiceError`
        when the certificate cannot be fetched now (the message is then redelivered)."""
        checked = check_cert_url(url)
        with self._lock:
            cached = self._cache.get(checked)
        if cached is not None:
            return cached
        if checked in self._trusted:
            pem: bytes | str = self._trusted[checked]
        else:
            try:
                pem = self._fetch(checked)
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                raise ServiceError("The SNS signing certificate cannot be fetched now.") from exc
            if len(pem) > MAX_CERT_BYTES:
                raise UnverifiedMessage("the signing certificate is too large")
        certificate = parse_certificate(pem)
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[checked] = certificate
        return certificate
