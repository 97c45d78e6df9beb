"""Code shared by every platform Lambda function (shipped in the same asset)."""
