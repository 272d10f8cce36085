"""The member portal's domain: sign-in by one-time code (`signin`), sessions (`sessions`), what a signed-in
member sees and changes (`account`), the reward catalog and one-tap redemption (`catalog`), the daily check-in
(`checkin`), the profile form (`profile`), registration from a published link (`join`) and the sources those
links name (`sources`). Above intake, analytics, rewards, messaging and loyalty; below privacy, whose erasure
ends its sessions."""

from services.portal import account, catalog, checkin, join, profile, sessions, signin, sources

__all__ = ["account", "catalog", "checkin", "join", "profile", "sessions", "signin", "sources"]
