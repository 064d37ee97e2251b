"""Customer feedback and complaints, with a first-response SLA; API and signed inbound intake."""
