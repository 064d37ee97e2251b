"""Cross-department collaboration requests (跨部门协作), one-off or recurring each working day."""
