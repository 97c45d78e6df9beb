"""The customer-facing side: the activation custom-resource code, the sample paid solution,
and rendering/publishing of the customer template."""
