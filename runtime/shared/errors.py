"""The project's own exceptions, one per error code of docs/protocol.md §1.

Data-access classes turn SDK errors into these, logic raises them, and `shared.http` maps
them to the wire shape in one place. A message is shown to the caller, so it never carries a
secret, a stack trace or another customer's data.
"""

from __future__ import annotations


class ApiError(Exception):
    status: int = 500
    code: str = "InternalError"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class ValidationError(ApiError):
    status = 400
    code = "ValidationError"


class InvalidRegistrationToken(ApiError):
    status = 400
    code = "InvalidRegistrationToken"


class MissingAuthentication(ApiError):
    status = 401
    code = "MissingAuthentication"


class InvalidToken(ApiError):
    status = 401
    code = "InvalidToken"


class InvalidAccessKey(ApiError):
    status = 401
    code = "InvalidAccessKey"


class SignatureDoesNotMatch(ApiError):
    status = 401
    code = "SignatureDoesNotMatch"


class RequestExpired(ApiError):
    status = 401
    code = "RequestExpired"


class ReplayDetected(ApiError):
    status = 401
    code = "ReplayDetected"


class KeyExpired(ApiError):
    status = 401
    code = "KeyExpired"


class KeyRevoked(ApiError):
    status = 401
    code = "KeyRevoked"


class SubscriptionInactive(ApiError):
    status = 402
    code = "SubscriptionInactive"


class SubscriptionPendingApproval(ApiError):
    status = 402
    code = "SubscriptionPendingApproval"


class AccountSuspended(ApiError):
    status = 403
    code = "AccountSuspended"


class Forbidden(ApiError):
    """A member of the caller's own team whose role does not allow the action (never for
    someone else's resource: that is `NotFound`, so nothing leaks)."""

    status = 403
    code = "Forbidden"


class NotFound(ApiError):
    status = 404
    code = "NotFound"


class MethodNotAllowed(ApiError):
    status = 405
    code = "MethodNotAllowed"


class Conflict(ApiError):
    status = 409
    code = "Conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "PayloadTooLarge"


class Throttled(ApiError):
    status = 429
    code = "Throttled"


class ServiceError(ApiError):
    """A dependency (DynamoDB, KMS, …) failed; the caller may retry."""

    status = 503
    code = "ServiceUnavailable"
