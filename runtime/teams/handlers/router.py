"""`GET /v1/team`, `POST /v1/team/invitations`, `POST /v1/team/invitations/{id}/accept`,
`DELETE /v1/team/members/{sub}` (docs/protocol.md §3.2).

Included into the developer API function (`keys.handlers.api`), whose middleware has resolved
the caller's team and role (`teams.logic.teams.resolve_caller`) and checked the role against
`teams.logic.roles` before these routes run.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from keys.models import Caller
from notices.dal.mailer import Mailer
from notices.dal.notice_store import NoticeStore
from shared.config import get_config
from shared.errors import ValidationError
from shared.http import json_response, parse_body, raw_body
from shared.timestamps import utcnow
from teams.dal.team_store import TeamStore
from teams.logic.invitations import email_verified
from teams.logic.teams import InvitationMail, accept, invite, remove_member, team_document

router = Router()
NO_STORE = {"Cache-Control": "no-store"}


@lru_cache(maxsize=1)
def team_store() -> TeamStore:
    config = get_config()
    return TeamStore(config.tables["data"], keys_table=config.tables.get("keys", ""))


@lru_cache(maxsize=1)
def invitation_mail() -> InvitationMail:
    config = get_config()
    if not config.notices_sender:
        raise RuntimeError("function environment is missing VS_NOTICES_SENDER")
    return InvitationMail(
        mailer=Mailer(config.notices_sender),
        records=NoticeStore(config.tables["data"]),
        product=config.product_name,
        page_url=config.developer_page_url,
    )


def _caller() -> Caller:
    return router.context["caller"]


def _refuse_query() -> None:
    params = router.current_event.multi_value_query_string_parameters or {}
    if params:
        raise ValidationError(f"Query parameter '{sorted(params)[0][:64]}': unknown parameter.")


@router.get("/v1/team")
def get_team() -> Response:
    _refuse_query()
    return json_response(200, team_document(team_store(), _caller(), utcnow()), NO_STORE)


@router.post("/v1/team/invitations")
def create_invitation() -> Response:
    _refuse_query()
    from teams.bodies import InvitationRequest  # pydantic loads on first use, not at cold start

    request = parse_body(raw_body(router, get_config().body_limit_bytes), InvitationRequest)
    made = invite(team_store(), invitation_mail(), _caller(), request, utcnow())
    return json_response(201, made.public(), NO_STORE)


@router.post("/v1/team/invitations/<invitation_id>/accept")
def accept_invitation(invitation_id: str) -> Response:
    _refuse_query()
    body = raw_body(router, get_config().body_limit_bytes)
    if body.strip():
        from teams.bodies import AcceptRequest  # pydantic loads on first use, not at cold start

        parse_body(body, AcceptRequest)
    verified = email_verified(router.context.get("claims", {}).get("email_verified"))
    answer = accept(team_store(), _caller(), invitation_id, verified=verified, now=utcnow())
    return json_response(200, answer, NO_STORE)


@router.delete("/v1/team/members/<sub>")
def delete_member(sub: str) -> Response:
    _refuse_query()
    remove_member(team_store(), _caller(), sub)
    return json_response(204, None)
