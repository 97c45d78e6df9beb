"""cfn-lint for the tests, with the passes remembered on disk.

cfn-lint over the three templates the project writes costs 10-30 s of CPU (it loads every resource
schema first). Its verdict depends only on the template bytes, cfn-lint's version and
`.cfnlintrc.yaml`, so a pass is recorded under `.build/cfn-lint-passed/<key>` (a SHA-256 over all
three) and the same inputs are not linted again; any change to a template, to cfn-lint or to its
settings is a new key and a fresh run. Failures are never recorded: a broken template is linted
every time (`test_cfn_lint_bites` lints one on every run). CI starts cold and lints. As for the
synth cache, `VS_SYNTH_CACHE=0` turns this off.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from tests.plugins import ROOT
from tests.plugins.synth_cache import enabled

CONFIG = ROOT / ".cfnlintrc.yaml"
PASSED = ROOT / ".build" / "cfn-lint-passed"
COMMAND = [str(Path(sys.executable).with_name("cfn-lint")), "--config-file", str(CONFIG)]


def run(*paths: Path) -> subprocess.CompletedProcess:
    """cfn-lint over `paths`, always."""
    return subprocess.run(  # noqa: S603 - our own cfn-lint on our own files
        [*COMMAND, *map(str, paths)], capture_output=True, text=True, cwd=ROOT, check=False
    )


def key(paths: tuple[Path, ...]) -> str:
    digest = hashlib.sha256(f"cfn-lint {version('cfn-lint')}\0".encode() + CONFIG.read_bytes())
    for path in paths:
        digest.update(b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def run_unless_passed(*paths: Path) -> subprocess.CompletedProcess:
    """cfn-lint over `paths`, or the recorded pass of exactly these inputs."""
    marker = PASSED / key(paths)
    if enabled() and marker.exists():
        return subprocess.CompletedProcess(COMMAND, 0, f"passed before ({marker.name})", "")
    result = run(*paths)
    if result.returncode == 0 and enabled():
        PASSED.mkdir(parents=True, exist_ok=True)
        marker.write_text(" ".join(p.name for p in paths) + "\n")
    return result
