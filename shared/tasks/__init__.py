"""Tasks: owner, deadline, status — and the overdue alert they raise."""
