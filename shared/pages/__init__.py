"""Read-only item pages: what a chat card's button opens when the team has no frontend of its own."""
