"""Who is calling an API route: the identity the entry point's middleware established.

Two kinds of caller, one per API:
- the developer API (Cognito): `claims_of` reads the ID token's claims API Gateway's authorizer
  passed (fail closed); the entry point resolves them into a `Caller` (person, team, role) and
  routes read it with `current_caller`;
- the signed API (VS1 access keys): the signature middleware (`license.handlers.auth`) verifies
  the request and routes read the verified principal with `current_principal` and the exact
  signed bytes with `signed_body`.

Here, in `shared/`, so that every feature's routes read their caller without importing the
feature (`keys`, `license`) that establishes it.
AWS docs: "Control access to REST APIs using Amazon Cognito user pools as an authorizer" (Amazon API
Gateway Developer Guide, https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-integrate-with-cognito.html):
the claims arrive in `requestContext.authorizer.claims`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import InvalidToken

if TYPE_CHECKING:
    from license.logic.verifier import Principal

CALLER = "caller"
PRINCIPAL = "principal"
SIGNED_BODY = "signed_body"


@dataclass(frozen=True)
class Caller:
    """The signed-in person, as API Gateway's Cognito authorizer vouched for them, and the team
    they act for (`teams.logic.teams.resolve_caller`). The team is the customer: `customer_id`
    is the team id, which every record (keys, usage, subscription, audit) is keyed by."""

    customer_id: str  # the team id (== the owner's sub for a team made from a single user)
    email: str  # the person's verified email
    sub: str = ""  # the person; "" only where a team of one is built directly (tests, tools)
    role: str = "owner"

    @property
    def person(self) -> str:
        return self.sub or self.customer_id


def claims_of(event: dict) -> dict:
    """The ID token's claims as API Gateway's Cognito authorizer passed them (fail closed)."""
    context = event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    sub, email = claims.get("sub"), claims.get("email")
    if not isinstance(sub, str) or not sub.strip() or not isinstance(email, str) or not email.strip():
        raise InvalidToken("The ID token is missing or lacks the sub and email claims.")
    if claims.get("token_use", "id") != "id":
        raise InvalidToken("An ID token is required.")
    return claims


def current_caller(app: Any) -> Caller:
    """The developer-API caller of this request (an `APIGatewayRestResolver` or its `Router`)."""
    return app.context[CALLER]


def current_principal(app: Any) -> Principal:
    """The signed-API caller of this request, verified by the signature middleware."""
    return app.context[PRINCIPAL]


def signed_body(app: Any) -> bytes:
    """The exact bytes whose hash was signed: parse these, not a re-read of the event."""
    return app.context[SIGNED_BODY]
