"""Customer notices: emails about keys about to expire and subscriptions in grace, sent once."""
