"""Releases in the sandbox: `POST /_sandbox/releases` publishes the current solution code as a new
version through the same `publish` a vendor runs, and the customer accounts read what is
published (the current rendered template, and each release's artifacts) from the vendor's
emulated account, as CloudFormation and the code-signing stand-in would."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from customer_stack.publish import BadInput, PublishError, publish
from sandbox.customer_account import StackError, VendorSide

if TYPE_CHECKING:
    from sandbox.server import Sandbox

_deserializer = TypeDeserializer()


class Releases:
    def __init__(self, sandbox: Sandbox, product: str) -> None:
        self._sandbox = sandbox
        self.product = product
        self._lock = threading.Lock()  # one publish at a time

    def _client(self, service: str) -> Any:
        return self._sandbox._session.client(service, endpoint_url=self._sandbox.aws_endpoint)

    def _table(self) -> str:
        return self._sandbox.vendor_outputs["DataTable"]

    def _items(self) -> list[dict]:
        ddb = self._client("dynamodb")
        found = ddb.query(
            TableName=self._table(),
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"RELEASE#{self.product}"}},
            ConsistentRead=True,
        )["Items"]
        return [{k: _deserializer.deserialize(v) for k, v in item.items()} for item in found]

    def publish(self, version: str) -> dict:
        with self._lock:
            try:
                made = publish(
                    self._sandbox.vendor_outputs,
                    session=self._sandbox._session,
                    endpoint_url=self._sandbox.aws_endpoint,
                    product=self.product,
                    version=version,
                    template_path=self._sandbox.customer_template,
                    work_dir=self._sandbox.state_dir / "release",
                    progress=lambda m: print(f"publish: {m}", file=self._sandbox.log),
                    region=self._sandbox._session.region_name,
                    sandbox=True,
                )
            except BadInput as exc:
                status, code = (
                    (409, "Conflict") if "already published" in str(exc) else (400, "ValidationError")
                )
                raise StackError(code, str(exc), status=status) from None
            except PublishError as exc:
                raise StackError("PublishFailed", str(exc), status=500) from None
        # The sandbox's rendered template (`customer_template` in endpoints.json) stays the current
        # release's published one.
        rendered = self._sandbox.rendered_template
        tmp = rendered.with_suffix(".tmp")
        tmp.write_text(Path(made["template"]["local_copy"]).read_text(encoding="utf-8"), encoding="utf-8")
        tmp.replace(rendered)
        release = made["release"]
        return {
            "version": release["version"],
            "artifacts": [
                {"name": a["name"], "sha256": a["sha256"], "size": int(a["size"])}
                for a in release["artifacts"]
            ],
        }

    def current_template(self) -> tuple[dict, str]:
        """The published template of the current release, read from the templates bucket."""
        current = next((i for i in self._items() if i["sk"] == "CURRENT"), None)
        if current is None:
            raise StackError("ReleaseUnavailable", "Nothing is published yet.", status=503)
        where = current["template"]
        args = {"Bucket": where["bucket"], "Key": where["key"]}
        if where.get("version_id"):
            args["VersionId"] = where["version_id"]
        body = self._client("s3").get_object(**args)["Body"].read()
        return json.loads(body), str(current["version"])

    def release_artifacts(self, name: str) -> list[dict]:
        return [
            {"sha256": a["sha256"], "version": item["version"]}
            for item in self._items()
            if item["sk"] != "CURRENT"
            for a in item.get("artifacts", [])
            if a.get("name") == name
        ]

    def vendor_side(self) -> VendorSide:
        return VendorSide(
            current_template=self.current_template,
            release_artifacts=self.release_artifacts,
            signing_profile_version_arn=self._sandbox.vendor_outputs["SigningProfileVersionArn"],
            response_base_url=self._sandbox.api_url,
        )
