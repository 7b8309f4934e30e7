"""The corpus and its index: documents read, cut into passages, embedded, stored and searched."""
