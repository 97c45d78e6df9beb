"""The sample paid solution (textlens) and its packaging into signed-to-be artifacts."""
