"""Puts the Lambda asset root (`runtime/`) and this folder (shared fixture modules) on sys.path."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for entry in (str(HERE.parents[1] / "runtime"), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)
