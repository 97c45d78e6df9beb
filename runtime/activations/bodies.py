"""Activations: the `POST /v1/activations` request body (pydantic).

pydantic is imported here only: the request bodies load on the first request that parses one, not at
a handler's cold start (see "Cold start" in the README). The rest of the feature's types stay in
`activations.models` (standard library only)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from activations.models import ACCOUNT_RE, REGION_RE, STACK_ARN_RE, VERSION_RE


class ActivationRequest(BaseModel):
    """`POST /v1/activations` body. Fields are declared so that `stack_id` is checked last,
    against the already validated `account_id` and `region`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    account_id: str
    region: str
    request_type: Literal["Create", "Update"]
    stack_id: str
    # The release the stack's template names (its ReleaseVersion parameter); absent → current.
    version: str | None = None

    @field_validator("version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not VERSION_RE.match(value):
            raise PydanticCustomError("version", "must be a released version such as 1.4.0")
        return value

    @field_validator("account_id")
    @classmethod
    def _account(cls, value: str) -> str:
        if not ACCOUNT_RE.match(value):
            raise PydanticCustomError("account_id", "must be 12 digits")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION_RE.match(value):
            raise PydanticCustomError("region", "must be an AWS region name such as us-east-1")
        return value

    @field_validator("stack_id")
    @classmethod
    def _stack(cls, value: str, info: ValidationInfo) -> str:
        match = STACK_ARN_RE.match(value) if len(value) <= 512 else None
        if match is None:
            raise PydanticCustomError(
                "stack_id",
                "must be a CloudFormation stack ARN "
                "(arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>)",
            )
        region, account = match.groups()
        if "account_id" in info.data and account != info.data["account_id"]:
            raise PydanticCustomError("stack_id", "names another account than account_id")
        if "region" in info.data and region != info.data["region"]:
            raise PydanticCustomError("stack_id", "names another region than region")
        return value
