"""Acting from the chat: chat apps, the people behind chat ids, and the actions a card or a command
can take (`actions.py`, vendor-neutral). Each vendor's wire protocol lives in its own module."""
