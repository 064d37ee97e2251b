"""The worker: sweeps deadlines and writes alerts to the outbox."""
