"""`vendstack.solution.functions`: the sample by default, and every bad value stops the synth with
a message that names the key."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from customer_stack.solution.config import SAMPLE_FUNCTIONS, ConfigError, parse_solution
from stacks.config import ROOT, parse_config

CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]["vendstack"]


def _service(root: Path) -> dict:
    (root / "svc" / "pkg").mkdir(parents=True)
    (root / "svc" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (root / "svc" / "pkg" / "__init__.py").write_text("def run(event, context):\n    return {}\n")
    (root / "req.txt").write_text("requests==2.32.3\n")
    return {"name": "worker", "source": "svc", "handler": "app.handler"}


def test_the_sample_is_the_default_and_what_cdk_json_configures() -> None:
    configured = parse_config(CONTEXT).solution
    without = {k: v for k, v in CONTEXT.items() if k != "solution"}
    assert parse_config(without).solution == configured
    assert CONTEXT["solution"]["functions"] == SAMPLE_FUNCTIONS
    (api,) = configured
    assert (api.name, api.handler, api.api, api.attribute) == ("api", "handler.handler", True, "Api")
    assert api.source == ROOT / "customer_stack" / "solution" / "api" and api.requirements is None


def test_defaults_and_a_package_handler(tmp_path) -> None:
    item = _service(tmp_path) | {"handler": "pkg.run", "requirements": "req.txt", "name": "my-worker-2"}
    (function,) = parse_solution({"solution": {"functions": [item]}}, tmp_path)
    assert (function.runtime, function.memory_mb, function.timeout_s, function.api) == (
        "python3.14",
        512,
        15,
        False,
    )
    assert function.attribute == "MyWorker2" and function.python_version == "3.14"
    assert function.requirements == tmp_path / "req.txt"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda f: f.pop("handler"), "solution.functions[0].handler' is missing"),
        (lambda f: f.update(name="Worker"), "solution.functions[0].name' is 'Worker'"),
        (lambda f: f.update(name="usage-reporter"), "solution.functions[0].name'"),
        (lambda f: f.update(source="nowhere"), "solution.functions[0].source' is 'nowhere'"),
        (lambda f: f.update(handler="app"), "solution.functions[0].handler' is 'app'"),
        (
            lambda f: f.update(handler="missing.handler"),
            "'missing.handler', but svc/missing.py does not exist",
        ),
        (lambda f: f.update(handler="class.handler"), "solution.functions[0].handler'"),
        (lambda f: f.update(requirements="nope.txt"), "solution.functions[0].requirements' is 'nope.txt'"),
        (lambda f: f.update(runtime="python2.7"), "solution.functions[0].runtime' is 'python2.7'"),
        (lambda f: f.update(memory_mb=64), "solution.functions[0].memory_mb' is 64"),
        (lambda f: f.update(memory_mb=True), "solution.functions[0].memory_mb' is True"),
        (lambda f: f.update(timeout_s=901), "solution.functions[0].timeout_s' is 901"),
        (
            lambda f: f.update(environment={"AWS_REGION": "x"}),
            "solution.functions[0].environment.AWS_REGION'",
        ),
        (lambda f: f.update(environment={"USAGE_QUEUE_URL": "x"}), "environment.USAGE_QUEUE_URL'"),
        (lambda f: f.update(environment={"A": 1}), "solution.functions[0].environment.A' is 1"),
        (lambda f: f.update(api="yes"), "solution.functions[0].api' is 'yes'"),
        (lambda f: f.update(memory=256), "solution.functions[0].memory' is not a setting"),
    ],
)
def test_bad_function_settings_name_the_key(tmp_path, change, key) -> None:
    item = _service(tmp_path)
    change(item)
    with pytest.raises(ConfigError) as raised:
        parse_solution({"solution": {"functions": [item]}}, tmp_path)
    assert str(raised.value).startswith("cdk.json context 'vendstack.solution.functions[0]")
    assert key in str(raised.value)


@pytest.mark.parametrize(
    ("functions", "message"),
    [
        ([], "must be a list of 1 to 10 functions"),
        ("api", "must be a list of 1 to 10 functions"),
        (["x"], r"solution.functions\[0\]' must be an object"),
        ([{"api": True}, {"api": True, "name": "other"}], "more than one function"),
        ([{}, {}], "repeats a function name"),
        ([{}, {"name": "worker-"}], "repeats a function name"),  # both are "Worker" attributes
    ],
)
def test_bad_function_lists_name_the_key(tmp_path, functions, message) -> None:
    base = _service(tmp_path)
    items = (
        [base | f if isinstance(f, dict) else f for f in functions]
        if isinstance(functions, list)
        else functions
    )
    with pytest.raises(ConfigError, match=message):
        parse_solution({"solution": {"functions": items}}, tmp_path)


@pytest.mark.cdk
def test_a_bad_solution_stops_the_synth_naming_the_key() -> None:
    from app import build_app

    context = copy.deepcopy(CONTEXT)
    context["solution"]["functions"][0]["memory_mb"] = 99999
    import aws_cdk as cdk

    with pytest.raises(SystemExit, match=r"vendstack.solution.functions\[0\].memory_mb' is 99999"):
        build_app(cdk.App(context={"vendstack": context}))
