"""Definitions: what journeys and rules share — conditions and their evaluation."""
