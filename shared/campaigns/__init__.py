"""Marketing campaigns."""
