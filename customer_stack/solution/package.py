"""Builds the solution's artifacts: one deterministic zip per Lambda function.

The same source gives the same bytes, hence the same sha256, on every build: entries sorted,
fixed timestamps and permissions, no caches. That keeps the manifest's sha256 reproducible and
makes a real change of the code the only thing that changes an artifact. (Deflate output is fixed
for a given zlib; builders with a different zlib may differ, so build releases in one place.)

    python -m customer_stack.solution.package dist/artifacts   # prints the list as JSON
"""

import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path

SOLUTION = Path(__file__).resolve().parent
USAGE = SOLUTION.parent / "usage"
SIGNING = SOLUTION.parents[1] / "runtime" / "shared" / "signing.py"
# artifact name -> folder that becomes the zip's root (the Lambda handler is `handler.handler`)
ARTIFACTS = {"api": SOLUTION / "api", "usage-reporter": USAGE}
# files added at the zip's root besides the folder: the usage recorder the API calls, and the
# one signing module the reporter signs with (handler `reporter.handler`).
EXTRA_FILES = {
    "api": [(USAGE / "recorder.py", "recorder.py")],
    "usage-reporter": [(SIGNING, "signing.py")],
}

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


def build_artifacts(out_dir: str | os.PathLike, sources: dict[str, Path] | None = None) -> list[dict]:
    """Zips every artifact into out_dir as <name>.zip; returns [{name, path, sha256, size}] by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    built = []
    for name, root in sorted((sources or ARTIFACTS).items()):
        target = out / f"{name}.zip"
        zip_folder(Path(root), target, None if sources else EXTRA_FILES.get(name))
        built.append(
            {"name": name, "path": str(target), "sha256": _sha256(target), "size": target.stat().st_size}
        )
    return built


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m customer_stack.solution.package OUT_DIR")
    print(json.dumps(build_artifacts(sys.argv[1]), indent=2))
