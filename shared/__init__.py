"""Closeloop's shared package: settings, database, models and the domain rules every service uses."""
