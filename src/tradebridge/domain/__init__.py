"""The pure trading model: no I/O, no imports from the rest of tradebridge."""
