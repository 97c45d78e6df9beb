"""AWS Marketplace Deployment Service: PutDeploymentParameter, the one call Quick Launch needs.

AWS docs: "PutDeploymentParameter" and "DeploymentParameterInput", AWS Marketplace Deployment
Service API reference
(https://docs.aws.amazon.com/marketplace-deployment/latest/api-reference/API_PutDeploymentParameter.html):
`catalog` is always `AWSMarketplace`; the parameter is keyed by buyer, product and `name` (the
same name updates it); `clientToken` (32-64 characters) makes a retry apply once. The service is
in us-east-1 only ("Using the AWS Marketplace Deployment API"), where the vendor stack runs.
Built lazily (`shared.aws.client`), so `AWS_ENDPOINT_URL_MARKETPLACE_DEPLOYMENT` (the sandbox's
emulator) is honoured. An error is turned into `DeliveryFailed` with AWS's error code only: the
request carries the secret, so no message or parameter of it is ever repeated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from shared.aws import client

CATALOG = "AWSMarketplace"


class DeliveryFailed(Exception):
    """PutDeploymentParameter did not succeed; `code` is AWS's error code (or the SDK's kind)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class DeploymentParameters:
    def __init__(self, *, marketplace: Any = None) -> None:
        self._client = marketplace

    @property
    def _api(self) -> Any:
        return self._client or client("marketplace-deployment")

    def put(
        self,
        *,
        product_id: str,
        agreement_id: str,
        name: str,
        secret_string: str,
        client_token: str,
        expires_at: datetime,
    ) -> str:
        """The `dp-…` id of the parameter now holding `secret_string` for the agreement's buyer."""
        try:
            answer = self._api.put_deployment_parameter(
                catalog=CATALOG,
                productId=product_id,
                agreementId=agreement_id,
                deploymentParameter={"name": name, "secretString": secret_string},
                clientToken=client_token,
                expirationDate=expires_at,
            )
        except ClientError as exc:
            raise DeliveryFailed(str(exc.response.get("Error", {}).get("Code") or "ClientError")) from None
        except ParamValidationError:
            raise DeliveryFailed("ParamValidationError") from None
        except BotoCoreError as exc:
            raise DeliveryFailed(type(exc).__name__) from None
        return str(answer["deploymentParameterId"])
