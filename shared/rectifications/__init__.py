"""Rectification items (整改措施): a problem found, the measure that fixes it, an owner and a due
date — done by the owner, verified by someone else."""
