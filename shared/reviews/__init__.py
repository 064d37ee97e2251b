"""Cross-department reviews (跨部门评审): rounds, per-reviewer deadlines, consensus."""
