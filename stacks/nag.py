"""Acknowledged cdk-nag findings.

Each acknowledgement names one resource (a CloudFormation resource, by construct path) and
one finding, with the reason it is accepted. Anything not listed here fails the synth.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stack, Token, Validations

from constructs import developer_page, license_api, product_catalog

XRAY = (
    "Resource '*' only for actions without resource-level permissions: X-Ray PutTraceSegments/"
    "PutTelemetryRecords (and, where present, aws-marketplace:ResolveCustomer/GetEntitlements/"
    "DescribeAgreement)"
)
SYNC_DLQ = (
    "Invoked synchronously by API Gateway: a DLQ only catches asynchronous invocations; failures "
    "are returned to the caller and recorded in the audit log"
)
EXEC_LOGS = (
    "Access logging (JSON, one line per request) is on; execution logging needs the account-wide "
    "API Gateway CloudWatch role, which this stack does not change"
)
OPT_IN_ACCESS_LOGS = (
    "Access logs (JSON) are on when the buyer sets ApiAccessLogging=Enabled: API Gateway needs the "
    "account-level CloudWatch Logs role for them, which a new account lacks, so they cannot be the default"
)
WAF_OFF = (
    "The vendor turned the platform's WAF web ACL off (cdk.json api.waf.enabled=false); per-route "
    "stage throttles remain"
)
WAF = (
    "Throttling is set on the stage and every request is authenticated in the function; "
    "a WAF web ACL is the operator's choice"
)


def ack(stack: Stack, path: str, rule: str, reason: str) -> None:
    """Acknowledge `rule` on the single CloudFormation resource at `path` under `stack`."""
    node = stack.node.find_child(path.split("/")[0])
    for part in path.split("/")[1:]:
        node = node.node.find_child(part)
    if not isinstance(node, CfnResource):
        raise TypeError(f"cdk-nag acknowledgement must name one CloudFormation resource, not {path}")
    Validations.of(node).acknowledge(Acknowledgment(id=rule, reason=reason))


def _function_findings(stack: Stack, owner: str, function: str, *, sync: bool) -> None:
    ack(stack, f"{owner}/Role/DefaultPolicy/Resource", "AwsSolutions-IAM5[Resource::*]", XRAY)
    if sync:
        ack(stack, f"{owner}/{function}/Resource", "Serverless-LambdaDLQ", SYNC_DLQ)


DLQ_ITSELF = "This queue is itself a dead-letter queue, watched by an alarm"
VENDOR_INVOKED = (
    "A vendor function the template gives no asynchronous trigger: it is called synchronously by the "
    "solution's own code, which sees every failure"
)


def _job_findings(stack: Stack, job: str) -> None:
    """A ScheduledJob: X-Ray wildcard, and its dead-letter queue has no redrive of its own."""
    ack(stack, f"{job}/Job/Role/DefaultPolicy/Resource", "AwsSolutions-IAM5[Resource::*]", XRAY)
    ack(stack, f"{job}/DeadLetters/Resource", "Serverless-SQSRedrivePolicy", DLQ_ITSELF)


def acknowledge_vendor_findings(stack: Stack) -> None:
    for owner in ("Product/Api", "DeveloperKeys/Api", "License/Api"):
        _function_findings(stack, owner, "Function", sync=True)
    ack(stack, "Api/RestApi/DeploymentStage.prod/Resource", "AwsSolutions-APIG6", EXEC_LOGS)
    if getattr(stack, "firewall", None) is None:
        ack(stack, "Api/RestApi/DeploymentStage.prod/Resource", "AwsSolutions-APIG3", WAF_OFF)
    public = "Public by design (docs/protocol.md §3): describes the product; no customer data"
    signed = (
        "License API: every request carries a VS1-HMAC-SHA256 signature that the function verifies "
        "over the body, which no API Gateway authorizer can see"
    )
    for routes, reason in ((product_catalog.ROUTES, public), (license_api.ROUTES, signed)):
        for method, path in routes:
            for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                ack(stack, f"Api/RestApi/Default{path}/{method}/Resource", rule, reason)
    ack(
        stack,
        "License/Api/Role/DefaultPolicy/Resource",
        "AwsSolutions-IAM5[Resource::<ArtifactsBucket88671897.Arn>/releases/*]",
        "Presigned downloads of released artifacts: keys are named by release "
        "(releases/<product>/<version>/…); "
        "only GetObject/GetObjectVersion, only under releases/",
    )
    ack(
        stack,
        "DeveloperKeys/Api/Role/DefaultPolicy/Resource",
        "AwsSolutions-IAM5[Resource::<ArtifactsTemplatesEBF65117.Arn>/*]",
        "GET /v1/launch presigns the current release's customer template, whose key is named by the "
        "release record (<product>/<version>/customer.template.json); only GetObject/GetObjectVersion",
    )
    ack(stack, "Marketplace/Events/Role/DefaultPolicy/Resource", "AwsSolutions-IAM5[Resource::*]", XRAY)
    ack(stack, "Marketplace/DeadLetters/Resource", "Serverless-SQSRedrivePolicy", DLQ_ITSELF)
    function = stack.node.find_child("Marketplace").node.find_child("Events").node.find_child("Function")
    esm = next(c.node.id for c in function.node.children if c.node.id.startswith("SqsEventSource"))
    ack(
        stack,
        f"Marketplace/Events/Function/{esm}/Resource",
        "Serverless-LambdaEventSourceMappingDestination",
        "SQS event source: a message that keeps failing goes to the queue's own redrive dead-letter queue",
    )
    _job_findings(stack, "Notices/Daily")
    _job_findings(stack, "Metering/Hourly")
    _job_findings(stack, "SilentUsage/Hourly")
    _job_findings(stack, "QuickLaunch/Deliveries")
    ack(
        stack,
        "QuickLaunch/Deliveries/Job/Role/DefaultPolicy/Resource",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:aws-marketplace:us-east-1:<AWS::AccountId>:"
        f"DeploymentParameter:catalogs/AWSMarketplace/products/{stack.config.product_id}/*]",
        "PutDeploymentParameter on this product's deployment parameters only: AWS Marketplace names each "
        "parameter's id (dp-...) when it is created, so it cannot be known in advance",
    )
    _developer_page_findings(stack)
    ack(
        stack,
        "Identity/UserPool/Resource",
        "AwsSolutions-COG2",
        "MFA is optional (TOTP) so customers can sign up without a second device; threat protection is "
        "in full-function mode and API keys, not passwords, reach the paid software",
    )


def _developer_page_findings(stack: Stack) -> None:
    """The static site, its CloudFront distribution, the fulfillment route and CDK's
    BucketDeployment function (a singleton named by its memory size, found by prefix)."""
    _function_findings(stack, "DeveloperPage/Fulfillment", "Function", sync=True)
    fulfillment = (
        "AWS Marketplace posts the buyer's browser here before the buyer has an account "
        "(docs/protocol.md §3.1); the function only redirects, reads and writes nothing"
    )
    for method, path in developer_page.FULFILLMENT_ROUTES:
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            ack(stack, f"Api/RestApi/Default{path}/{method}/Resource", rule, fulfillment)
    ack(
        stack,
        "DeveloperPage/Site/Resource",
        "AwsSolutions-S1",
        "Holds only the public page's static files, written by the deployment; CloudFront reads it through "
        "origin access control and CloudTrail records changes",
    )
    distribution = "DeveloperPage/Distribution/Resource"
    ack(
        stack,
        distribution,
        "AwsSolutions-CFR3",
        "Serves static files only; customers' calls go to the API, which has access logs. Standard "
        "logging needs an ACL-enabled bucket, which this stack does not create",
    )
    ack(
        stack,
        distribution,
        "AwsSolutions-CFR4",
        "Uses the default *.cloudfront.net certificate, for which CloudFront does not take a minimum "
        "protocol version; a vendor's custom domain brings its own certificate and TLSv1.2_2021",
    )
    ack(stack, distribution, "AwsSolutions-CFR1", "Customers may be anywhere AWS Marketplace sells")
    ack(
        stack,
        distribution,
        "AwsSolutions-CFR2",
        "Static files only (GET/HEAD, cached); a WAF web ACL is the operator's choice, as for the API",
    )
    deployer = next(
        c.node.id for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")
    )
    cdk_owned = (
        "CDK's BucketDeployment function, run only by CloudFormation at deploy time to copy the page and "
        "its config.json into the site bucket; its code and S3 grants are aws-cdk-lib's (the role is this "
        "stack's own, with its own log group and X-Ray only on Resource *)"
    )
    for finding in (
        "Resource::*",  # X-Ray only (PutTraceSegments/PutTelemetryRecords)
        "Action::s3:GetBucket*",
        "Action::s3:GetObject*",
        "Action::s3:List*",
        "Action::s3:Abort*",
        "Action::s3:DeleteObject*",
        # the vendor stack is pinned to a region, so the bootstrap bucket's name carries it literally
        "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
        f"{'<AWS::Region>' if Token.is_unresolved(stack.region) else stack.region}/*",
        "Resource::<DeveloperPageSiteC8BD77B4.Arn>/*",
    ):
        ack(
            stack,
            "DeveloperPage/DeployRole/DefaultPolicy/Resource",
            f"AwsSolutions-IAM5[{finding}]",
            cdk_owned,
        )
    for rule in (
        "AwsSolutions-L1",
        "Serverless-LambdaLatestVersion",
        "Serverless-LambdaDLQ",
    ):
        ack(stack, f"{deployer}/Resource", rule, cdk_owned)


def acknowledge_customer_findings(stack: Stack) -> None:
    _function_findings(stack, "Activation", "Function", sync=False)
    ack(
        stack,
        "Activation/Function/Resource",
        "Serverless-LambdaDLQ",
        "CloudFormation custom-resource handler: it always reports success or failure to CloudFormation, "
        "which shows the reason in the stack events; a DLQ would hold nothing to act on",
    )
    ack(
        stack,
        "Activation/Role/DefaultPolicy/Resource",
        "AwsSolutions-IAM5[Resource::<StagingBucket9644C37C.Arn>/*]",
        "Object keys are named by the release manifest, known only at activation; "
        "limited to this stack's bucket",
    )
    _solution_findings(stack)
    if stack.node.try_find_child("License") and stack.node.find_child("License").node.try_find_child(
        "Authorizer"
    ):
        ack(stack, "License/AuthorizerRole/DefaultPolicy/Resource", "AwsSolutions-IAM5[Resource::*]", XRAY)
        ack(
            stack,
            "License/Authorizer/Resource",
            "Serverless-LambdaDLQ",
            "A Lambda authorizer is invoked synchronously by API Gateway, which turns its failure into "
            "the caller's error response; there is no asynchronous event to keep",
        )
    _function_findings(stack, "Usage", "Reporter", sync=False)
    for queue in ("Usage/DeadLetters/Resource", "Usage/FailedRuns/Resource"):
        ack(stack, queue, "Serverless-SQSRedrivePolicy", DLQ_ITSELF)
    ack(
        stack,
        "ApiKeySecret/Resource",
        "AwsSolutions-SMG4",
        "Holds a vendor-issued API key pair: it is rotated by creating a new key on the developer page and "
        "updating the stack, not by a Secrets Manager rotation function",
    )
    ack(
        stack,
        "StagingBucket/Resource",
        "AwsSolutions-S1",
        "Written only by the activation function and read by Lambda at deploy time; CloudTrail records both. "
        "A logs bucket would be a second bucket the customer must own for little gain",
    )


def _solution_findings(stack: Stack) -> None:
    """The vendor's configured functions (`Solution`): one set per function, found by its own
    construct ids, and the REST API's when one function is behind it."""
    solution = stack.node.find_child("Solution")
    for function in solution.functions.values():
        role = function.role.node.id
        ack(stack, f"Solution/{role}/DefaultPolicy/Resource", "AwsSolutions-IAM5[Resource::*]", XRAY)
        reason = SYNC_DLQ if function is solution.function else VENDOR_INVOKED
        ack(stack, f"Solution/{function.node.id}/Resource", "Serverless-LambdaDLQ", reason)
    if solution.api is None:
        return
    ack(stack, "Solution/RestApi/DeploymentStage.prod/Resource", "AwsSolutions-APIG6", EXEC_LOGS)
    for rule in ("AwsSolutions-APIG1", "Serverless-APIGWAccessLogging", "Serverless-APIGWStructuredLogging"):
        ack(stack, "Solution/RestApi/DeploymentStage.prod/Resource", rule, OPT_IN_ACCESS_LOGS)
    ack(stack, "Solution/RestApi/DeploymentStage.prod/Resource", "AwsSolutions-APIG3", WAF)
    for method in ("Default/ANY", "Default/{proxy+}/ANY"):
        ack(
            stack,
            f"Solution/RestApi/{method}/Resource",
            "AwsSolutions-COG4",
            "Callers are the customer's own IAM principals (AWS_IAM authorization), not a user pool",
        )
