"""Budget lines and spend: a campaign's plan by category, expenses approved and paid against it,
and the 5 % / 15 % rules (seed 004)."""
