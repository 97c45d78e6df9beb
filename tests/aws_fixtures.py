"""Where the documented AWS payload shapes live: `tests/fixtures/aws/`, inside the repository, each
file with the AWS document it comes from in `tests/fixtures/aws/SOURCES.md`. A clone needs nothing
beside it to run the tests."""

from __future__ import annotations

from pathlib import Path

AWS_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "aws"
