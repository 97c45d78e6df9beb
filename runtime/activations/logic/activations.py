"""Activate and deactivate customer stacks (docs/protocol.md §4.1).

Order of an activation: subscription (402, nothing recorded or handed out) → the release the
request names (404 `NotFound` if never published), or else the current one (503
`ReleaseUnavailable` when the vendor has published none) → manifest signed by KMS and
presigned downloads → activation recorded → answer. Nothing is handed out unless it was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from activations.dal.activation_store import ActivationOwnedElsewhere, ActivationStore
from activations.dal.delivery import Downloads, ManifestSigner
from activations.dal.releases import ReleaseStore
from activations.logic.errors import ReleaseUnavailable
from activations.models import (
    ACTIVATION_ID_RE,
    ACTIVE,
    DEACTIVATED,
    SIGNATURE_ALGORITHM,
    Activation,
    activation_id_for,
    canonical_manifest,
    sortable,
)
from shared.errors import NotFound, SubscriptionInactive
from shared.timestamps import format_timestamp
from subscriptions.logic import status as subscription_status

if TYPE_CHECKING:
    from activations.bodies import ActivationRequest


@dataclass(frozen=True)
class Delivery:
    """The stores and services an activation uses, built by the handler and passed in."""

    subscriptions: subscription_status.SubscriptionReader
    releases: ReleaseStore
    activations: ActivationStore
    signer: ManifestSigner
    downloads: Downloads
    bucket: str


def activate(
    delivery: Delivery,
    *,
    product: str,
    customer_id: str,
    access_key: str,
    request_nonce: str,
    request: ActivationRequest,
    now: datetime,
) -> dict:
    """`request_nonce` is the verified `X-Vs-Nonce` of this request: the signed manifest names it."""
    if not subscription_status.subscription_allows_activation(delivery.subscriptions, customer_id, now):
        raise SubscriptionInactive(
            "Your subscription is not active, so this stack cannot be activated; "
            "renew or subscribe, then retry."
        )
    if request.version is None:
        release = delivery.releases.current(product)
        if release is None or not release.artifacts:
            raise ReleaseUnavailable(
                f"No release of {product} is published yet; retry once the vendor publishes one."
            )
    else:
        # The stack's template names its release: that one, and never another (no silent
        # upgrade or downgrade). A version that was never published is the caller's mistake.
        release = delivery.releases.version(product, request.version)
        if release is None:
            raise NotFound(f"Release {request.version} of {product} was never published.")
        if not release.artifacts:
            raise ReleaseUnavailable(f"Release {request.version} of {product} has no artifacts.")
    if release.bucket != delivery.bucket:
        raise ReleaseUnavailable(f"The current release of {product} is not in the artifact store.")
    activation_id = activation_id_for(customer_id, request.stack_id)
    manifest = release.manifest(
        activation_id=activation_id,
        account_id=request.account_id,
        stack_id=request.stack_id,
        request_nonce=request_nonce,
        issued_at=now,
    )
    signature = delivery.signer.sign(canonical_manifest(manifest))
    downloads = {a.name: delivery.downloads.presign(a, now) for a in release.artifacts}
    stamp = format_timestamp(now)
    try:
        delivery.activations.record(
            Activation(
                activation_id=activation_id,
                customer_id=customer_id,
                access_key=access_key,
                account_id=request.account_id,
                region=request.region,
                stack_id=request.stack_id,
                product=release.product,
                version=release.version,
                issued_at=manifest["issued_at"],
                last_request_type=request.request_type,
                created_at=stamp,
                updated_at=stamp,
                status=ACTIVE,
            ),
            created_sortable=sortable(now),
        )
    except ActivationOwnedElsewhere:
        # The id is a hash of (customer, stack): another owner means a collision; never hand it over.
        raise ReleaseUnavailable("This stack cannot be activated right now; retry later.") from None
    return {
        "activation_id": activation_id,
        "manifest": manifest,
        "manifest_signature": signature,
        "signature_algorithm": SIGNATURE_ALGORITHM,
        "downloads": downloads,
    }


def deactivate(store: ActivationStore, *, customer_id: str, activation_id: str, now: datetime) -> None:
    """Idempotent: a deactivated activation stays so. Unknown or another customer's → 404."""
    found = store.get(activation_id) if ACTIVATION_ID_RE.match(activation_id) else None
    if found is None or found.customer_id != customer_id:
        raise NotFound("No such activation.")
    if found.status == DEACTIVATED:
        return
    store.deactivate(activation_id, customer_id, format_timestamp(now))
