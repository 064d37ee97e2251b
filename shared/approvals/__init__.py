"""Approvals (分级审批, 双签): rules choose a chain; ordered steps of one, all or any approvers."""
