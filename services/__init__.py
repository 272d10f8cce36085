"""Domain logic, one module per domain. Services never commit: the caller owns the transaction."""
