"""Staging benchmark: the activation custom resource's streaming download-and-upload (`_cr_stage`,
fed by a presigned URL) against a plain boto3 `download_file` then `upload_file` of the same object.

Each side runs in a fresh child process, so its peak RSS (`ru_maxrss`) growth is its own; the S3
emulator is another process. Targets: staging memory growth <= 64 MiB whatever the artifact's size,
and staging throughput >= 0.8x the plain path's.

    python -m tests.bench.staging [AWS_ENDPOINT_URL] [SIZE_MIB]   # no endpoint: starts its own moto
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
MEMORY_TARGET_MIB = 64
RATIO_TARGET = 0.8

# The child: imports and clients first, then the baseline; only the transfer is measured.
CHILD = r"""
import json, os, resource, sys, tempfile, threading, time
import importlib.util
import boto3
from boto3.s3.transfer import TransferConfig

mode, endpoint, bucket, source, target, sha256, size = sys.argv[1:8]
size = int(size)
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
if mode == "staged":
    spec = importlib.util.spec_from_file_location("activation_standins", sys.argv[8])
    fx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fx)
    act = fx.load_activation_module()
    client = boto3.client("s3", config=act._cr_boto_config())  # as the activation function builds it
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": source}, ExpiresIn=900
    )
    artifact = {"name": "api", "sha256": sha256, "size": size}
    metadata = {"sha256": sha256, "physical-id": "act-bench", "activation-id": "act-bench"}
    cancel = threading.Event()
(client if mode == "staged" else s3).head_object(Bucket=bucket, Key=source)  # a warm connection, both sides

def status_kib(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


try:  # Linux: reset the peak (VmHWM) to the current RSS, so import-time peaks do not hide ours
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    baseline = status_kib("VmRSS")
except OSError:
    baseline = None
if baseline is None:
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if mode == "staged":
    budget = act._CrBudget(time.monotonic() + 3600, cancel)
    act._cr_stage(client, bucket, target, artifact, url, metadata, budget)
else:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "artifact.zip")
        s3.download_file(bucket, source, path)
        s3.upload_file(path, bucket, target)
seconds = time.perf_counter() - start
peak = status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_growth_kib": peak - baseline}))
"""


def _child(mode: str, endpoint: str, bucket: str, source: str, target: str, sha256: str, size: int) -> dict:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    fixtures = str(ROOT / "tests" / "plugins" / "activation_standins.py")
    out = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", CHILD, mode, endpoint, bucket, source, target, sha256, str(size), fixtures],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _source_object(s3, bucket: str, key: str, size: int) -> str:
    """Uploads `size` random bytes through a temporary file; returns their sha256."""
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile() as handle:
        left = size
        while left:
            chunk = secrets.token_bytes(min(8 * MiB, left))
            digest.update(chunk)
            handle.write(chunk)
            left -= len(chunk)
        handle.flush()
        s3.upload_file(handle.name, bucket, key)
    return digest.hexdigest()


def bench_staging(aws_endpoint_url: str, size_mib: int = 256, rounds: int = 1) -> dict:
    """Stages a `size_mib` artifact both ways (alternating, `rounds` each); returns the medians."""
    s3 = boto3.client(
        "s3",
        endpoint_url=aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the emulator accepts any credentials
    )
    bucket = f"bench-staging-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=bucket)
    size = size_mib * MiB
    try:
        sha256 = _source_object(s3, bucket, "source/api.zip", size)
        staged, plain = [], []
        for n in range(rounds):
            staged.append(
                _child("staged", aws_endpoint_url, bucket, "source/api.zip", f"staged/{n}.zip", sha256, size)
            )
            head = s3.head_object(Bucket=bucket, Key=f"staged/{n}.zip")
            if head["ContentLength"] != size or head["Metadata"].get("sha256") != sha256:
                raise RuntimeError("the staged object is not the source artifact")
            s3.delete_object(Bucket=bucket, Key=f"staged/{n}.zip")
            plain.append(
                _child("plain", aws_endpoint_url, bucket, "source/api.zip", f"plain/{n}.zip", sha256, size)
            )
            s3.delete_object(Bucket=bucket, Key=f"plain/{n}.zip")
    finally:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
    staged_s = statistics.median(r["seconds"] for r in staged)
    plain_s = statistics.median(r["seconds"] for r in plain)
    staged_mib = max(r["rss_growth_kib"] for r in staged) / 1024
    plain_mib = max(r["rss_growth_kib"] for r in plain) / 1024
    ratio = plain_s / staged_s
    return {
        "size_mib": size_mib,
        "rounds": rounds,
        "staged_seconds": round(staged_s, 3),
        "plain_seconds": round(plain_s, 3),
        "staged_mib_per_s": round(size_mib / staged_s, 1),
        "plain_mib_per_s": round(size_mib / plain_s, 1),
        "throughput_ratio": round(ratio, 3),
        "staged_rss_growth_mib": round(staged_mib, 1),
        "plain_rss_growth_mib": round(plain_mib, 1),
        "memory_ok": staged_mib <= MEMORY_TARGET_MIB,
        "throughput_ok": ratio >= RATIO_TARGET,
    }


def run(row: Callable[[str, str, str], None], size_mib: int = 256) -> dict:
    """`make bench`'s entry: its own moto server process, so the emulator's memory is not ours."""
    from tests.plugins.activation_standins import moto_subprocess

    print(f"artifact staging ({size_mib} MiB; activation custom resource vs boto3 download_file+upload_file)")
    with moto_subprocess() as endpoint:
        result = bench_staging(endpoint, size_mib, rounds=2)
    row("staging, streamed (s)", f"{result['staged_seconds']:.2f}", "")
    row("plain download_file + upload_file (s)", f"{result['plain_seconds']:.2f}", "")
    row("throughput staged / plain", f"{result['throughput_ratio']:.2f}x", f">= {RATIO_TARGET}x")
    row(
        "staging peak RSS growth (MiB)",
        f"{result['staged_rss_growth_mib']:.1f}",
        f"<= {MEMORY_TARGET_MIB} MiB",
    )
    row("plain path peak RSS growth (MiB, for reference)", f"{result['plain_rss_growth_mib']:.1f}", "")
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(
            json.dumps(bench_staging(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 256), indent=2)
        )
    else:
        run(lambda name, value, target: print(f"  {name:<58} {value:>22}   target {target}"))
