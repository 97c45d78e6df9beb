"""Builds the solution's artifacts: one deterministic zip per configured function, and the usage
reporter's.

The functions come from `cdk.json` → `vendstack.solution.functions` (`customer_stack.solution.config`;
without it, the sample). The reporter's artifact is the `customer_stack/usage` folder (the
`reporter` package) with `vendor_client.py` and `signing.py` at its root. Each function's artifact
is the function's `source` folder, the usage recorder (`recorder.py`) at the zip's root so the
function can `from recorder import record`, and the function's `requirements` vendored in at the
root: wheels for the Lambda platform
(`manylinux2014_x86_64`, the function's Python version, `--only-binary=:all:`, so nothing is
compiled on the build host), installed by pip with `--no-compile`. On a name clash the recorder wins
over the source, and the source over a dependency.

The same inputs give the same bytes, hence the same sha256, on every build: entries sorted, fixed
timestamps and permissions, no caches. That keeps the manifest's sha256 reproducible and makes a
real change of the code (or of a resolved dependency) the only thing that changes an artifact.
(Deflate output is fixed for a given zlib; builders with a different zlib may differ, so build
releases in one place. Pin every requirement, `name==version`, or a new upstream release changes
the artifact.)

AWS docs: "Working with .zip file archives for Python Lambda functions"
(https://docs.aws.amazon.com/lambda/latest/dg/python-package.html): dependencies go at the root of
the .zip, and those with compiled parts must be built for the Lambda platform (manylinux wheels for
the function's architecture and Python version, `pip install --platform manylinux2014_x86_64
--only-binary=:all:`).

    python -m customer_stack.solution.package dist/artifacts   # prints the list as JSON
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from customer_stack.solution.config import REPORTER_ARTIFACT, SolutionFunction, load_solution

SOLUTION = Path(__file__).resolve().parent
ROOT = SOLUTION.parents[1]
USAGE = SOLUTION.parent / "usage"
RECORDER = USAGE / "recorder.py"
SIGNING = ROOT / "runtime" / "shared" / "signing.py"
VENDOR_CLIENT = SOLUTION.parent / "vendor_client.py"
LAMBDA_PLATFORM = "manylinux2014_x86_64"  # the template's functions run on x86_64
# The sample's folders (tests build them directly); a release builds what cdk.json configures.
ARTIFACTS = {"api": SOLUTION / "api", REPORTER_ARTIFACT: USAGE}
# The reporter's zip (the `reporter` package, handler `reporter.handler`) adds the customer side's
# vendor client and the one signing module it signs with, at the root; each configured function's
# zip adds the usage recorder (`build_function`).
REPORTER_EXTRA = [(VENDOR_CLIENT, "vendor_client.py"), (SIGNING, "signing.py")]
# Each configured function's zip adds the usage recorder and the license check (`build_function`): the
# token client, its transport and the entitlement decorator and authorizer, with the signing module
# the transport signs with, the one customer-side vendor client it calls through, and the one RSA
# verifier the token client checks signatures with (the activation's inline code uses it too).
LICENSE_CHECK = [
    (SOLUTION / "license_token.py", "license_token.py"),
    (SOLUTION.parent / "rsa_verify.py", "rsa_verify.py"),
    (SOLUTION / "license_transport.py", "license_transport.py"),
    (SOLUTION / "entitlement.py", "entitlement.py"),
    (SOLUTION.parent / "vendor_client.py", "vendor_client.py"),
    (SIGNING, "signing.py"),
]

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_FILE_MODE = 0o100644  # regular file, rw-r--r--: Lambda only needs to read the code
_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})


def _sources(root: Path) -> list[tuple[str, Path]]:
    """(name in the zip, file) for every file under root, sorted; caches and dotfiles left out."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith(".")]
        for name in files:
            if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                continue
            path = Path(folder) / name
            found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def zip_folder(root: Path, target: Path, extra: list[tuple[Path, str]] | None = None) -> None:
    """Writes root's files (and `extra` (file, name) pairs) into target as a reproducible zip
    (written aside, then moved in place)."""
    partial = target.with_name(target.name + ".partial")
    entries = dict(_sources(root))
    entries.update({name: path for path, name in extra or ()})
    with zipfile.ZipFile(partial, "w") as archive:
        for name, path in sorted(entries.items()):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.create_system = 3  # Unix, so the mode below is honoured on every build host
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


class BuildError(Exception):
    """A function's requirements could not be vendored (pip's own message says why)."""


def vendor_requirements(function: SolutionFunction, into: Path) -> None:
    """Install the function's requirements into `into` as they must be for Lambda."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # no .pyc: they differ per build and Lambda compiles on import
        # pip's conflict check reads the build host's installed packages, not the --target
        # folder (pip's `install` reference: "--no-warn-conflicts: Do not warn about broken
        # dependencies"); what it could say is not about the Lambda zip, and it was more than
        # half of a build's pip time (1.8 s -> 1.0 s of CPU for one small wheel).
        "--no-warn-conflicts",
        "--target",
        str(into),
        "--platform",
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        function.python_version,
        "--only-binary=:all:",
        "-r",
        str(function.requirements),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - pip, fixed args
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise BuildError(
            f"vendoring {function.requirements} for {function.name!r} failed: {' '.join(detail)}"
        )


def _built(target: Path) -> dict:
    return {
        "name": target.stem,
        "path": str(target),
        "sha256": _sha256(target),
        "size": target.stat().st_size,
    }


def build_function(function: SolutionFunction, out: Path) -> dict:
    """One configured function's zip: dependencies, then its source, then the usage recorder and
    the license check (these win a name clash)."""
    target = out / f"{function.name}.zip"
    with tempfile.TemporaryDirectory(prefix=f"vendstack-{function.name}-") as scratch:
        vendored = Path(scratch) / "deps"
        vendored.mkdir()
        if function.requirements is not None:
            vendor_requirements(function, vendored)
        entries = [(path, name) for name, path in _sources(vendored)]
        entries += [(path, name) for name, path in _sources(function.source)]
        entries.append((RECORDER, "recorder.py"))
        entries += LICENSE_CHECK
        zip_folder(Path(scratch) / "empty", target, entries)
    return _built(target)


def build_artifacts(
    out_dir: str | os.PathLike,
    sources: dict[str, Path] | None = None,
    *,
    solution: Sequence[SolutionFunction] | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> list[dict]:
    """Zips every artifact into out_dir as <name>.zip; returns [{name, path, sha256, size}] by name.

    Without `sources`: the configured functions (`solution`, else cdk.json's) and the usage
    reporter. With `sources` ({name: folder}): exactly those folders, nothing added."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if sources is not None:
        built = []
        for name, root in sorted(sources.items()):
            target = out / f"{name}.zip"
            zip_folder(Path(root), target)
            built.append(_built(target))
        return built
    functions = load_solution(ROOT) if solution is None else solution
    built = []
    for function in functions:
        if function.requirements is not None:
            progress(
                f"      {function.name}: vendoring {function.requirements.name} "
                f"(pip, {LAMBDA_PLATFORM}, Python {function.python_version}, wheels only)"
            )
        built.append(build_function(function, out))
    reporter = out / f"{REPORTER_ARTIFACT}.zip"
    zip_folder(USAGE, reporter, REPORTER_EXTRA)
    built.append(_built(reporter))
    return sorted(built, key=lambda artifact: artifact["name"])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m customer_stack.solution.package OUT_DIR")
    print(json.dumps(build_artifacts(sys.argv[1], progress=print), indent=2))
