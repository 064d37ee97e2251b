"""Channels, the outbox, rendering and delivery to chat bots and webhooks."""
