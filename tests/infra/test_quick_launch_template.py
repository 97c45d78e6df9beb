"""The customer template's two ways of getting the key (README "Quick Launch"): the pasted key pair,
or AWS Marketplace Quick Launch's deployment parameter through a dynamic reference. Deploy-time
facts pinned here: the dynamic reference is only in the stack's own secret (CloudFormation does not
resolve secure dynamic references in custom resources, and a Lambda environment would show the
key), the parameter can only hold a reference to a `marketplace-deployment` secret, never the key,
and the rule lets exactly one way through."""

from __future__ import annotations

import json
import re

SECRET_ARN = (
    "arn:aws:secretsmanager:eu-west-1:111122223333:secret:"
    "marketplace-deployment!prod-exampleprodid123!DeploymentKey-AbCdEf"
)
ACCESS_KEY = "VSAKABCDEFGHIJKLMNOP"
SECRET_KEY = "vsSK_" + "A" * 43  # noqa: S105 - a test value


def _evaluate(node, values: dict[str, str]):
    """CloudFormation's rule functions over parameter values (Fn::Or/And/Not/Equals, Ref)."""
    if isinstance(node, dict):
        [(name, args)] = node.items()
        if name == "Ref":
            return values[args]
        if name == "Fn::Equals":
            return _evaluate(args[0], values) == _evaluate(args[1], values)
        if name == "Fn::Not":
            return not _evaluate(args[0], values)
        if name == "Fn::And":
            return all(_evaluate(a, values) for a in args)
        if name == "Fn::Or":
            return any(_evaluate(a, values) for a in args)
        raise AssertionError(f"unexpected function {name}")
    return node


def _allowed(template: dict, **given: str) -> bool:
    from stacks.customer import DEPLOYMENT_KEY_PARAMETER

    values = {"AccessKey": "", "SecretKey": "", DEPLOYMENT_KEY_PARAMETER: "", **given}
    for name, value in values.items():  # each parameter's own pattern first, as CloudFormation does
        if not re.match(template["Parameters"][name]["AllowedPattern"], value):
            return False
    [assertion] = template["Rules"]["OneKeySource"]["Assertions"]
    return bool(_evaluate(assertion["Assert"], values))


def test_exactly_one_way_to_give_the_key(customer_template):
    assert _allowed(customer_template, AccessKey=ACCESS_KEY, SecretKey=SECRET_KEY)
    assert _allowed(customer_template, DeploymentKey=SECRET_ARN)
    assert _allowed(customer_template, DeploymentKey="marketplace-deployment!prod-x!DeploymentKey")
    assert not _allowed(customer_template)  # nothing given
    assert not _allowed(customer_template, AccessKey=ACCESS_KEY)  # half a pair
    assert not _allowed(
        customer_template, AccessKey=ACCESS_KEY, SecretKey=SECRET_KEY, DeploymentKey=SECRET_ARN
    )


def test_deployment_key_parameter_holds_a_reference_never_the_key(customer_template):
    from stacks.customer import DEPLOYMENT_KEY_PARAMETER

    parameter = customer_template["Parameters"][DEPLOYMENT_KEY_PARAMETER]
    assert parameter["Default"] == ""
    pattern = parameter["AllowedPattern"]
    assert re.match(pattern, SECRET_ARN)
    for pasted in (SECRET_KEY, ACCESS_KEY, json.dumps({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY})):
        assert not re.match(pattern, pasted)
    assert not re.match(pattern, "arn:aws:secretsmanager:us-east-1:111122223333:secret:someone-elses")
    for output in customer_template.get("Outputs", {}).values():
        assert DEPLOYMENT_KEY_PARAMETER not in json.dumps(output)
        assert "SecretKey" not in json.dumps(output)


def test_dynamic_reference_only_in_the_stacks_own_secret(customer_template):
    from stacks.customer import DEPLOYMENT_KEY_PARAMETER

    resources = customer_template["Resources"]
    holders = [logical for logical, r in resources.items() if "{{resolve:" in json.dumps(r)]
    [secret] = [logical for logical, r in resources.items() if r["Type"] == "AWS::SecretsManager::Secret"]
    assert holders == [secret]
    secret_string = resources[secret]["Properties"]["SecretString"]
    condition, quick, manual = secret_string["Fn::If"]
    assert condition == "QuickLaunch"
    reference = "{{resolve:secretsmanager:${" + DEPLOYMENT_KEY_PARAMETER + "}:SecretString}}"
    assert quick == {"Fn::Sub": reference}
    assert {"Ref": "SecretKey"} in manual["Fn::Join"][1]
    assert customer_template["Conditions"]["QuickLaunch"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": DEPLOYMENT_KEY_PARAMETER}, ""]}]
    }
    # Nothing else sees the parameter: not a function's environment, not the custom resource.
    users = [logical for logical, r in resources.items() if DEPLOYMENT_KEY_PARAMETER in json.dumps(r)]
    assert users == [secret]


def test_quick_launch_parameter_is_labelled_for_the_buyer(customer_template):
    from stacks.customer import DEPLOYMENT_KEY_PARAMETER

    interface = customer_template["Metadata"]["AWS::CloudFormation::Interface"]
    groups = {g["Label"]["default"]: g["Parameters"] for g in interface["ParameterGroups"]}
    assert [DEPLOYMENT_KEY_PARAMETER] in groups.values()
    assert DEPLOYMENT_KEY_PARAMETER in interface["ParameterLabels"]
