"""Synthesized apps cached on disk, keyed by everything the synth reads.

Synthesizing the whole app costs several seconds of CPU (jsii, cdk-nag, two stacks of ~200
resources); the suite needs it once per session and once more per configuration variant. A run whose
inputs have not changed since the last one reads the cloud assembly from `.build/synth-cache/<key>/`
instead. The key is a SHA-256 over the files the synth reads (`app.py`, `cdk.json`,
`requirements.txt` and every file under `stacks/`, `constructs/`, `runtime/`, `customer_stack/` and
`web/`), the installed versions of the CDK libraries, the `CDK_*`/`AWS_*` environment and what the
caller passes (context, stacks built, asset staging). Any edit is a miss and a fresh synth. Only
synths that depend on nothing else may use it: a test that monkeypatches the app's code synthesizes
afresh. `VS_SYNTH_CACHE=0` turns the cache off.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".build" / "synth-cache"
FILES = ("app.py", "cdk.json", "requirements.txt")
FOLDERS = ("stacks", "constructs", "runtime", "customer_stack", "web")
PACKAGES = ("aws-cdk-lib", "cdk-nag", "constructs", "jsii")
KEEP = 12  # cache entries kept (the newest)


def enabled() -> bool:
    return os.environ.get("VS_SYNTH_CACHE", "1") != "0"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def key(inputs: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    paths = [ROOT / name for name in FILES]
    for folder in FOLDERS:
        paths.extend(
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    environment = {k: v for k, v in os.environ.items() if k.startswith(("CDK_", "AWS_"))}
    extra = {"packages": [_package(p) for p in PACKAGES], "env": environment, "inputs": inputs}
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def cached_assembly(inputs: dict[str, Any], synth: Callable[[Path], Any]) -> Any:
    """The cloud assembly for `inputs`: read from the cache, or `synth(outdir)` and stored."""
    from aws_cdk import cx_api

    entry = CACHE / key(inputs)
    CACHE.mkdir(parents=True, exist_ok=True)
    # One synth per key at a time: a second xdist worker waits for the first, then reads its result.
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (entry / "manifest.json").exists():
            staging = Path(tempfile.mkdtemp(prefix="synth-", dir=CACHE))
            try:
                synth(staging / "out")
                (staging / "out").rename(entry)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            _prune(keep=entry)
        os.utime(entry)
    return cx_api.CloudAssembly(str(entry))


def _prune(keep: Path) -> None:
    entries = sorted(
        (p for p in CACHE.iterdir() if p.is_dir() and p != keep and not p.name.startswith("synth-")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
