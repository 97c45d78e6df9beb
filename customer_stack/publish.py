"""Publish a release: signed artifacts, the release record, and the customer template to launch.

    python -m customer_stack.publish [--stack VendstackVendorPlatform | --outputs-json FILE]
        [--region R] [--version X.Y.Z] [--template dist/customer.template.json] [--force]
    python -m customer_stack.publish --outputs-json .sandbox/endpoints.json   # into the sandbox

Steps (each shown as it runs): check every input without writing anything → build the solution's
zips → upload each to `s3://<ArtifactBucket>/releases/<product>/<version>/unsigned/<name>.zip` →
one AWS Signer job per artifact into `releases/<product>/<version>/signed/` → hash each signed
object (the exact version) → render the customer template with the vendor's values and upload it to
`s3://<TemplatesBucket>/<product>/<version>/customer.template.json` → write the release record
(that version's item, and the product's CURRENT item that activations read, in one transaction)
→ print the CloudFormation quick-create URL.

A version is published once: publishing an existing version is refused (exit 2) unless `--force`,
because activations already handed out promised that version's sha256s. `--force` replaces the
version's record with new object versions; customers who staged the old bytes keep them, and
their next Create/Update gets the new ones (the custom resource then sees new sha256s). Every
publish makes its version the current one, so `--force` on an older version is a rollback.

Where AWS Signer has no signing jobs (the sandbox's emulator) the artifacts are NOT signed: a
stand-in copies them unchanged to `signed/`, says so, and the record says
`signing: "sandbox-standin-unsigned"` (else `"aws-signer"`). The stand-in is only ever used
against an emulator (`--endpoint-url` / `--sandbox`), never against AWS itself.

Exit codes: 0 published; 2 bad input or refused (nothing written); 1 an AWS call or a signing
job failed part way (the release record is written last, so nothing is promised to customers).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from customer_stack.render import RenderError, render_template
from customer_stack.solution.config import ConfigError as SolutionConfigError
from customer_stack.solution.config import SolutionFunction
from customer_stack.solution.package import BuildError, build_artifacts

ROOT = Path(__file__).resolve().parents[1]
_RUNTIME = str(ROOT / "runtime")
if _RUNTIME not in sys.path:  # the release item layout lives with the code that reads it
    sys.path.insert(0, _RUNTIME)

from activations.dal.releases import ReleasePublishedMeanwhile, ReleaseStore  # noqa: E402 - read and write
from activations.logic.launch import quick_create_url  # noqa: E402 - one quick-create link builder
from activations.models import (  # noqa: E402
    SIGNATURE_ALGORITHM,
    SIGNING_AWS,
    SIGNING_SANDBOX,
    VERSION_RE,
    Release,
    ReleaseArtifact,
)
from shared.errors import ServiceError  # noqa: E402
from shared.timestamps import format_timestamp  # noqa: E402

DEFAULT_STACK = "VendstackVendorPlatform"
DEFAULT_TEMPLATE = Path("dist/customer.template.json")
DEFAULT_WORK_DIR = Path("dist/release")
REQUIRED_OUTPUTS = (
    "ApiUrl",
    "ArtifactBucket",
    "TemplatesBucket",
    "DataTable",
    "ManifestKeyArn",
    "SigningProfileName",
    "SigningProfileVersionArn",
)
TEMPLATE_URL_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL can live
_PRODUCT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")  # what the custom resource accepts
_HASH_CHUNK = 1024 * 1024
_CLIENT_CONFIG = Config(
    signature_version="s3v4",
    connect_timeout=5,
    read_timeout=60,
    retries={"max_attempts": 5, "mode": "standard"},
)
STANDIN_NOTICE = (
    "AWS Signer is not available here: the artifacts are NOT signed; "
    "a stand-in copies them unchanged to signed/"
)


class PublishError(Exception):
    """A failure to report in one sentence; `exit_code` is what the command exits with."""

    exit_code = 1


class BadInput(PublishError):
    """Missing or wrong input, or a refused republish: nothing was written."""

    exit_code = 2


class PublishedMeanwhile(PublishError):
    """Another run published the same version first; this run's objects promise nothing."""

    exit_code = 2


class SignerUnavailable(Exception):
    """The endpoint has no AWS Signer signing jobs (an emulator)."""


def _aws_error(doing: str, exc: BaseException) -> PublishError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return PublishError(f"{doing} failed: {error.get('Code')}: {error.get('Message', '')}".rstrip(": "))
    return PublishError(f"{doing} failed: {type(exc).__name__}: {exc}")


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status_of(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _signer_missing(exc: Exception) -> bool:
    """An emulator without signing jobs: moto answers a bare 404 ("Not yet implemented"). A real
    Signer 404 is `ResourceNotFoundException` (no such profile), which is a real error."""
    if isinstance(exc, NotImplementedError):
        return True
    if not isinstance(exc, ClientError):
        return False
    code = _error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    return (
        code in {"404", "NotImplemented", "NotImplementedException", "InternalFailure"}
        or "not yet implemented" in message
        or (_status_of(exc) == 404 and code != "ResourceNotFoundException")
    )


# --- inputs ----------------------------------------------------------------------------------------


def check_outputs(outputs: Any) -> dict[str, str]:
    if not isinstance(outputs, dict):
        raise BadInput("the vendor stack outputs must be a JSON object of output name → value")
    missing = [k for k in REQUIRED_OUTPUTS if not isinstance(outputs.get(k), str) or not outputs[k].strip()]
    if missing:
        raise BadInput(
            f"the vendor stack outputs lack {', '.join(missing)}: deploy the vendor platform "
            f"({DEFAULT_STACK}) first, or pass the right --outputs-json file"
        )
    return {k: outputs[k].strip() for k in REQUIRED_OUTPUTS}


def check_version(version: str) -> str:
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise BadInput(f"version {str(version)[:40]!r} is not X.Y.Z (three numbers, e.g. 1.4.0)")
    return version


def _check_bucket(s3: Any, bucket: str, what: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if _status_of(exc) == 404 or _error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
            raise BadInput(
                f"the {what} bucket {bucket} does not exist (is the vendor platform deployed?)"
            ) from None
        if _status_of(exc) == 403:
            raise BadInput(
                f"no access to the {what} bucket {bucket}: check the publisher's credentials"
            ) from None
        raise _aws_error(f"checking the {what} bucket {bucket}", exc) from None
    except BotoCoreError as exc:
        raise _aws_error(f"checking the {what} bucket {bucket}", exc) from None


def _check_versioned(s3: Any, bucket: str) -> None:
    try:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(f"reading the versioning of {bucket}", exc) from None
    if status != "Enabled":
        raise BadInput(
            f"the artifact bucket {bucket} is not versioned: AWS Signer and the release record need "
            "exact object versions"
        )


def _existing_release(releases: ReleaseStore, table: str, product: str, version: str) -> Release | None:
    try:
        return releases.version(product, version)
    except ServiceError as exc:
        cause = exc.__cause__ or exc
        if isinstance(cause, ClientError) and _error_code(cause) == "ResourceNotFoundException":
            raise BadInput(
                f"the data table {table} does not exist (is the vendor platform deployed?)"
            ) from None
        raise _aws_error(f"reading the release record from {table}", cause) from None


def _public_key_b64(kms: Any, key_arn: str) -> str:
    try:
        answer = kms.get_public_key(KeyId=key_arn)
    except ClientError as exc:
        if _error_code(exc) in {"NotFoundException", "InvalidArnException", "ValidationException"}:
            raise BadInput(f"the manifest key {key_arn} does not exist or is not usable") from None
        raise _aws_error(f"reading the public key of {key_arn}", exc) from None
    except BotoCoreError as exc:
        raise _aws_error(f"reading the public key of {key_arn}", exc) from None
    if answer.get("KeyUsage") != "SIGN_VERIFY" or SIGNATURE_ALGORITHM not in (
        answer.get("SigningAlgorithms") or []
    ):
        raise BadInput(f"the manifest key {key_arn} cannot sign with {SIGNATURE_ALGORITHM}")
    return base64.b64encode(answer["PublicKey"]).decode("ascii")


def _load_template(path: Path) -> dict:
    try:
        template = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"the customer template {path} does not exist: run `make synth` first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"the customer template {path} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(template, dict):
        raise BadInput(f"the customer template {path} is not a CloudFormation template")
    return template


# --- the steps that write ----------------------------------------------------------------------------


def _upload(s3: Any, bucket: str, key: str, path: Path, sha256: str) -> str:
    with Path(path).open("rb") as body:
        answer = s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType="application/zip", Metadata={"sha256": sha256}
        )
    version_id = answer.get("VersionId")
    if not version_id or version_id == "null":
        raise PublishError(f"s3://{bucket}/{key} got no object version: is the bucket versioned?")
    return version_id


def _sign_with_signer(
    signer: Any,
    s3: Any,
    *,
    bucket: str,
    key: str,
    version_id: str,
    prefix: str,
    profile: str,
    timeout_s: float,
    poll_s: float,
    progress: Callable[[str], None],
) -> tuple[str, str, str]:
    """Runs one signing job and waits for it; returns (signed key, its version id, job id)."""
    try:
        job_id = signer.start_signing_job(
            source={"s3": {"bucketName": bucket, "key": key, "version": version_id}},
            destination={"s3": {"bucketName": bucket, "prefix": prefix}},
            profileName=profile,
            clientRequestToken=str(uuid.uuid4()),
        )["jobId"]
    except (ClientError, BotoCoreError, NotImplementedError) as exc:
        if _signer_missing(exc):
            raise SignerUnavailable from None
        raise _aws_error(f"starting the signing job for {key}", exc) from None
    progress(f"    signing job {job_id} started")
    job = _wait_for_signing_job(signer, job_id, key, timeout_s=timeout_s, poll_s=poll_s)
    signed_key = ((job.get("signedObject") or {}).get("s3") or {}).get("key")
    if not signed_key:
        raise PublishError(f"signing job {job_id} succeeded but names no signed object")
    try:
        # The key carries the job id, so its latest version is the one this job wrote.
        signed_version = s3.head_object(Bucket=bucket, Key=signed_key)["VersionId"]
    except (ClientError, BotoCoreError, KeyError) as exc:
        raise _aws_error(f"reading the signed object {signed_key}", exc) from None
    return signed_key, signed_version, job_id


def _wait_for_signing_job(signer: Any, job_id: str, key: str, *, timeout_s: float, poll_s: float) -> dict:
    """boto3's Signer waiter (`successful_signing_job`: DescribeSigningJob until `Succeeded`; `Failed`
    or an unknown job stop it), polled every `poll_s` for at most `timeout_s`; then the job itself.
    AWS docs: "SuccessfulSigningJob" (boto3/botocore reference, signer waiters,
    https://docs.aws.amazon.com/botocore/latest/reference/services/signer/waiter/SuccessfulSigningJob.html)."""
    delay = max(poll_s, 0.001)
    config = {"Delay": delay, "MaxAttempts": max(1, math.ceil(timeout_s / delay))}
    try:
        signer.get_waiter("successful_signing_job").wait(jobId=job_id, WaiterConfig=config)
    except WaiterError as exc:
        last = exc.last_response or {}
        if last.get("status") == "Failed":
            reason = last.get("statusReason") or "no reason given"
            raise PublishError(f"signing job {job_id} for {key} failed: {reason}") from None
        if "Max attempts exceeded" in str(exc):
            limit = f"{timeout_s:.0f} s"
            raise PublishError(f"signing job {job_id} for {key} did not finish within {limit}") from None
        raise PublishError(f"reading signing job {job_id} failed: {exc}") from None
    try:
        return signer.describe_signing_job(jobId=job_id)
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(f"reading signing job {job_id}", exc) from None


def _standin_copy(s3: Any, *, bucket: str, key: str, version_id: str, target: str) -> tuple[str, str]:
    try:
        answer = s3.copy_object(
            Bucket=bucket,
            Key=target,
            CopySource={"Bucket": bucket, "Key": key, "VersionId": version_id},
            ContentType="application/zip",
            MetadataDirective="REPLACE",
            Metadata={"signing": SIGNING_SANDBOX},
        )
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(f"copying {key} to {target}", exc) from None
    return target, answer["VersionId"]


def _hash_object(s3: Any, bucket: str, key: str, version_id: str) -> tuple[str, int]:
    """sha256 and size of one exact object version, streamed (never held whole in memory)."""
    digest, size = hashlib.sha256(), 0
    try:
        body = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"]
        for chunk in body.iter_chunks(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(f"reading s3://{bucket}/{key}", exc) from None
    return digest.hexdigest(), size


def _write_release(releases: ReleaseStore, release: Release, *, force: bool) -> None:
    try:
        releases.record(release, force=force)
    except ReleasePublishedMeanwhile:
        raise PublishedMeanwhile(
            f"release {release.product} {release.version} was published meanwhile by another run; "
            "this run's uploads are unused object versions and promise nothing (--force replaces it)"
        ) from None
    except ServiceError as exc:
        raise _aws_error("writing the release record", exc.__cause__ or exc) from None


@dataclass(frozen=True)
class _Clients:
    s3: Any
    ddb: Any
    kms: Any
    signer: Any
    releases: ReleaseStore


def publish(
    outputs: dict,
    *,
    session: boto3.session.Session,
    endpoint_url: str | None,
    product: str,
    version: str,
    template_path: Path,
    work_dir: Path,
    progress: Callable[[str], None],
    region: str,
    force: bool = False,
    sandbox: bool = False,
    signing_timeout_s: float = 600.0,
    poll_interval_s: float = 3.0,
    solution: Sequence[SolutionFunction] | None = None,
) -> dict:
    """Publishes `version` of `product`; returns the release record, the rendered template's
    location and the quick-create URL. Raises `BadInput` (nothing written) or `PublishError`.
    Each step is one function below, in the order they run."""
    out = check_outputs(outputs)
    check_version(version)
    if not isinstance(product, str) or not _PRODUCT_RE.match(product):
        raise BadInput(f"product name {str(product)[:40]!r} is not usable in object keys")
    if not region:
        raise BadInput("no AWS region: pass --region or configure one")

    def make(service: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)

    ddb = make("dynamodb")
    aws = _Clients(make("s3"), ddb, make("kms"), make("signer"), ReleaseStore(out["DataTable"], dynamodb=ddb))
    base = f"releases/{product}/{version}"

    progress(f"[1/7] checking inputs for {product} {version} in {region}")
    rendered, replacing = _check_inputs(
        aws, out, product=product, version=version, template_path=template_path, force=force
    )
    if replacing:
        progress(f"      --force: replacing the published release {product} {version}")
    progress("[2/7] building the solution's artifacts")
    built = _build(work_dir, product, version, solution, progress)
    progress(f"[3/7] uploading to s3://{out['ArtifactBucket']}/{base}/unsigned/")
    unsigned = _upload_unsigned(aws.s3, out["ArtifactBucket"], base, built, progress)
    progress(f"[4/7] signing with AWS Signer profile {out['SigningProfileName']}")
    artifacts, signing = _sign_artifacts(
        aws,
        out,
        base=base,
        built=built,
        unsigned=unsigned,
        sandbox=sandbox,
        standin_allowed=endpoint_url is not None,
        timeout_s=signing_timeout_s,
        poll_s=poll_interval_s,
        progress=progress,
    )
    template_key = f"{product}/{version}/customer.template.json"
    progress(
        f"[5/7] uploading the rendered customer template to s3://{out['TemplatesBucket']}/{template_key}"
    )
    template = _upload_template(aws.s3, out["TemplatesBucket"], template_key, rendered, work_dir)
    release = Release(
        product=product,
        version=version,
        published_at=format_timestamp(datetime.now(UTC)),
        signing=signing,
        bucket=out["ArtifactBucket"],
        artifacts=tuple(artifacts),
        template={
            "bucket": template["bucket"],
            "key": template_key,
            "version_id": template["version_id"] or "",
        },
    )
    progress(f"[6/7] writing the release record to {out['DataTable']} ({product} {version} becomes current)")
    _write_release(aws.releases, release, force=force)
    launch_url = quick_create_url(region, template["url"], product)
    _announce(launch_url, signing, progress)
    return {
        "release": {k: v for k, v in release.attributes().items() if k != "type"},
        "template": template,
        "launch_url": launch_url,
    }


def _check_inputs(
    aws: _Clients, out: dict[str, str], *, product: str, version: str, template_path: Path, force: bool
) -> tuple[dict, bool]:
    """Step 1: every input checked before anything is written; returns the rendered template and
    whether a published release is being replaced (`force`)."""
    template = _load_template(template_path)
    _check_bucket(aws.s3, out["ArtifactBucket"], "artifact")
    _check_versioned(aws.s3, out["ArtifactBucket"])
    _check_bucket(aws.s3, out["TemplatesBucket"], "templates")
    existing = _existing_release(aws.releases, out["DataTable"], product, version)
    if existing and not force:
        raise BadInput(
            f"release {product} {version} was already published ({existing.published_at or 'earlier'}); "
            "activations were promised its artifacts. Publish a new version, or pass --force to replace it"
        )
    public_key = _public_key_b64(aws.kms, out["ManifestKeyArn"])
    try:
        rendered = render_template(
            template,
            api_url=out["ApiUrl"],
            public_key_b64=public_key,
            signing_profile_version_arn=out["SigningProfileVersionArn"],
            release_version=version,
        )
    except RenderError as exc:
        raise BadInput(f"the customer template cannot be rendered: {exc}") from None
    return rendered, existing is not None


def _build(
    work_dir: Path,
    product: str,
    version: str,
    solution: Sequence[SolutionFunction] | None,
    progress: Callable[[str], None],
) -> list[dict]:
    """Step 2: the solution's zips, built before anything is uploaded."""
    try:
        built = build_artifacts(
            Path(work_dir) / product / version / "artifacts", solution=solution, progress=progress
        )
    except (BuildError, SolutionConfigError) as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:
        raise PublishError(f"building the artifacts in {work_dir} failed: {exc}") from None
    for artifact in built:
        progress(f"      {artifact['name']}.zip  {artifact['size']} bytes  sha256 {artifact['sha256'][:16]}…")
    return built


def _upload_unsigned(
    s3: Any, bucket: str, base: str, built: list[dict], progress: Callable[[str], None]
) -> dict[str, tuple[str, str]]:
    """Step 3: each zip to `<base>/unsigned/`; name → (key, object version)."""
    unsigned: dict[str, tuple[str, str]] = {}
    for artifact in built:
        key = f"{base}/unsigned/{artifact['name']}.zip"
        try:
            unsigned[artifact["name"]] = (
                key,
                _upload(s3, bucket, key, Path(artifact["path"]), artifact["sha256"]),
            )
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(f"uploading {key}", exc) from None
        progress(f"      {key} (version {unsigned[artifact['name']][1]})")
    return unsigned


def _sign_artifacts(
    aws: _Clients,
    out: dict[str, str],
    *,
    base: str,
    built: list[dict],
    unsigned: dict[str, tuple[str, str]],
    sandbox: bool,
    standin_allowed: bool,
    timeout_s: float,
    poll_s: float,
    progress: Callable[[str], None],
) -> tuple[list[ReleaseArtifact], str]:
    """Step 4: one Signer job per artifact (or the sandbox's stand-in copy), each signed object
    hashed at its exact version; returns the release's artifacts and how they were signed."""
    bucket = out["ArtifactBucket"]
    signing = SIGNING_SANDBOX if sandbox else SIGNING_AWS
    if sandbox:
        progress(f"      {STANDIN_NOTICE}")
    artifacts: list[ReleaseArtifact] = []
    for artifact in built:
        name = artifact["name"]
        key, version_id = unsigned[name]
        job_id = None
        if signing == SIGNING_AWS:
            try:
                signed_key, signed_version, job_id = _sign_with_signer(
                    aws.signer,
                    aws.s3,
                    bucket=bucket,
                    key=key,
                    version_id=version_id,
                    prefix=f"{base}/signed/",
                    profile=out["SigningProfileName"],
                    timeout_s=timeout_s,
                    poll_s=poll_s,
                    progress=progress,
                )
            except SignerUnavailable:
                if not standin_allowed:  # never publish unsigned code to AWS itself
                    raise PublishError(
                        "AWS Signer refused the signing job as if it did not exist; nothing was published"
                    ) from None
                signing = SIGNING_SANDBOX
                progress(f"      {STANDIN_NOTICE}")
        if signing == SIGNING_SANDBOX:
            signed_key, signed_version = _standin_copy(
                aws.s3, bucket=bucket, key=key, version_id=version_id, target=f"{base}/signed/{name}.zip"
            )
        sha256, size = _hash_object(aws.s3, bucket, signed_key, signed_version)
        progress(f"      {name}: {signed_key} (version {signed_version}) sha256 {sha256[:16]}… {size} bytes")
        artifacts.append(
            ReleaseArtifact(
                name=name,
                key=signed_key,
                version_id=signed_version,
                sha256=sha256,
                size=size,
                unsigned_key=key,
                unsigned_version_id=version_id,
                signing_job_id=job_id,
            )
        )
    return artifacts, signing


def _upload_template(s3: Any, templates: str, template_key: str, rendered: dict, work_dir: Path) -> dict:
    """Step 5: the rendered template to the templates bucket, a presigned link to it, a local copy."""
    try:
        template_version = s3.put_object(
            Bucket=templates,
            Key=template_key,
            Body=(json.dumps(rendered, indent=1) + "\n").encode("utf-8"),
            ContentType="application/json",
        ).get("VersionId")
        template_url = s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": templates,
                "Key": template_key,
                **({"VersionId": template_version} if template_version else {}),
            },
            ExpiresIn=TEMPLATE_URL_SECONDS,
        )
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(f"uploading the template {template_key}", exc) from None
    rendered_copy = Path(work_dir) / template_key
    rendered_copy.write_text(json.dumps(rendered, indent=1) + "\n", encoding="utf-8")
    return {
        "bucket": templates,
        "key": template_key,
        "version_id": template_version,
        "url": template_url,
        "local_copy": str(rendered_copy),
    }


def _announce(launch_url: str, signing: str, progress: Callable[[str], None]) -> None:
    """Step 7: where to launch the published release."""
    progress("[7/7] published. Launch the customer stack with CloudFormation's quick-create link:")
    progress(f"      {launch_url}")
    progress(
        "      (the template link is a presigned URL valid for 7 days, or less if these credentials are "
        "temporary; an AWS Marketplace listing hosts the template itself, so buyers get it from there)"
    )
    if signing == SIGNING_SANDBOX:
        progress(f"      NOTE: {STANDIN_NOTICE}")


# --- command line ------------------------------------------------------------------------------------


def _product_config() -> dict:
    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return context["vendstack"]["product"]


def _outputs_from_file(path: Path, stack: str) -> tuple[Any, str | None]:
    """The outputs, and the emulator's endpoint when the file is the sandbox's endpoints.json."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"the outputs file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"the outputs file {path} is not readable JSON ({type(exc).__name__})") from None
    if isinstance(document, dict):
        if isinstance(document.get("vendor_outputs"), dict):  # the sandbox's endpoints.json
            return document["vendor_outputs"], document.get("aws_endpoint_url")
        if isinstance(document.get(stack), dict):  # `cdk deploy --outputs-file`
            return document[stack], None
    return document, None


def _outputs_from_stack(
    session: boto3.session.Session, stack: str, region: str, endpoint_url: str | None
) -> dict:
    cfn = session.client("cloudformation", region_name=region, endpoint_url=endpoint_url)
    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        if _error_code(exc) == "ValidationError":
            raise BadInput(
                f"stack {stack} does not exist in {region}: deploy the vendor platform first"
            ) from None
        raise _aws_error(f"reading the outputs of stack {stack}", exc) from None
    except BotoCoreError as exc:
        raise _aws_error(f"reading the outputs of stack {stack}", exc) from None
    return {o["OutputKey"]: o.get("OutputValue", "") for o in found.get("Outputs", [])}


def main(argv: list[str] | None = None, *, prog: str = "python -m customer_stack.publish") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--stack", default=DEFAULT_STACK, help="vendor platform stack to read outputs from")
    source.add_argument(
        "--outputs-json", type=Path, help="outputs as JSON (cdk --outputs-file, or endpoints.json)"
    )
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url", help="an AWS emulator (the sandbox); never set for AWS itself")
    parser.add_argument("--version", help="X.Y.Z; default: vendstack.product.version in cdk.json")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--force", action="store_true", help="replace an already published version")
    parser.add_argument(
        "--sandbox", action="store_true", help="emulated AWS without Signer jobs: stand-in, unsigned copies"
    )
    parser.add_argument("--signing-timeout", type=float, default=600.0, help="seconds per signing job")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, flush=True)

    try:
        product = _product_config()
        version = args.version or str(product["version"])
        check_version(version)
        session = boto3.session.Session(region_name=args.region) if args.region else boto3.session.Session()
        region = args.region or session.region_name
        if not region:
            raise BadInput("no AWS region: pass --region or configure one")
        endpoint_url = args.endpoint_url
        if args.outputs_json:
            outputs, sandbox_endpoint = _outputs_from_file(args.outputs_json, args.stack)
            endpoint_url = endpoint_url or sandbox_endpoint  # the sandbox's buckets live in its emulator
        else:
            outputs = _outputs_from_stack(session, args.stack, region, endpoint_url)
        if args.sandbox and not endpoint_url:
            raise BadInput("--sandbox needs --endpoint-url (the emulator); AWS itself always signs")
        result = publish(
            outputs,
            session=session,
            endpoint_url=endpoint_url,
            product=str(product["name"]),
            version=version,
            template_path=args.template,
            work_dir=args.work_dir,
            progress=progress,
            region=region,
            force=args.force,
            sandbox=args.sandbox,
            signing_timeout_s=args.signing_timeout,
        )
    except BadInput as exc:
        print(f"publish: {exc}; nothing was written", file=sys.stderr)
        return exc.exit_code
    except PublishError as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return exc.exit_code
    except BotoCoreError as exc:  # no credentials, no endpoint, …
        print(f"publish: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"release": result["release"]["version"], "signing": result["release"]["signing"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
