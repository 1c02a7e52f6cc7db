"""Call facts, and how they reach their consumers: spooled, written, fanned out by type."""
