"""A WAF web ACL in front of the platform API: a per-IP rate limit, so one source's flood of
(even unsigned) requests is blocked at the edge before it reaches API Gateway's throttles and
crowds out customers' usage reports.

AWS docs: "Rate-based rule high-level settings in AWS WAF"
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html:
an evaluation window of 60, 120, 300 or 600 s, 300 by default; a limit of at least 10 requests
per aggregation instance, here per IP) and "Using AWS WAF to protect your REST APIs in API
Gateway" (a REGIONAL web ACL associated with the stage ARN).
"""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_wafv2 as wafv2

from constructs import Construct

EVALUATION_WINDOW_SECONDS = 300
# The API's error shape, as API Gateway's own 429 (constructs/platform_api.py) answers it.
THROTTLED_BODY = (
    '{"error":{"code":"Throttled","message":"Too many requests from this address; retry later."}}'
)


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


class ApiFirewall(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, stage: apigw.Stage, requests_per_5_minutes: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            description="vendstack platform API: per-IP rate limit",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("vendstack-api"),
            custom_response_bodies={
                "throttled": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=THROTTLED_BODY
                )
            },
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="per-ip-rate-limit",
                    priority=0,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=requests_per_5_minutes,
                            evaluation_window_sec=EVALUATION_WINDOW_SECONDS,
                        )
                    ),
                    action=wafv2.CfnWebACL.RuleActionProperty(
                        block=wafv2.CfnWebACL.BlockActionProperty(
                            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                                response_code=429,
                                custom_response_body_key="throttled",
                                response_headers=[
                                    wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After", value="60")
                                ],
                            )
                        )
                    ),
                    visibility_config=_visibility("vendstack-api-per-ip-rate-limit"),
                )
            ],
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
