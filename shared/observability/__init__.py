"""What operators see: Prometheus metrics, heartbeats and log lines (issue 14)."""
