"""The subscription feature's wiring: its stores and settings, built from the function's
configuration, for both of its entry points (the registration routes and the Marketplace events
function), which must not import each other."""

from __future__ import annotations

from shared.config import get_config
from subscriptions.dal.marketplace import Marketplace
from subscriptions.dal.store import SubscriptionStore
from subscriptions.logic.events import EventContext


def event_context() -> EventContext:
    config = get_config()
    return EventContext(
        store=SubscriptionStore(config.tables.data),
        marketplace=Marketplace(),
        product_code=config.product_code,
        grace_days=config.grace_days,
        has_entitlements=config.has_entitlements,
        product_id=config.product_id,
        require_approval=config.require_approval,
    )
