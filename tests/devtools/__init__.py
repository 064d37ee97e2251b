"""Tests of the local development tools (services/devtools)."""
