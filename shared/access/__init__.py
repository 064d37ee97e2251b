"""Who may see and change which item: the one permission model (see `policy`)."""
