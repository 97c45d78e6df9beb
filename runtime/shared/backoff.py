"""Jittered exponential backoff: the one delay every retry loop of the platform waits.

"Equal jitter": the delay's ceiling doubles with each attempt up to a cap, half of it is waited
for sure and the other half is random, so callers that failed together do not retry together
while none retries at once. AWS docs: "Retry behavior" (AWS SDKs and Tools Reference Guide,
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html) and the AWS
Architecture Blog's "Exponential Backoff And Jitter"
(https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
"""

from __future__ import annotations

import random
from collections.abc import Callable


def equal_jitter(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt `attempt` (0 for the first): between half and all of
    `min(cap, base * 2**attempt)`. `rand` returns a number in [0, 1) (tests pass their own)."""
    if attempt < 0 or base < 0 or cap < 0:
        raise ValueError("attempt, base and cap must not be negative")
    ceiling = min(cap, base * 2 ** min(attempt, 64))
    return ceiling / 2 + ceiling / 2 * rand()
