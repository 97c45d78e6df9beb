"""The sandbox routes of the buyer's side (docs/protocol.md §6): releases, customer stacks, their
scheduled jobs, and the custom resources' ResponseURLs. Each takes (method, path, body) and
answers a `GatewayResponse`; `sandbox/server.py` dispatches to them by path prefix."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

from sandbox.customer_account import CustomerAccounts, Stack, StackError
from sandbox.gateway import GatewayResponse
from sandbox.workers import FunctionError

STACKS = "/_sandbox/customer/stacks"
RESPONSES = "/_sandbox/cloudformation/responses/"
RELEASES = "/_sandbox/releases"
_STACK_PATH = re.compile(
    r"^/_sandbox/customer/stacks/(?P<name>[^/]+)(?:/jobs/(?P<job>[^/]+)|/(?P<recycle>recycle))?$"
)
_LAUNCH_FIELDS = {"aws_account_id", "parameters", "stack_name"}
_UPDATE_FIELDS = {"parameters", "template"}


def _json(status: int, body: dict) -> GatewayResponse:
    return GatewayResponse(status, json.dumps(body), {})


def _error(status: int, code: str, message: str) -> GatewayResponse:
    return _json(status, {"error": {"code": code, "message": message}})


def _document(body: bytes, allowed: set[str]) -> dict | GatewayResponse:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return _error(400, "ValidationError", "Request body must be a JSON object.")
    if not isinstance(document, dict):
        return _error(400, "ValidationError", "Request body must be a JSON object.")
    unknown = sorted(set(document) - allowed)
    if unknown:
        return _error(400, "ValidationError", f"Unknown field '{unknown[0][:64]}'.")
    return document


class CustomerRoutes:
    def __init__(
        self,
        accounts: CustomerAccounts,
        publish_release: Callable[[str], dict],
        clock: Callable[[], datetime],
    ) -> None:
        self.accounts = accounts
        self._publish = publish_release
        self._clock = clock

    def prefixes(self) -> list[tuple[str, Callable[[str, str, bytes], GatewayResponse]]]:
        return [(RESPONSES, self.response_url), (STACKS, self.stacks), (RELEASES, self.releases)]

    # -- releases ----------------------------------------------------------------------------------
    def releases(self, method: str, path: str, body: bytes) -> GatewayResponse:
        if path != RELEASES:
            return _error(404, "NotFound", "No such sandbox route.")
        if method != "POST":
            return _error(405, "MethodNotAllowed", "Use POST.")
        document = _document(body, {"version"})
        if isinstance(document, GatewayResponse):
            return document
        version = document.get("version")
        if not isinstance(version, str) or not re.fullmatch(
            r"(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})", version
        ):
            return _error(400, "ValidationError", "Field 'version' must be a version X.Y.Z.")
        try:
            return _json(201, self._publish(version))
        except StackError as exc:
            return _error(exc.status, exc.code, str(exc))

    # -- the custom resources' ResponseURL ------------------------------------------------------------
    def response_url(self, method: str, path: str, body: bytes) -> GatewayResponse:
        status, text = self.accounts.respond(method, path[len(RESPONSES) :], body)
        return GatewayResponse(status, text, {"Content-Type": "application/xml"} if text else {})

    # -- stacks ------------------------------------------------------------------------------------
    def stacks(self, method: str, path: str, body: bytes) -> GatewayResponse:
        try:
            if path == STACKS:
                if method != "POST":
                    return _error(405, "MethodNotAllowed", "Use POST to launch a stack.")
                return self._launch(body)
            match = _STACK_PATH.match(path)
            if match is None:
                return _error(404, "NotFound", "No such sandbox route.")
            name, job = match["name"], match["job"]
            if match["recycle"]:
                if method != "POST":
                    return _error(405, "MethodNotAllowed", "Use POST to recycle the functions.")
                return self._reject_body(body) or _json(200, {"recycled": self.accounts.recycle(name)})
            if job is not None:
                if method != "POST":
                    return _error(405, "MethodNotAllowed", "Use POST to run a job.")
                return self._job(name, job, body)
            return self._stack(method, name, body)
        except StackError as exc:
            return _error(exc.status, exc.code, str(exc))

    def _stack(self, method: str, name: str, body: bytes) -> GatewayResponse:
        """GET, PUT (update) or DELETE one stack."""
        if method == "GET":
            return self._reject_body(body) or _json(200, self._shown(self.accounts.get(name), events=True))
        if method == "DELETE":
            return self._reject_body(body) or _json(200, {"status": self.accounts.delete(name).status})
        if method == "PUT":
            document = _document(body, _UPDATE_FIELDS)
            if isinstance(document, GatewayResponse):
                return document
            stack = self.accounts.update(name, document.get("parameters"), document.get("template"))
            return _json(200, self._shown(stack))
        return _error(405, "MethodNotAllowed", "Use GET, PUT or DELETE.")

    @staticmethod
    def _reject_body(body: bytes) -> GatewayResponse | None:
        return _error(400, "ValidationError", "This route takes no body.") if body else None

    def _launch(self, body: bytes) -> GatewayResponse:
        document = _document(body, _LAUNCH_FIELDS)
        if isinstance(document, GatewayResponse):
            return document
        stack = self.accounts.launch(
            document.get("aws_account_id"), document.get("parameters", {}), document.get("stack_name")
        )
        return _json(201, self._shown(stack))

    def _job(self, name: str, job: str, body: bytes) -> GatewayResponse:
        document = _document(body, {"now"})
        if isinstance(document, GatewayResponse):
            return document
        now = self._clock()
        if "now" in document:
            try:
                now = datetime.fromisoformat(str(document["now"]).replace("Z", "+00:00"))
            except ValueError:
                return _error(400, "ValidationError", "Field 'now' must be an RFC 3339 timestamp.")
            if now.tzinfo is None:
                return _error(400, "ValidationError", "Field 'now' must carry a time zone (Z).")
        try:
            result = self.accounts.run_job(name, job, now.astimezone(UTC))
        except FunctionError as exc:
            return _error(502, "FunctionError", str(exc).split(":")[0])
        return _json(200, result if isinstance(result, dict) else {"result": result})

    def _shown(self, stack: Stack, *, events: bool = False) -> dict:
        """The stack as the routes show it; a NoEcho parameter's value never appears in a reason."""
        shown = self.accounts.describe(stack, events=events)
        hidden = [v for v in self.accounts.no_echo_values(stack) if v]

        def scrub(text: str) -> str:
            for value in hidden:
                text = text.replace(value, "****")
            return text

        shown["reason"] = scrub(shown["reason"])
        for event in shown.get("events", []):
            event["reason"] = scrub(event["reason"])
        return shown
