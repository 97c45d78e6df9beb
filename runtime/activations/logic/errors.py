"""The activation feature's own refusals, shared by the activation and the launch-link logic."""

from __future__ import annotations

from shared.errors import ApiError


class ReleaseUnavailable(ApiError):
    """No release is published (or it is unusable): nothing to activate yet; retrying may help."""

    status = 503
    code = "ReleaseUnavailable"
