"""Hourly AWS Marketplace metering of reported usage (BatchMeterUsage)."""
