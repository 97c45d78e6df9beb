"""The vendor's operations: the admin API (customers, approval, suspension, usage, disputes)."""
