"""The example repository's custom Checkov checks (Checkov imports this directory as a package)."""
