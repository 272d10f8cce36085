"""Domain logic, one package per domain, importing downward only (the layers are checked by import-linter in
`make test`; see pyproject.toml). Services never commit: the caller owns the transaction."""
