"""Where the documented AWS payload shapes live: `../shared/fixtures/aws/` beside the repository
(as on every developer machine and in CI), or wherever `VENDSTACK_SHARED` points."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VENDSTACK_SHARED", ROOT.parent / "shared"))
AWS_FIXTURES = SHARED / "fixtures" / "aws"
if not AWS_FIXTURES.is_dir():
    raise RuntimeError(
        f"AWS fixtures not found at {AWS_FIXTURES}: clone beside ../shared or set VENDSTACK_SHARED"
    )
