"""Every item's trail (留痕): comments, audited changes and fired escalations, in time order."""
