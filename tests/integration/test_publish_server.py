"""`publish` against moto in server mode (as the sandbox runs it): the missing Signer jobs are
detected from the emulator's answer, said plainly, and replaced by the unsigned stand-in copy."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from customer_stack import publish as publishing
from tests.plugins.delivery_world import PRODUCT, REGION, create_delivery_resources, customer_template
from tests.plugins.moto_server import MotoServer


@pytest.fixture(scope="module")
def emulator():
    server = MotoServer()
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_missing_signing_jobs_are_detected_and_the_standin_says_so(emulator: str, tmp_path: Path) -> None:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    outputs = create_delivery_resources(session, emulator)
    template = tmp_path / "customer.template.json"
    template.write_text(json.dumps(customer_template()))
    messages: list[str] = []
    result = publishing.publish(
        outputs,
        session=session,
        endpoint_url=emulator,
        product=PRODUCT,
        version="1.0.0",
        template_path=template,
        work_dir=tmp_path / "work",
        progress=messages.append,
        region=REGION,
    )
    assert result["release"]["signing"] == "sandbox-standin-unsigned"
    assert sum(publishing.STANDIN_NOTICE in m for m in messages) >= 2  # when it happens, and at the end
    assert [a["name"] for a in result["release"]["artifacts"]] == ["api", "usage-reporter"]
    artifact = result["release"]["artifacts"][0]
    s3 = session.client("s3", endpoint_url=emulator)
    data = s3.get_object(
        Bucket=outputs["ArtifactBucket"], Key=artifact["key"], VersionId=artifact["version_id"]
    )
    assert data["ContentLength"] == artifact["size"]
    # The template's presigned URL points at the emulator: the launch link works against it too.
    assert result["template"]["url"].startswith(emulator + "/")
