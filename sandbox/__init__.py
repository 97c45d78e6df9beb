"""The local platform: the synthesized vendor template, provisioned into moto and served by
the platform's own handlers, with no AWS account (docs/protocol.md §6)."""
