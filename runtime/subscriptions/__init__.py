"""Subscription state: whether a customer may activate (and, later, is metered and in grace)."""
