"""Goals that cascade (目标分解): annual → quarterly → monthly targets per department or for the
company, approved before they bind and changed afterwards only through an approved adjustment."""
