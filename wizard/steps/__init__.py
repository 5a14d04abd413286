"""One module per capability; each step observes live state, converges it, and verifies."""
