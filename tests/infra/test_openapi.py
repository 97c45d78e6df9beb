"""`docs/openapi.json` and the synthesized vendor template agree: the same routes, the same
authorization, the same functions; and the committed file is exactly what `make openapi` writes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from customer_stack import openapi

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads(COMMITTED.read_text())


def test_committed_document_is_what_the_generator_writes(vendor_template) -> None:
    assert COMMITTED.read_text() == openapi.render(openapi.build_document(vendor_template)), (
        "docs/openapi.json is out of date: run `make openapi` and commit it"
    )


def test_document_and_template_agree(document, vendor_template) -> None:
    assert openapi.disagreements(document, vendor_template) == []


def test_every_route_of_the_template_is_documented(document, vendor_template) -> None:
    deployed = {(r.method, r.path) for r in openapi.template_routes(vendor_template)}
    documented = {(m.upper(), p) for p, methods in document["paths"].items() for m in methods}
    assert deployed == documented
    assert len(deployed) >= 12  # public, developer and license routes


def test_a_route_missing_from_the_document_is_found(document, vendor_template) -> None:
    broken = copy.deepcopy(document)
    del broken["paths"]["/v1/keys"]["post"]
    assert openapi.disagreements(broken, vendor_template) == [
        "POST /v1/keys is deployed but not in the document"
    ]


def test_a_route_only_in_the_document_is_found(document, vendor_template) -> None:
    broken = copy.deepcopy(document)
    broken["paths"]["/v1/keys"]["put"] = broken["paths"]["/v1/keys"]["post"]
    assert openapi.disagreements(broken, vendor_template) == [
        "PUT /v1/keys is in the document but the template does not deploy it"
    ]


def test_an_authorization_mismatch_is_found(document, vendor_template) -> None:
    broken = copy.deepcopy(document)
    broken["paths"]["/v1/keys"]["get"]["security"] = []  # documented as public
    broken["paths"]["/v1/usage"]["post"]["security"] = [{"cognito": []}]  # a signed route as Cognito
    problems = openapi.disagreements(broken, vendor_template)
    assert problems == [
        "GET /v1/keys: the document says 'none', the template COGNITO_USER_POOLS",
        "POST /v1/usage: the document says 'cognito', the template NONE",
    ]


def test_a_template_change_stops_the_generator(vendor_template) -> None:
    """A new method in the template (here: IAM-authorized) without a description, or one whose
    authorization changed, makes the generator refuse, naming the route."""
    template = copy.deepcopy(vendor_template)
    methods = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::ApiGateway::Method"}
    name, health = next(
        (k, v) for k, v in methods.items() if v["Properties"]["HttpMethod"] == "GET" and "health" in k
    )
    added = copy.deepcopy(health)
    added["Properties"]["HttpMethod"] = "POST"
    template["Resources"][name + "Post"] = added
    with pytest.raises(
        openapi.OpenApiError, match="POST /v1/health is deployed but has no entry in ROUTE_DOCS"
    ):
        openapi.build_document(template)
    template["Resources"].pop(name + "Post")
    template["Resources"][name]["Properties"]["AuthorizationType"] = "AWS_IAM"
    with pytest.raises(openapi.OpenApiError, match="GET /v1/health: documented as 'none'.*AWS_IAM"):
        openapi.build_document(template)


def test_the_cli_checks_and_refuses_bad_input(tmp_path, vendor_template, capsys) -> None:
    template = tmp_path / "vendor.json"
    template.write_text(json.dumps(vendor_template))
    out = tmp_path / "openapi.json"
    assert openapi.main(["--template", str(template), "--out", str(out)]) == 0
    assert out.read_text() == COMMITTED.read_text()
    assert openapi.main(["--template", str(template), "--out", str(out), "--check"]) == 0
    out.write_text("{}\n")
    assert openapi.main(["--template", str(template), "--out", str(out), "--check"]) == 1
    with pytest.raises(SystemExit) as exit_info:
        openapi.main(["--template", str(tmp_path / "absent.json"), "--out", str(out)])
    assert exit_info.value.code == 2
    assert "run `make synth`" in capsys.readouterr().err
