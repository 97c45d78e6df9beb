"""Hypothesis profiles: few examples on a developer's machine, many in CI.

`CI=true` (GitHub Actions sets it) selects the `ci` profile; `HYPOTHESIS_PROFILE=ci` selects it
anywhere. A test that wants its own number of examples says both, `examples(ci=300, local=30)`,
so the local run stays quick and CI still searches as widely as before.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "local")

# Deadlines are off: the machine is shared (CI runners, two xdist workers), and a slow example is
# not a failure of the property.
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "local", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(PROFILE)


def examples(*, ci: int, local: int) -> int:
    """The number of examples for one property under the active profile."""
    return ci if PROFILE == "ci" else local
