"""Activations (docs/protocol.md §4.1): a customer stack asks for the current release, signed for
its account."""
