"""SLA engine: policies, timers, escalation levels, and the sweep that fires them exactly once."""
