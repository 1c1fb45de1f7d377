"""One module per group of CLI commands; each registers itself on ``pipeline.cli.app``."""
