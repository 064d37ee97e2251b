"""Process analytics: cycle times, bottlenecks, timeliness, reviews, SLA compliance, first responses."""
