"""Which customer stacks use each key: the key list's view of the activation records.

An activation record (`activations/`) names the key that activated a stack; the developer page
shows, per key, the stacks still active with it, so a customer knows what revoking it would stop.
One Query per listing (the activations' customer index), not one per key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from activations.models import ACTIVE, Activation


class ActivationsOfCustomer(Protocol):
    """What this needs of the activations' store (`activations.dal.activation_store`), which the
    handler passes in: a feature's DAL does not import another feature's DAL."""

    def for_customer(self, customer_id: str) -> Iterable[Activation]: ...


def stack_name(stack_id: str) -> str:
    """`arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>` → `<name>` (else the id)."""
    parts = stack_id.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("stack/"):
        return parts[5].split("/")[1]
    return stack_id


def stacks_by_key(store: ActivationsOfCustomer, customer_id: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for activation in store.for_customer(customer_id):
        if activation.status != ACTIVE:
            continue
        found.setdefault(activation.access_key, []).append(
            {
                "stack_id": activation.stack_id,
                "stack_name": stack_name(activation.stack_id),
                "aws_account_id": activation.account_id,
                "region": activation.region,
                "version": activation.version,
                "activated_at": activation.created_at,
            }
        )
    return found
