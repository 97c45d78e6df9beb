"""Audit log of every developer-API and license-API call (who, what, when, outcome)."""
