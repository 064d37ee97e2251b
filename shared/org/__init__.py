"""Departments, users and API tokens."""
