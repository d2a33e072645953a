"""Training rounds: votes in, a gated checkpoint out."""
