"""The notifier: delivers outbox rows to chat bots and webhooks."""
