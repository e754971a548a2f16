"""Business-intelligence tools on the published schema (the Superset dashboard)."""
