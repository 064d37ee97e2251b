"""Tools for running and trying Closeloop locally; not used by the api, worker or notifier."""
