"""The activation function's ground rules, shared by its parts: how it fails, how it logs, which
URLs it may call, and how much time its work has.

The function's index.py is assembled from several modules (see `assemble.py`), so every name here
is prefixed `_cr_`/`_Cr`: one namespace holds them all, and the assembly test refuses a clash.
"""

import json
import os
import threading
import time

from customer_stack.vendor_client import checked_url, scrub

_CR_SANDBOX_FLAG = "VS_ACTIVATION_SANDBOX"  # set only by the local sandbox and the tests
_CR_TIMED_OUT = (
    "stopped to answer CloudFormation before the Lambda timeout; retry, or raise the activation "
    "function's Timeout"
)


class _CrFailure(Exception):
    """A reason for CloudFormation. It is shown to the customer, so it never holds a secret."""


def _cr_log(message, **fields):
    """One JSON line on stdout (CloudWatch Logs), with every URL's query string dropped."""
    print(scrub(json.dumps({"message": message, **fields}, default=str)))


def _cr_sandbox():
    """Plain http to a loopback address is allowed only here (the local sandbox, the tests)."""
    return os.environ.get(_CR_SANDBOX_FLAG) == "1"


def _cr_checked_url(url, what):
    """https only; http to loopback only in the sandbox (never to e.g. the Lambda runtime API)."""
    return checked_url(url, what, allow_http_loopback=_cr_sandbox())


class _CrBudget:
    """The work's time: it must end before `deadline` (monotonic), and at once when the watchdog
    has given up on it (`cancel`), because the watchdog then answers CloudFormation itself."""

    def __init__(self, deadline, cancel=None):
        self.deadline = deadline
        self.cancel = cancel or threading.Event()

    def remaining(self):
        return 0.0 if self.cancel.is_set() else self.deadline - time.monotonic()

    def sleep(self, seconds):
        self.cancel.wait(max(0.0, seconds))

    def check(self, doing):
        if self.remaining() <= 0:
            raise _CrFailure(f"timed out while {doing}: {_CR_TIMED_OUT}")
