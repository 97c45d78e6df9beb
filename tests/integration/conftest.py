"""Puts the Lambda asset root (`runtime/`) and this folder on sys.path: a few integration modules
share fixtures of another test module (`from test_subscriptions_flow import ...`)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for entry in (str(HERE.parents[1] / "runtime"), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)
