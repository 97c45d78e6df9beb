"""`GET /v1/launch` (developer API): the quick-create link of the current release for the
developer page's "Launch stack" button. Included into the developer function, whose
`identify_caller` middleware has already required a signed-in customer."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared.config import get_config
from shared.errors import ServiceError
from shared.http import json_response
from shared.timestamps import utcnow

if TYPE_CHECKING:
    from activations.dal.releases import ReleaseStore

router = Router()


@lru_cache(maxsize=1)
def release_store() -> ReleaseStore:
    from activations.dal.releases import ReleaseStore  # with the route's first use (see "Cold start")

    return ReleaseStore(get_config().tables.data)


def presign_template(bucket: str, key: str, version_id: str, seconds: int) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from activations.dal.delivery import presigning_client

    params = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    try:
        return presigning_client().generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
    except (ClientError, BotoCoreError) as exc:
        raise ServiceError("The launch link cannot be made right now; retry later.") from exc


@router.get("/v1/launch")
def launch() -> Response:
    from activations.logic.launch import launch_link

    config = get_config()
    link = launch_link(
        release_store(),
        presign_template,
        product=config.product_name,
        region=os.environ.get("AWS_REGION", "us-east-1"),
        now=utcnow(),
    )
    return json_response(200, link, {"Cache-Control": "no-store"})
