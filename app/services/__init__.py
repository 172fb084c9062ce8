"""Use cases, one module per domain noun. Services flush; their callers commit."""
