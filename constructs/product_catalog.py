"""Public routes: `GET /v1/health` and `GET /v1/product`, served from configuration."""

from __future__ import annotations

from constructs import Construct
from constructs.platform_api import PlatformApi
from constructs.platform_function import PlatformFunction

ROUTES = [("GET", "/v1/health"), ("GET", "/v1/product")]


class ProductCatalog(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: PlatformApi,
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = PlatformFunction(
            self,
            "Api",
            handler="product.handlers.api.handler",
            service="product",
            description="vendstack public routes: health and product description",
            environment=environment,
            powertools_layer_version=layer_version,
            memory_size=256,
        )
        api.add_routes(self.handler.function, ROUTES, developer_auth=False)
