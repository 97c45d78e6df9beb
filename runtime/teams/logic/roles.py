"""Who in a team may do what (docs/protocol.md §3.2): a pure table, checked once per request.

`owner` (one, the creator) and `admin` manage members and keys; `developer` creates and revokes
keys and reads usage; `viewer` only reads. Every developer-API route names the action it
needs in `ROUTE_ACTIONS`; the developer API's middleware refuses the others with
`403 Forbidden` before the route runs. A route missing from the table needs `MANAGE` when it
changes something (fail closed: only owner and admin), `READ` when it is a GET.
"""

from __future__ import annotations

from shared.errors import Forbidden
from teams.models import ADMIN, DEVELOPER, OWNER, VIEWER

READ = "read"  # keys, usage, subscription, launch link, the team
WRITE_KEYS = "keys:write"  # create and revoke the team's keys
LINK_SUBSCRIPTION = "subscription:link"  # link an AWS Marketplace subscription to the team
MANAGE = "team:manage"  # invite and remove members
JOIN = "team:join"  # accept an invitation: about the caller's own membership, any role

PERMISSIONS: dict[str, frozenset[str]] = {
    OWNER: frozenset({READ, WRITE_KEYS, LINK_SUBSCRIPTION, MANAGE, JOIN}),
    ADMIN: frozenset({READ, WRITE_KEYS, LINK_SUBSCRIPTION, MANAGE, JOIN}),
    DEVELOPER: frozenset({READ, WRITE_KEYS, JOIN}),
    VIEWER: frozenset({READ, JOIN}),
}

ROUTE_ACTIONS: dict[tuple[str, str], str] = {
    ("GET", "/v1/keys"): READ,
    ("POST", "/v1/keys"): WRITE_KEYS,
    ("DELETE", "/v1/keys/{access_key}"): WRITE_KEYS,
    ("GET", "/v1/usage"): READ,
    ("GET", "/v1/subscription"): READ,
    ("POST", "/v1/marketplace/registrations"): LINK_SUBSCRIPTION,
    ("GET", "/v1/launch"): READ,
    ("GET", "/v1/team"): READ,
    ("POST", "/v1/team/invitations"): MANAGE,
    ("POST", "/v1/team/invitations/{invitation_id}/accept"): JOIN,
    ("DELETE", "/v1/team/members/{sub}"): MANAGE,
}

_READ_METHODS = frozenset({"GET", "HEAD"})


def action_for(method: str, resource: str) -> str:
    """The action a route needs; unlisted routes fail closed (see the module docstring)."""
    listed = ROUTE_ACTIONS.get((method.upper(), resource))
    if listed is not None:
        return listed
    return READ if method.upper() in _READ_METHODS else MANAGE


def allows(role: str, action: str) -> bool:
    """Unknown roles are allowed nothing."""
    return action in PERMISSIONS.get(role, frozenset())


def authorize(role: str, method: str, resource: str) -> None:
    """Raise `403 Forbidden` unless `role` may call `method resource`."""
    action = action_for(method, resource)
    if not allows(role, action):
        raise Forbidden(f"Your role in this team ({role}) does not allow this action.")
