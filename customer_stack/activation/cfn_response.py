"""Answers CloudFormation: one custom-resource response, PUT to the request's presigned ResponseURL.

AWS docs: "Custom resource response objects"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html): the
whole response body can't exceed 4096 bytes, so a long Reason is cut and oversized Data fails
the request instead of being lost. The worker and the watchdog may both try to answer; exactly one
answer goes out.
"""

import json
import threading
import time

from customer_stack.activation.common import _cr_log, _cr_sandbox
from customer_stack.vendor_client import RetryPolicy, VendorError, open_url, scrub

_CR_MAX_RESPONSE_BYTES = 4096  # CloudFormation's limit for the whole response body
# Two attempts of at most 4 s each: the watchdog answers 10 s before the Lambda timeout.
_CR_RESPONSE_POLICY = RetryPolicy(attempts=2, base_s=0.5, cap_s=0.5, timeout_s=4.0)


def _cr_response_body(event, status, physical_id, reason, data):
    response = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id or event.get("LogicalResourceId") or "activation",
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "NoEcho": False,
    }
    if data:
        response["Data"] = data
    body = json.dumps(response).encode("utf-8")
    if len(body) > _CR_MAX_RESPONSE_BYTES and reason:
        excess = len(body) - _CR_MAX_RESPONSE_BYTES
        cut = reason.encode("utf-8")[: max(0, len(reason.encode("utf-8")) - excess - 16)]
        response["Reason"] = cut.decode("utf-8", "ignore") + " …"
        body = json.dumps(response).encode("utf-8")
    if len(body) > _CR_MAX_RESPONSE_BYTES:
        response.update(Status="FAILED", Reason="the response Data exceeds 4096 bytes")
        response.pop("Data", None)
        body = json.dumps(response).encode("utf-8")
    return body


class _CrResponder:
    """Answers CloudFormation exactly once, whoever (worker or watchdog) comes first."""

    def __init__(self, event, state):
        self.event = event
        self.state = state
        self._lock = threading.Lock()
        self.sent = False

    def send(self, status, physical_id, reason="", data=None):
        with self._lock:
            if self.sent:
                return False
            self.sent = True
            reason = scrub(reason, self.state.secrets)
            body = _cr_response_body(self.event, status, physical_id, reason, data)
            _cr_log("answering CloudFormation", status=status, physical_id=physical_id, reason=reason)
            _cr_put_response(self.event["ResponseURL"], body)
            return True


def _cr_put_response(url, body):
    """PUTs the body with no Content-Type (the presigned URL was signed without one)."""
    end = time.monotonic() + 9.0
    try:
        with open_url(
            url,
            what="the response to CloudFormation (ResponseURL)",
            remaining=lambda: end - time.monotonic(),
            policy=_CR_RESPONSE_POLICY,
            allow_http_loopback=_cr_sandbox(),
            method="PUT",
            data=body,
            headers={"Content-Type": "", "Content-Length": str(len(body))},
        ) as resp:
            resp.read()
    except VendorError as exc:
        _cr_log("could not PUT the response", error=str(exc))
