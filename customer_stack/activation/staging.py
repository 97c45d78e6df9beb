"""Stages each artifact of a verified manifest in the stack's own bucket, checked on the way.

Each artifact is streamed from its presigned URL into S3 in parts (8 MiB, never whole in memory)
while hashed, and only comes into being once its size and sha256 match the signed manifest: a
small artifact is checked before its single PutObject, a large one before
CompleteMultipartUpload (else the upload is aborted). Nothing that fails verification is left in
the bucket.
"""

import hashlib
import http.client

from customer_stack.activation.common import _cr_log, _cr_sandbox, _CrFailure
from customer_stack.vendor_client import RetryPolicy, VendorRefused, endpoint_of, open_url

_CR_PART_SIZE = 8 * 1024 * 1024  # S3 multipart part; an artifact below this is one PutObject
_CR_READ_CHUNK = 1024 * 1024
# 30 s per socket operation of a download; 3 attempts on connection errors, 429 and 5xx.
_CR_DOWNLOAD_POLICY = RetryPolicy(attempts=3, base_s=0.5, cap_s=2.0, timeout_s=30.0)


def _cr_open_download(url, name, budget):
    """The open download of one artifact; an expired presigned URL is named as such."""
    what = f"the download of artifact '{name}'"
    try:
        return open_url(
            url,
            what=what,
            remaining=budget.remaining,
            policy=_CR_DOWNLOAD_POLICY,
            sleep=budget.sleep,
            allow_http_loopback=_cr_sandbox(),
        )
    except VendorRefused as exc:
        if exc.status != 403:
            raise
        raise _CrFailure(
            f"{what} from {endpoint_of(url)} was refused (HTTP 403): its presigned URL has expired or "
            "is not valid; retry to get fresh URLs"
        ) from None


def _cr_fill(resp, view, budget, doing):
    """Reads into view until it is full or the stream ends; returns the byte count."""
    filled = 0
    while filled < len(view):
        budget.check(doing)
        count = resp.readinto(view[filled : filled + _CR_READ_CHUNK])
        if not count:
            break
        filled += count
    return filled


def _cr_mismatch(artifact, size, digest):
    """A failure naming the artifact when size or sha256 differ from the manifest, else None."""
    name = artifact["name"]
    if size > artifact["size"]:
        return _CrFailure(
            f"artifact '{name}' does not match the signed manifest: "
            f"more than {artifact['size']} bytes received"
        )
    if size != artifact["size"]:
        return _CrFailure(
            f"artifact '{name}' does not match the signed manifest: {size} bytes received, "
            f"{artifact['size']} expected"
        )
    if digest != artifact["sha256"]:
        return _CrFailure(
            f"artifact '{name}' does not match the signed manifest: "
            f"sha256 {digest}, expected {artifact['sha256']}"
        )
    return None


def _cr_stage(s3, bucket, key, artifact, url, metadata, budget):
    """Streams the download into s3://bucket/key in parts, never holding more than one part."""
    name, endpoint = artifact["name"], endpoint_of(url)
    doing = f"downloading artifact '{name}' from {endpoint}"
    buffer = bytearray(_CR_PART_SIZE)
    view = memoryview(buffer)
    digest, total, upload_id, parts = hashlib.sha256(), 0, None, []
    try:
        with _cr_open_download(url, name, budget) as resp:
            while True:
                try:
                    filled = _cr_fill(resp, view, budget, doing)
                except (OSError, http.client.HTTPException) as exc:
                    reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
                    raise _CrFailure(
                        f"the download of artifact '{name}' from {endpoint} broke off after {total} bytes "
                        f"({reason})"
                    ) from None
                total += filled
                digest.update(view[:filled])
                if total > artifact["size"]:
                    raise _cr_mismatch(artifact, total, None)
                last = filled < len(buffer)
                if last:
                    failure = _cr_mismatch(artifact, total, digest.hexdigest())
                    if failure:
                        raise failure
                    view.release()  # no copy of the final bytes: the buffer itself shrinks to them
                    del buffer[filled:]
                budget.check(f"staging artifact '{name}'")
                if last and upload_id is None:
                    s3.put_object(
                        Bucket=bucket, Key=key, Body=buffer, Metadata=metadata, ContentType="application/zip"
                    )
                    return
                if upload_id is None:
                    upload_id = s3.create_multipart_upload(
                        Bucket=bucket, Key=key, Metadata=metadata, ContentType="application/zip"
                    )["UploadId"]
                if filled:
                    part = s3.upload_part(
                        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=len(parts) + 1, Body=buffer
                    )
                    parts.append({"PartNumber": len(parts) + 1, "ETag": part["ETag"]})
                if last:
                    break
        budget.check(f"staging artifact '{name}'")
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        upload_id = None
    finally:
        if upload_id is not None:
            try:
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except Exception as exc:
                _cr_log("could not abort the multipart upload", key=key, error=type(exc).__name__)


def _cr_keeps_physical_id(s3, bucket, keys, artifacts, physical_id):
    """True when the staged objects already hold these exact artifacts for this physical id."""
    for artifact in artifacts:
        try:
            head = s3.head_object(Bucket=bucket, Key=keys[artifact["name"]])
        except Exception:
            return False
        metadata = head.get("Metadata") or {}
        if (
            metadata.get("sha256") != artifact["sha256"]
            or metadata.get("physical-id") != physical_id
            or head.get("ContentLength") != artifact["size"]
        ):
            return False
    return True
