"""Usage reporting: the signed usage API, the customer's usage history and the vendor report."""
