"""Campaign KPIs (关键指标): a metric catalogue, targets, readings over time, the variance against
target and the cause and improvement it asks for — a variance beyond its threshold is a timed item."""
