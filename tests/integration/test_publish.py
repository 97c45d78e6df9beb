"""`customer_stack.publish` into moto: what it uploads, signs, records and renders, and what it refuses."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from customer_stack import publish as publishing
from customer_stack.publish import BadInput, PublishError, main
from tests.plugins.delivery_world import (
    API_URL,
    ARTIFACT_BUCKET,
    DATA_TABLE,
    PRODUCT,
    TEMPLATES_BUCKET,
    DeliveryWorld,
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_publish_records_the_release_and_renders_the_template(world: DeliveryWorld) -> None:
    result = world.publish("1.0.0")
    items = {i["sk"]: i for i in world.data_items() if i["pk"] == f"RELEASE#{PRODUCT}"}
    assert set(items) == {"CURRENT", "VERSION#1.0.0"}
    current, version = items["CURRENT"], items["VERSION#1.0.0"]
    assert {k: v for k, v in current.items() if k != "sk"} == {k: v for k, v in version.items() if k != "sk"}
    assert current["signing"] == "sandbox-standin-unsigned"
    assert current["bucket"] == ARTIFACT_BUCKET and current["version"] == "1.0.0"

    assert [a["name"] for a in current["artifacts"]] == ["api", "usage-reporter"]
    artifact = current["artifacts"][0]
    assert artifact["name"] == "api"
    assert artifact["unsigned_key"] == "releases/textlens/1.0.0/unsigned/api.zip"
    assert artifact["key"] == "releases/textlens/1.0.0/signed/api.zip"
    signed = world.s3.get_object(
        Bucket=ARTIFACT_BUCKET, Key=artifact["key"], VersionId=artifact["version_id"]
    )
    data = signed["Body"].read()
    assert _sha256(data) == artifact["sha256"] and len(data) == artifact["size"]
    unsigned = world.s3.get_object(
        Bucket=ARTIFACT_BUCKET, Key=artifact["unsigned_key"], VersionId=artifact["unsigned_version_id"]
    )["Body"].read()
    assert unsigned == data  # the stand-in copies unchanged: it does NOT sign
    assert result["release"]["artifacts"][0]["sha256"] == artifact["sha256"]

    template = result["template"]
    assert (template["bucket"], template["key"]) == (
        TEMPLATES_BUCKET,
        "textlens/1.0.0/customer.template.json",
    )
    assert current["template"] == {
        "bucket": TEMPLATES_BUCKET,
        "key": template["key"],
        "version_id": template["version_id"],
    }
    stored = json.loads(
        world.s3.get_object(Bucket=TEMPLATES_BUCKET, Key=template["key"], VersionId=template["version_id"])[
            "Body"
        ].read()
    )
    params = stored["Parameters"]
    assert params["VendorApiUrl"]["Default"] == API_URL
    public_der = world.kms.get_public_key(KeyId=world.outputs["ManifestKeyArn"])["PublicKey"]
    import base64

    assert base64.b64decode(params["VendorPublicKey"]["Default"]) == public_der
    assert params["SigningProfileVersionArn"]["Default"] == world.outputs["SigningProfileVersionArn"]
    assert params["ReleaseVersion"]["Default"] == "1.0.0"  # the template names the release it delivers

    launch = urlsplit(result["launch_url"])
    assert launch.netloc == "console.aws.amazon.com" and launch.query == "region=us-east-1"
    route, _, fragment_query = launch.fragment.partition("?")
    assert route == "/stacks/quickcreate"
    fragment = parse_qs(fragment_query)
    assert fragment["stackName"] == [PRODUCT]
    template_url = fragment["templateURL"][0]
    assert template_url == template["url"] and template_url.startswith("https://")
    assert parse_qs(urlsplit(template_url).query)["X-Amz-Expires"] == ["604800"]
    assert unquote(urlsplit(template_url).path).endswith(template["key"])

    text = "\n".join(world.messages)
    for step in range(1, 8):
        assert f"[{step}/7]" in text
    assert publishing.STANDIN_NOTICE in text
    assert "Marketplace" in text


def test_republishing_a_version_is_refused_and_writes_nothing(world: DeliveryWorld) -> None:
    world.publish("1.0.0")
    items, objects = world.data_items(), world.object_versions()
    with pytest.raises(BadInput) as refused:
        world.publish("1.0.0")
    assert refused.value.exit_code == 2
    assert "already published" in str(refused.value) and "--force" in str(refused.value)
    assert world.data_items() == items and world.object_versions() == objects


def test_force_replaces_a_version_and_makes_it_current(world: DeliveryWorld) -> None:
    first = world.publish("1.0.0")["release"]
    world.publish("1.1.0")
    assert _current(world)["version"] == "1.1.0"
    forced = world.publish("1.0.0", force=True)["release"]
    current = _current(world)
    assert current["version"] == "1.0.0"
    assert current["artifacts"][0]["version_id"] == forced["artifacts"][0]["version_id"]
    assert forced["artifacts"][0]["version_id"] != first["artifacts"][0]["version_id"]
    # the object version the first publish promised still exists (versioned bucket)
    old = first["artifacts"][0]
    world.s3.head_object(Bucket=ARTIFACT_BUCKET, Key=old["key"], VersionId=old["version_id"])
    assert any("--force" in m for m in world.messages)


def _current(world: DeliveryWorld) -> dict:
    return next(i for i in world.data_items() if i["pk"] == f"RELEASE#{PRODUCT}" and i["sk"] == "CURRENT")


# --- the command line: bad input exits 2 and writes nothing ------------------------------------------


def _cli(world: DeliveryWorld, tmp_path: Path, outputs: Any, *extra: str) -> int:
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(outputs))
    return main(
        [
            "--outputs-json",
            str(outputs_file),
            "--region",
            "us-east-1",
            "--template",
            str(world.template_path),
            "--work-dir",
            str(tmp_path / "work"),
            *extra,
        ]
    )


def _without(outputs: dict, name: str) -> dict:
    return {k: v for k, v in outputs.items() if k != name}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing output", "lack DataTable"),
        ("artifact bucket absent", "does not exist"),
        ("templates bucket absent", "does not exist"),
        ("data table absent", "does not exist"),
        ("manifest key absent", "does not exist"),
        ("version not X.Y.Z", "is not X.Y.Z"),
        ("v-prefixed version", "is not X.Y.Z"),
        ("template absent", "make synth"),
        ("not a customer template", "no parameter VendorApiUrl"),
        ("sandbox without endpoint", "--sandbox needs --endpoint-url"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    world: DeliveryWorld, tmp_path: Path, capsys: pytest.CaptureFixture, case: str, expected: str
) -> None:
    outputs, extra = dict(world.outputs), []
    if case == "missing output":
        outputs = _without(outputs, "DataTable")
    elif case == "artifact bucket absent":
        outputs["ArtifactBucket"] = "vs-no-such-bucket"
    elif case == "templates bucket absent":
        outputs["TemplatesBucket"] = "vs-no-such-templates"
    elif case == "data table absent":
        outputs["DataTable"] = "vs-no-such-table"
    elif case == "manifest key absent":
        outputs["ManifestKeyArn"] = (
            outputs["ManifestKeyArn"].rsplit("/", 1)[0] + "/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12
        )
    elif case == "version not X.Y.Z":
        extra = ["--version", "1.0"]
    elif case == "v-prefixed version":
        extra = ["--version", "v1.0.0"]
    elif case == "template absent":
        world.template_path.unlink()
    elif case == "not a customer template":
        world.template_path.write_text(json.dumps({"Parameters": {}, "Resources": {}}))
    elif case == "sandbox without endpoint":
        extra = ["--sandbox"]
    items, objects = world.data_items(), world.object_versions()
    assert _cli(world, tmp_path, outputs, *extra) == 2
    err = capsys.readouterr().err
    assert expected in err and "nothing was written" in err
    assert world.data_items() == items and world.object_versions() == objects
    assert not (tmp_path / "work").exists()


def test_cli_reads_the_sandbox_endpoints_file_and_refuses_a_republish(
    world: DeliveryWorld, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    world.publish("1.0.0")
    items = world.data_items()
    assert _cli(world, tmp_path, {"api_url": "x", "vendor_outputs": world.outputs}, "--version", "1.0.0") == 2
    assert "already published" in capsys.readouterr().err
    assert world.data_items() == items


def test_cli_never_publishes_unsigned_code_to_aws(
    world: DeliveryWorld, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """In-process moto looks like AWS itself (no endpoint URL) and has no signing jobs: no stand-in."""
    assert _cli(world, tmp_path, {"VendstackVendorPlatform": world.outputs}) == 1
    err = capsys.readouterr().err
    assert "AWS Signer refused the signing job" in err
    assert [i for i in world.data_items() if i["pk"].startswith("RELEASE#")] == []


# --- AWS Signer jobs (a stand-in for the service's job API; moto has none) -----------------------------


class FakeSigner:
    """start_signing_job / describe_signing_job as AWS Signer answers them; the "signed" object is the
    source with bytes appended, written where Signer writes it (destination prefix + job id)."""

    def __init__(self, s3: Any, *, outcome: str = "Succeeded", polls_before_done: int = 2) -> None:
        self.s3 = s3
        self.outcome = outcome
        self.polls_before_done = polls_before_done
        self.jobs: dict[str, dict] = {}
        self.started: list[dict] = []

    def start_signing_job(self, **request: Any) -> dict:
        self.started.append(request)
        job_id = f"{len(self.jobs) + 1:08d}-aaaa-bbbb-cccc-dddddddddddd"
        source, destination = request["source"]["s3"], request["destination"]["s3"]
        self.jobs[job_id] = {"polls": 0, "source": source, "destination": destination}
        return {"jobId": job_id, "jobOwner": "123456789012"}

    def get_waiter(self, name: str) -> Any:
        """botocore's own waiter (its acceptors, its errors), polling this stand-in."""
        import boto3

        real = boto3.client(
            "signer", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        real.describe_signing_job = self.describe_signing_job  # what the waiter polls
        return real.get_waiter(name)

    def describe_signing_job(self, jobId: str) -> dict:  # noqa: N803 - the API's own name
        job = self.jobs[jobId]
        job["polls"] += 1
        if self.outcome == "Never" or job["polls"] <= self.polls_before_done:
            return {"jobId": jobId, "status": "InProgress"}
        if self.outcome == "Failed":
            return {"jobId": jobId, "status": "Failed", "statusReason": "profile revoked"}
        source, destination = job["source"], job["destination"]
        data = self.s3.get_object(
            Bucket=source["bucketName"], Key=source["key"], VersionId=source["version"]
        )["Body"].read()
        key = f"{destination['prefix']}{jobId}.zip"
        if "written" not in job:
            self.s3.put_object(Bucket=destination["bucketName"], Key=key, Body=data + b"SIGNED")
            job["written"] = True
        return {
            "jobId": jobId,
            "status": "Succeeded",
            "signedObject": {"s3": {"bucketName": destination["bucketName"], "key": key}},
        }


class SessionWithSigner:
    def __init__(self, session: Any, signer: FakeSigner) -> None:
        self._session, self._signer = session, signer

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._signer if service == "signer" else self._session.client(service, **kwargs)


def test_signing_jobs_sign_each_artifact_and_the_signed_bytes_are_hashed(world: DeliveryWorld) -> None:
    signer = FakeSigner(world.s3)
    result = world.publish(
        "2.0.0", session=SessionWithSigner(world.session, signer), sandbox=False, poll_interval_s=0.001
    )
    assert len(signer.started) == 2  # one signing job per artifact
    request = signer.started[0]
    assert [a["name"] for a in result["release"]["artifacts"]] == ["api", "usage-reporter"]
    artifact = result["release"]["artifacts"][0]
    assert request["profileName"] == world.outputs["SigningProfileName"]
    assert request["source"]["s3"] == {
        "bucketName": ARTIFACT_BUCKET,
        "key": "releases/textlens/2.0.0/unsigned/api.zip",
        "version": artifact["unsigned_version_id"],
    }
    assert request["destination"]["s3"] == {
        "bucketName": ARTIFACT_BUCKET,
        "prefix": "releases/textlens/2.0.0/signed/",
    }
    assert result["release"]["signing"] == "aws-signer"
    assert artifact["key"] == f"releases/textlens/2.0.0/signed/{artifact['signing_job_id']}.zip"
    unsigned = world.s3.get_object(
        Bucket=ARTIFACT_BUCKET, Key=artifact["unsigned_key"], VersionId=artifact["unsigned_version_id"]
    )["Body"].read()
    assert artifact["sha256"] == _sha256(unsigned + b"SIGNED") and artifact["size"] == len(unsigned) + 6
    assert _current(world)["signing"] == "aws-signer"
    assert publishing.STANDIN_NOTICE not in "\n".join(world.messages)


@pytest.mark.parametrize(
    ("outcome", "expected"), [("Failed", "failed: profile revoked"), ("Never", "did not finish")]
)
def test_a_failed_or_stuck_signing_job_publishes_nothing(
    world: DeliveryWorld, outcome: str, expected: str
) -> None:
    signer = FakeSigner(world.s3, outcome=outcome)
    with pytest.raises(PublishError) as failed:
        world.publish(
            "2.0.0",
            session=SessionWithSigner(world.session, signer),
            sandbox=False,
            poll_interval_s=0.001,
            signing_timeout_s=0.05,
        )
    assert failed.value.exit_code == 1 and expected in str(failed.value)
    assert [i for i in world.data_items() if i["pk"].startswith("RELEASE#")] == []


def test_data_table_name_is_the_one_given(world: DeliveryWorld) -> None:
    world.publish("1.0.0")
    assert world.ddb.get_item(
        TableName=DATA_TABLE, Key={"pk": {"S": "RELEASE#textlens"}, "sk": {"S": "VERSION#1.0.0"}}
    ).get("Item")
