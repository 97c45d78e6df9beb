"""Customer lifecycle events for the vendor's own systems, translated from the tables' streams."""
