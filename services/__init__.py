"""Closeloop's processes: the API, the worker and the notifier (plus the CLI that runs them)."""
