"""Thin routers, one per domain: parse, call shared/, return a schema."""
