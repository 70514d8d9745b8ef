"""Renderers: Report -> str. They never print; the CLI writes, after redaction."""
