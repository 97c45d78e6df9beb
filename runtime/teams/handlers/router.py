"""`GET /v1/team`, `POST /v1/team/invitations`, `POST /v1/team/invitations/{id}/accept`,
`DELETE /v1/team/members/{sub}` (docs/protocol.md §3.2).

Included into the developer API function (`apis.developer_api`), whose middleware has resolved
the caller's team and role (`teams.logic.teams.resolve_caller`) and checked the role against
`teams.logic.roles` before these routes run.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared.callers import current_caller
from shared.config import get_config
from shared.http import json_response, parse_body, raw_body, refuse_query
from shared.timestamps import utcnow
from teams.dal.team_store import TeamStore
from teams.logic.invitations import email_verified
from teams.logic.teams import InvitationMail, accept, invite, remove_member, team_document

router = Router()
NO_STORE = {"Cache-Control": "no-store"}


@lru_cache(maxsize=1)
def team_store() -> TeamStore:
    config = get_config()
    return TeamStore(config.tables.data, keys_table=config.tables.get("keys") or "")


@lru_cache(maxsize=1)
def invitation_mail() -> InvitationMail:
    config = get_config()
    if not config.notices_sender:
        raise RuntimeError("function environment is missing VS_NOTICES_SENDER")
    from notices.dal.mailer import Mailer  # with the first invitation (see "Cold start")
    from notices.dal.notice_store import NoticeStore

    return InvitationMail(
        mailer=Mailer(config.notices_sender),
        records=NoticeStore(config.tables.data),
        product=config.product_name,
        page_url=config.developer_page_url,
    )


@router.get("/v1/team")
def get_team() -> Response:
    refuse_query(router)
    return json_response(200, team_document(team_store(), current_caller(router), utcnow()), NO_STORE)


@router.post("/v1/team/invitations")
def create_invitation() -> Response:
    refuse_query(router)
    from teams.bodies import InvitationRequest  # pydantic loads on first use, not at cold start

    request = parse_body(raw_body(router, get_config().body_limit_bytes), InvitationRequest)
    made = invite(team_store(), invitation_mail(), current_caller(router), request, utcnow())
    return json_response(201, made.public(), NO_STORE)


@router.post("/v1/team/invitations/<invitation_id>/accept")
def accept_invitation(invitation_id: str) -> Response:
    refuse_query(router)
    body = raw_body(router, get_config().body_limit_bytes)
    if body.strip():
        from teams.bodies import AcceptRequest  # pydantic loads on first use, not at cold start

        parse_body(body, AcceptRequest)
    verified = email_verified(router.context.get("claims", {}).get("email_verified"))
    answer = accept(team_store(), current_caller(router), invitation_id, verified=verified, now=utcnow())
    return json_response(200, answer, NO_STORE)


@router.delete("/v1/team/members/<sub>")
def delete_member(sub: str) -> Response:
    refuse_query(router)
    remove_member(team_store(), current_caller(router), sub)
    return json_response(204, None)
