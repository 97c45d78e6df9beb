"""CloudFormation's template language, as far as the customer template uses it: parameter
validation, conditions, intrinsic functions, dynamic references and the dependency order.

Pure functions over the template's JSON; the sandbox's customer accounts (`customer_account.py`)
use them to launch the published customer template as CloudFormation would.

AWS docs: "Parameters syntax" (AllowedPattern, AllowedValues, MinLength/MaxLength, NoEcho,
ConstraintDescription), "Intrinsic function reference", "Conditions syntax", "Pseudo parameters
reference" and "Get values stored in other services using dynamic references"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

NO_VALUE = object()  # what `{"Ref": "AWS::NoValue"}` evaluates to: the property is dropped
_DYNAMIC = re.compile(r"\{\{resolve:secretsmanager:([^}]*)\}\}")
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """A template or parameter error CloudFormation reports as `ValidationError` (HTTP 400)."""


def validate_parameters(template: dict, given: dict[str, Any]) -> dict[str, str]:
    """The parameter values CloudFormation would accept, defaults filled in, or `TemplateError`
    with CloudFormation's kind of message. A NoEcho value never appears in a message."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values: dict[str, str] = {}
    missing = []
    for name, spec in declared.items():
        if name in given:
            value = given[name]
            if not isinstance(value, str):
                raise TemplateError(f"Parameter '{name}' must be a string")
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            missing.append(name)
            continue
        _check_parameter(name, spec, value)
        values[name] = value
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")
    return values


def _check_parameter(name: str, spec: dict, value: str) -> None:
    constraint = spec.get("ConstraintDescription")

    def fail(default: str) -> None:
        raise TemplateError(
            f"Parameter '{name}' failed to satisfy constraint: {constraint}" if constraint else default
        )

    if spec.get("Type", "String") != "String":
        raise TemplateError(f"Parameter '{name}' has a type the sandbox does not emulate")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        fail(f"Parameter '{name}' must be one of AllowedValues")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        fail(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        fail(f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")
    pattern = spec.get("AllowedPattern")
    # CloudFormation matches the whole value against the pattern (Java regex semantics).
    if pattern is not None and re.fullmatch(pattern, value) is None:
        fail(f"Parameter '{name}' must match pattern {pattern}")


def check_rules(template: dict, parameters: dict[str, str]) -> None:
    """The template's `Rules`: each assertion of a rule whose `RuleCondition` holds must be true,
    or the request is refused with the assertion's `AssertDescription` (AWS docs: "Rules syntax",
    CloudFormation User Guide)."""
    evaluator = Evaluator({"Parameters": template.get("Parameters", {})}, parameters, {}, _no_ref, _no_att)
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluator.evaluate(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions", []):
            if not evaluator.evaluate(assertion["Assert"]):
                raise TemplateError(assertion.get("AssertDescription") or f"Template rule {name} failed")


def _no_ref(logical: str) -> str:
    raise TemplateError(f"Template format error: rules may refer only to parameters, not {logical}")


def _no_att(logical: str, _attribute: str) -> str:
    raise TemplateError(f"Template format error: rules may refer only to parameters, not {logical}")


def no_echo_parameters(template: dict) -> set[str]:
    return {
        k for k, v in template.get("Parameters", {}).items() if str(v.get("NoEcho", "")).lower() == "true"
    }


class Evaluator:
    """Evaluates intrinsic functions against parameters, pseudo parameters, conditions and the
    physical ids / attributes of resources created so far."""

    def __init__(
        self,
        template: dict,
        parameters: dict[str, str],
        pseudo: dict[str, str],
        ref: Callable[[str], str],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self.template = template
        self.parameters = parameters
        self.pseudo = pseudo
        self._ref = ref
        self._get_att = get_att
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            body = self.template.get("Conditions", {}).get(name)
            if body is None:
                raise TemplateError(f"Template error: unresolved condition dependency {name}")
            self.conditions[name] = bool(self.evaluate(body))
        return self.conditions[name]

    def active(self, resource: dict) -> bool:
        return "Condition" not in resource or self.condition(resource["Condition"])

    def evaluate(self, node: Any) -> Any:  # noqa: C901, PLR0911, PLR0912 - one branch per function
        if isinstance(node, list):
            return [v for v in (self.evaluate(x) for x in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.pseudo:
                    return self.pseudo[arg]
                if arg in self.parameters:
                    return self.parameters[arg]
                return self._ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._get_att(logical, attribute)
            if key == "Fn::Join":
                separator, items = arg
                return str(separator).join(str(v) for v in self.evaluate(items))
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                name, yes, no = arg
                return self.evaluate(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                left, right = (self.evaluate(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.evaluate(arg[0])
            if key == "Fn::And":
                return all(self.evaluate(v) for v in arg)
            if key == "Fn::Or":
                return any(self.evaluate(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Select":
                index, items = arg
                return self.evaluate(items)[int(self.evaluate(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.evaluate(text)).split(separator)
            if key == "Fn::Base64":
                return base64.b64encode(str(self.evaluate(arg)).encode()).decode()
            if key.startswith("Fn::"):
                raise TemplateError(f"Template format error: {key} is not emulated by the sandbox")
        out = {}
        for key, value in node.items():
            evaluated = self.evaluate(value)
            if evaluated is not NO_VALUE:
                out[key] = evaluated
        return out

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.evaluate(arg[1]))

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] not in self.parameters:
                logical, attribute = name.split(".", 1)
                return str(self._get_att(logical, attribute))
            return str(self.evaluate({"Ref": name}))

        return _SUB_VAR.sub(value, text).replace("${!", "${")


def references(node: Any) -> set[str]:
    """The logical ids a node refers to (Ref, GetAtt, Sub variables), parameters included."""
    found: set[str] = set()
    if isinstance(node, list):
        for value in node:
            found |= references(value)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.group(1).split(".", 1)[0] for m in _SUB_VAR.finditer(text)}
                if isinstance(value, list):
                    found |= references(value[1])
            else:
                found |= references(value)
    return found


def creation_order(resources: dict[str, dict]) -> list[str]:
    """Resources in an order where each comes after everything it refers to or depends on
    (a stable topological sort); a cycle is CloudFormation's "Circular dependency" error."""
    deps: dict[str, set[str]] = {}
    for logical, resource in resources.items():
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends)
        deps[logical] = (references(resource.get("Properties", {})) | set(depends)) & set(resources)
    order: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(logical: str) -> None:
        if logical in done:
            return
        if logical in visiting:
            raise TemplateError(f"Circular dependency between resources: [{logical}]")
        visiting.add(logical)
        for dep in sorted(deps[logical]):
            visit(dep)
        visiting.discard(logical)
        done.add(logical)
        order.append(logical)

    for logical in resources:
        visit(logical)
    return order


def dependencies(resources: dict[str, dict], logical: str) -> set[str]:
    resource = resources[logical]
    depends = resource.get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else list(depends)
    return (references(resource.get("Properties", {})) | set(depends)) & set(resources)


def resolve_dynamic(node: Any, secret_value: Callable[[str], str]) -> Any:
    """Replaces every `{{resolve:secretsmanager:secret-id[:SecretString[:json-key[:version-stage
    [:version-id]]]]}}` in strings by the secret's value (a JSON key's value when one is named).
    `secret_value(secret_id)` reads the current SecretString from the account's Secrets Manager."""
    if isinstance(node, list):
        return [resolve_dynamic(v, secret_value) for v in node]
    if isinstance(node, dict):
        return {k: resolve_dynamic(v, secret_value) for k, v in node.items()}
    if not isinstance(node, str) or "{{resolve:" not in node:
        return node

    def value(match: re.Match[str]) -> str:
        spec = match.group(1)
        # An ARN carries colons itself: split it off first.
        if spec.startswith("arn:"):
            parts = spec.split(":")
            secret_id, rest = ":".join(parts[:7]), parts[7:]
        else:
            secret_id, *rest = spec.split(":")
        field = rest[0] if rest else "SecretString"
        if field not in ("", "SecretString"):
            raise TemplateError(f"Dynamic reference {{{{resolve:secretsmanager:{secret_id}:…}}}} is invalid")
        text = secret_value(secret_id)
        json_key = rest[1] if len(rest) > 1 else ""
        if not json_key:
            return text
        try:
            document = json.loads(text)
        except ValueError:
            raise TemplateError(f"Could not parse SecretString JSON of secret {secret_id}") from None
        if not isinstance(document, dict) or json_key not in document:
            raise TemplateError(
                f"Could not find a value associated with JSONKey in SecretString of {secret_id}"
            )
        return str(document[json_key])

    return _DYNAMIC.sub(value, node)
