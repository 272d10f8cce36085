"""Helpers the tests share: API clients and request bodies, data set-up per domain, workers and saved histories."""
