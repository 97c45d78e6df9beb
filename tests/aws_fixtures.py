"""Where the documented AWS payload shapes live: `tests/fixtures/aws/`, inside the repository, each
file with the AWS document it comes from in `tests/fixtures/aws/SOURCES.md`. A clone needs nothing
beside it to run the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AWS_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "aws"


def aws_fixture(name: str) -> Any:
    """One documented payload, parsed: `tests/fixtures/aws/<name>` (JSON)."""
    return json.loads((AWS_FIXTURES / name).read_text())


def structure(value: Any) -> Any:
    """Keys, nesting and leaf value types, recursively: what a documented payload pins when its
    values are examples."""
    if isinstance(value, dict):
        return {key: structure(item) for key, item in value.items()}
    if isinstance(value, list):
        return [structure(item) for item in value]
    return type(value).__name__
