"""Loyalty: the double-entry points ledger, point adjustments, the tier ladder and money."""
