"""Reports and digests pushed to chat: schedules, stored snapshots, their pages and chat cards."""
