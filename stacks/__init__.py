"""Thin CDK stacks that compose the constructs in `constructs/`."""
