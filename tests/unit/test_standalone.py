"""The repository stands alone: every AWS payload fixture names its AWS source, and nothing in
the repository reads or names a folder beside the clone."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "aws"
# Built from parts so this file does not match itself.
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "VENDSTACK_" + "SHARED", "CONTRACT" + r"(\.md| §)"]))


def test_every_fixture_is_listed_with_its_source_and_every_listed_file_exists() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text()
    files = {p.name for p in FIXTURES.iterdir() if p.name != "SOURCES.md"}
    listed = set(re.findall(r"^\| `([^`]+\.(?:json|txt|pem))` \|", sources, re.M))
    assert files, "no fixtures found"
    assert sorted(files - listed) == [], "add a line to tests/fixtures/aws/SOURCES.md for each new fixture"
    assert sorted(listed - files) == []


def test_each_fixture_line_names_an_aws_document() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text()
    for line in re.findall(r"^\| `[^`]+\.(?:json|txt|pem)` \| (.*) \|$", sources, re.M):
        assert line.strip(), "a fixture line without its source"
        assert line.startswith("same") or re.search(r"\bAWS\b|Amazon|self-signed", line), line


def test_nothing_in_the_repository_reads_or_names_a_folder_beside_it() -> None:
    tracked = (
        subprocess.run(  # noqa: S603 - a fixed git command on this repository
            [shutil.which("git") or "git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
        )
        .stdout.decode()
        .split("\0")
    )
    offenders = []
    for name in filter(None, tracked):
        path = ROOT / name
        if not path.is_file() or path.suffix in {".pem"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{name}:{number}: {line.strip()[:100]}")
    assert offenders == [], (
        "point to docs/protocol.md (the wire protocol) and tests/fixtures/aws/ (AWS payloads) instead:\n"
        + "\n".join(offenders)
    )
