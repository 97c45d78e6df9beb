"""Deploy-time facts of real AWS, as tests over the synthesized templates (issue 8 and 9).

Moto enforces none of these (no region rules, no account prerequisites, no key policies), so
each one is pinned here: the region, the pricing model's Marketplace resources, what survives
deleting the vendor stack, what a brand-new buyer account can deploy, and who may use each key.
"""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import Mock

import pytest

from tests.plugins.synth import load_context, synth_app, synth_cached

VENDOR = "VendstackVendorPlatform"


def build(context: dict):
    import aws_cdk as cdk

    from app import build_app

    return build_app(cdk.App(context=context))


def resources(template: dict, type_name: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


# ---- region (issue 8, item 1) ----


def test_vendor_stack_is_pinned_to_us_east_1_and_the_customer_stack_is_not(assembly):
    assert assembly.get_stack_by_name(VENDOR).environment.region == "us-east-1"
    assert assembly.get_stack_by_name("VendstackCustomer").environment.region == "unknown-region"


def test_context_naming_another_region_stops_the_synth_and_says_why():
    with pytest.raises(SystemExit) as stop:
        build({**load_context(), "vendstack:region": "eu-west-1"})
    message = str(stop.value)
    assert "'eu-west-1'" in message and "us-east-1 only" in message
    assert "GetEntitlements" in message and "EventBridge" in message and "SNS" in message


class RegionChecked(Exception):
    """Raised where build_app starts the first stack: everything before it (the region check) passed."""


def test_cli_default_region_elsewhere_stops_the_synth(monkeypatch):
    import app

    monkeypatch.setenv("CDK_DEFAULT_REGION", "ap-southeast-2")
    with pytest.raises(SystemExit, match="'ap-southeast-2'"):
        build(load_context())
    # an explicit us-east-1 in context wins over the profile's default region: build_app goes on
    # past its region check to the first stack (stopped there, as building it proves nothing more)
    monkeypatch.setattr(app, "VendorPlatformStack", Mock(side_effect=RegionChecked))
    with pytest.raises(RegionChecked):
        build({**load_context(), "vendstack:region": "us-east-1"})


# ---- pricing model (issue 8, item 2) ----


def marketplace_facts(template: dict) -> tuple[list[str], set[str]]:
    subscriptions = resources(template, "AWS::SNS::Subscription").values()
    topics = [json.dumps(s["Properties"]["TopicArn"]) for s in subscriptions]
    actions = {
        action
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in as_list(statement["Action"])
    }
    return topics, actions


def test_usage_pricing_is_the_default_without_entitlements(vendor_template):
    topics, actions = marketplace_facts(vendor_template)
    assert len(topics) == 1 and "aws-mp-subscription-notification-" in topics[0]
    assert not any("aws-mp-entitlement-notification" in t for t in topics)
    assert "aws-marketplace:GetEntitlements" not in actions
    assert {"aws-marketplace:ResolveCustomer", "aws-marketplace:BatchMeterUsage"} <= actions
    product = json.loads(
        next(
            f["Properties"]["Environment"]["Variables"]["VS_PRODUCT"]
            for f in resources(vendor_template, "AWS::Lambda::Function").values()
        )
    )
    assert product["pricing_model"] == "usage"


@pytest.mark.slow(reason="a synth of the vendor stack per pricing model (cached on disk once made)")
@pytest.mark.parametrize("model", ["contract", "contract_with_usage"])
def test_contract_pricing_subscribes_to_entitlements_and_may_read_them(model):
    context = load_context()
    context["vendstack"]["marketplace"]["pricing_model"] = model
    template = synth_cached(context, stacks=(VENDOR,)).get_stack_by_name(VENDOR).template
    topics, actions = marketplace_facts(template)
    assert sorted("entitlement" in t for t in topics) == [False, True]
    assert "aws-marketplace:GetEntitlements" in actions
    for fn in resources(template, "AWS::Lambda::Function").values():
        if "VS_PRODUCT" not in fn["Properties"].get("Environment", {}).get("Variables", {}):
            continue  # aws-cdk-lib's BucketDeployment handler
        product = json.loads(fn["Properties"]["Environment"]["Variables"]["VS_PRODUCT"])
        assert product["pricing_model"] == model


def test_unknown_pricing_model_stops_the_synth():
    context = load_context()
    context["vendstack"]["marketplace"]["pricing_model"] = "subscription"
    with pytest.raises(SystemExit, match="pricing_model' is 'subscription'; expected one of 'usage'"):
        build(context)


# ---- retained on stack deletion (issue 8, item 9) ----

RETAINED_TYPES = (
    "AWS::Signer::SigningProfile",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::Cognito::UserPool",
)


@pytest.mark.parametrize("type_name", RETAINED_TYPES)
def test_deleting_the_vendor_stack_keeps_what_customers_depend_on(vendor_template, type_name):
    found = resources(vendor_template, type_name)
    assert found, type_name
    for name, resource in found.items():
        assert resource.get("DeletionPolicy") == "Retain", name
        assert resource.get("UpdateReplacePolicy") == "Retain", name


# ---- brand-new accounts (issue 8, item 4) ----


def test_customer_access_logs_only_when_the_buyer_opts_in(customer_template):
    parameter = customer_template["Parameters"]["ApiAccessLogging"]
    assert parameter["Default"] == "Disabled" and parameter["AllowedValues"] == ["Enabled", "Disabled"]
    assert "CloudWatch Logs role" in parameter["Description"]
    condition = customer_template["Conditions"]["ApiAccessLoggingEnabled"]
    assert condition == {"Fn::Equals": [{"Ref": "ApiAccessLogging"}, "Enabled"]}
    for name, stage in resources(customer_template, "AWS::ApiGateway::Stage").items():
        setting = stage["Properties"].get("AccessLogSetting")
        assert setting is None or (
            set(setting) == {"Fn::If"} and setting["Fn::If"][0] == "ApiAccessLoggingEnabled"
        ), name
        for setting in stage["Properties"].get("MethodSettings", []):  # execution logs need the role too
            assert setting.get("LoggingLevel", "OFF") == "OFF" and not setting.get("DataTraceEnabled"), name
    for name, group in resources(customer_template, "AWS::Logs::LogGroup").items():
        if "ApiAccessLogs" in name:
            assert group.get("Condition") == "ApiAccessLoggingEnabled", name


@pytest.mark.parametrize("stack", ["vendor", "customer"])
def test_no_template_changes_account_settings_or_reserves_concurrency(
    stack, vendor_template, customer_template
):
    """New accounts have a Lambda concurrency quota of 10 and no API Gateway CloudWatch role:
    neither template may set the account's API Gateway role, and no function reserves
    concurrency (AWS docs: "Lambda quotas"; "Set up CloudWatch logging for REST APIs")."""
    template = vendor_template if stack == "vendor" else customer_template
    assert not resources(template, "AWS::ApiGateway::Account")
    functions = resources(template, "AWS::Lambda::Function")
    assert functions
    for name, fn in functions.items():
        assert "ReservedConcurrentExecutions" not in fn["Properties"], name


# ---- key policies (issue 9, item 2) ----

USE_ACTIONS = {
    "kms:*",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey*",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateMac",
    "kms:VerifyMac",
    "kms:Sign",
    "kms:Verify",
    "kms:CreateGrant",
    "kms:Generate*",
    "kms:Re*",
    "kms:Create*",
}
DATA_SERVICES = {"dynamodb.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"}


def key_statements(vendor_template) -> dict[str, list[dict]]:
    return {
        name: key["Properties"]["KeyPolicy"]["Statement"]
        for name, key in resources(vendor_template, "AWS::KMS::Key").items()
    }


def is_account_or_anyone(principal) -> bool:
    if principal == "*":
        return True
    text = json.dumps(principal)
    return '"*"' in text or ":root" in text


def test_no_key_policy_lets_the_account_or_anyone_use_a_key_directly(vendor_template):
    for name, statements in key_statements(vendor_template).items():
        for statement in statements:
            assert statement["Effect"] == "Allow", name
            actions = set(as_list(statement["Action"]))
            if not is_account_or_anyone(statement["Principal"]):
                continue
            used = actions & USE_ACTIONS
            if not used:
                continue
            # Only data keys, and only through DynamoDB or S3 for this account's identities.
            via = statement.get("Condition", {}).get("StringEquals", {})
            assert via.get("kms:ViaService") in DATA_SERVICES, (name, sorted(used))
            assert via.get("kms:CallerAccount") == {"Ref": "AWS::AccountId"}, name
            assert "kms:*" not in actions and not {"kms:GenerateMac", "kms:Sign"} & actions, name
            if "kms:CreateGrant" in actions:
                assert statement["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}, name


def principals_allowed(statements: list[dict], action: str) -> list:
    return sorted(
        json.dumps(p, sort_keys=True)
        for s in statements
        if action in as_list(s["Action"]) or "kms:*" in as_list(s["Action"])
        for p in as_list(s["Principal"].get("AWS"))
    )


def role_arn(vendor_template, construct_path_part: str) -> str:
    (logical,) = [
        k
        for k, r in resources(vendor_template, "AWS::IAM::Role").items()
        if k.startswith(construct_path_part)
    ]
    return json.dumps({"Fn::GetAtt": [logical, "Arn"]}, sort_keys=True)


def test_sensitive_keys_admit_exactly_the_roles_that_need_them(vendor_template):
    keys = key_statements(vendor_template)
    (secret,) = [k for k in keys if k.startswith("KeyVaultSecretDerivationKey")]
    (manifest,) = [k for k in keys if k.startswith("ArtifactsManifestSigningKey")]
    developer, license_, quick_launch = (
        role_arn(vendor_template, "DeveloperKeysApiRole"),
        role_arn(vendor_template, "LicenseApiRole"),
        role_arn(vendor_template, "QuickLaunchDeliveriesJobRole"),  # derives the key it delivers
    )
    assert principals_allowed(keys[secret], "kms:GenerateMac") == sorted([developer, license_, quick_launch])
    assert principals_allowed(keys[manifest], "kms:Sign") == [license_]
    for key in (secret, manifest):
        for action in USE_ACTIONS - {"kms:GenerateMac", "kms:Sign"}:
            assert principals_allowed(keys[key], action) == [], (key, action)
    # The public half stays readable by the account (publish and render read it).
    assert any(":root" in p for p in principals_allowed(keys[manifest], "kms:GetPublicKey"))
    # Administrators can still manage (and must, or KMS refuses the policy) every key.
    for name, statements in keys.items():
        assert any(":root" in p for p in principals_allowed(statements, "kms:PutKeyPolicy")), name
        assert any(":root" in p for p in principals_allowed(statements, "kms:ScheduleKeyDeletion")), name


def test_the_key_policy_test_bites(vendor_template):
    broken = json.loads(json.dumps(vendor_template))
    key = next(k for k in resources(broken, "AWS::KMS::Key") if k.startswith("KeyVaultSecretDerivationKey"))
    broken["Resources"][key]["Properties"]["KeyPolicy"]["Statement"][0]["Action"] = "kms:*"
    with pytest.raises(AssertionError):
        test_no_key_policy_lets_the_account_or_anyone_use_a_key_directly(broken)
    with pytest.raises(AssertionError):
        test_sensitive_keys_admit_exactly_the_roles_that_need_them(broken)


# ---- deployable defaults (issue 9, item 10) ----


def test_a_deployment_synth_refuses_local_developer_page_addresses():
    with pytest.raises(SystemExit) as stop:
        build(load_context(sandbox=False))
    message = str(stop.value)
    assert "'vendstack.api.developer_page_origins' is 'http://localhost:8080'" in message
    assert "'vendstack.notices.developer_page_url' is 'http://localhost:8080'" in message
    assert "-c vendstack:sandbox=true" in message


@pytest.mark.parametrize(
    "origin",
    ["http://app.example.com", "https://127.0.0.1:8443", "https://localhost", "http://[::1]:8080"],
)
def test_plain_http_and_loopback_are_refused_for_deployment(origin):
    from stacks.config import ConfigError, check_deployable, parse_config

    tree = load_context(sandbox=False)["vendstack"]
    tree["api"]["developer_page_origins"] = ["https://app.example.com", origin]
    tree["notices"]["developer_page_url"] = "https://app.example.com"
    with pytest.raises(ConfigError, match="developer_page_origins"):
        check_deployable(parse_config(tree))


def test_real_https_addresses_deploy():
    from stacks.config import check_deployable, parse_config

    tree = load_context(sandbox=False)["vendstack"]
    tree["api"]["developer_page_origins"] = ["https://app.example.com"]
    tree["notices"]["developer_page_url"] = "https://app.example.com/keys"
    tree["admin"]["principals"] = ["arn:aws:iam::111122223333:role/VendorOperator"]
    check_deployable(parse_config(tree))


def test_the_example_operator_account_is_refused_for_deployment():
    """The shipped operator principal is in the documentation account (the sandbox's): a deployment
    must name the vendor's own operators, or nobody could call the admin API."""
    from stacks.config import ConfigError, check_deployable, parse_config

    tree = load_context(sandbox=False)["vendstack"]
    tree["api"]["developer_page_origins"] = ["https://app.example.com"]
    tree["notices"]["developer_page_url"] = "https://app.example.com/keys"
    with pytest.raises(ConfigError, match=r"admin\.principals\[0\]"):
        check_deployable(parse_config(tree))


# ---- usage floods (issue 9, item 5) ----


def stage_of(template: dict) -> dict:
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    return stage["Properties"]


def test_every_route_has_its_own_throttle_and_usage_its_own_budget(vendor_template):
    settings = {(s["HttpMethod"], s["ResourcePath"]): s for s in stage_of(vendor_template)["MethodSettings"]}
    assert settings[("*", "/*")]["ThrottlingRateLimit"] == 50  # the stage default, applied per method
    routed = {
        (m["Properties"]["HttpMethod"], m["Properties"]["ResourceId"]["Ref"])
        for m in resources(vendor_template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] != "OPTIONS"
    }
    assert len(settings) - 1 == len(routed) >= 12
    usage = settings[("POST", "/~1v1~1usage")]
    assert (usage["ThrottlingRateLimit"], usage["ThrottlingBurstLimit"]) == (200, 400)
    assert settings[("GET", "/~1v1~1whoami")]["ThrottlingRateLimit"] == 50
    assert settings[("DELETE", "/~1v1~1keys~1{access_key}")]["ThrottlingBurstLimit"] == 100
    # Together the routes stay inside the account's regional quota they all share.
    assert sum(s["ThrottlingRateLimit"] for key, s in settings.items() if key != ("*", "/*")) <= 10_000


@pytest.mark.slow(reason="a fresh synth of the vendor stack that must fail (failures are not cached)")
@pytest.mark.parametrize(
    ("throttles", "message"),
    [
        ({"POST /v1/nothing": {"rate_per_second": 5, "burst": 5}}, "routes the API does not have"),
        ({"POST /v1/usage": {"rate_per_second": 9_900, "burst": 5000}}, "over API Gateway's default account"),
    ],
)
def test_impossible_route_throttles_stop_the_synth(tmp_path, throttles, message):
    context = load_context()
    context["vendstack"]["api"]["route_throttles"] = throttles
    with pytest.raises(Exception, match=message):
        synth_app(tmp_path / "out", context, stacks=(VENDOR,))


def test_badly_written_route_throttles_name_the_key():
    context = load_context()
    context["vendstack"]["api"]["route_throttles"] = {"usage": {"rate_per_second": 5, "burst": 5}}
    with pytest.raises(SystemExit, match="route_throttles' has the route 'usage'; expected \"METHOD /path\""):
        build(context)


def test_waf_web_acl_rate_limits_each_ip_on_the_api_stage(vendor_template):
    (acl_name, acl), *more = resources(vendor_template, "AWS::WAFv2::WebACL").items()
    assert not more
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    (rule,) = props["Rules"]
    assert rule["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
        "Limit": 1000,
    }
    block = rule["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429
    body = json.loads(props["CustomResponseBodies"][block["CustomResponseBodyKey"]]["Content"])
    assert set(body["error"]) == {"code", "message"}
    (association,) = resources(vendor_template, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_name, "Arn"]}
    (stage_name,) = resources(vendor_template, "AWS::ApiGateway::Stage")
    assert {"Ref": stage_name} in association["Properties"]["ResourceArn"]["Fn::Join"][1]


def acknowledged(assembly, stack: str) -> set[tuple[str, str]]:
    """(construct path, rule) of every cdk-nag acknowledgement the synth wrote into `stack`'s metadata
    (the cloud assembly's `additionalMetadataFile`, read as JSON: jsii cannot return these entries)."""
    directory = Path(assembly.directory)
    artifact = json.loads((directory / "manifest.json").read_text())["artifacts"][stack]
    metadata = json.loads((directory / artifact["additionalMetadataFile"]).read_text())
    return {
        (path, rule.removeprefix("Annotation::"))
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule in entry["data"]
    }


@pytest.mark.slow(reason="a synth of the vendor stack without WAF (cached on disk once made)")
def test_waf_acknowledgement_only_when_the_vendor_turns_waf_off(assembly):
    stage = f"/{VENDOR}/Api/RestApi/DeploymentStage.prod/Resource"
    default = acknowledged(assembly, VENDOR)
    assert (stage, "AwsSolutions-APIG6") in default  # the reader sees this stage's acknowledgements
    assert not any(rule == "AwsSolutions-APIG3" for _, rule in default)
    context = load_context()
    context["vendstack"]["api"]["waf"] = {"enabled": False}
    without_waf = synth_cached(context, stacks=(VENDOR,))
    assert (stage, "AwsSolutions-APIG3") in acknowledged(without_waf, VENDOR)
    template = without_waf.get_stack_by_name(VENDOR).template
    assert not resources(template, "AWS::WAFv2::WebACL")
    assert len(stage_of(template)["MethodSettings"]) > 1  # the per-route throttles remain


def test_sandbox_provisioning_leaves_waf_to_the_readme():
    """moto's CloudFormation has no WAFv2: the sandbox provisions only the types it lists."""
    from sandbox.provision import CFN_TYPES

    assert not any(t.startswith("AWS::WAFv2::") for t in CFN_TYPES)
