"""The member portal's domain: sign-in by one-time code (`signin`), sessions (`sessions`) and what a signed-in
member sees and changes (`account`). Above rewards, messaging and loyalty, whose data it shows; below privacy,
whose erasure ends its sessions."""

from services.portal import account, sessions, signin

__all__ = ["account", "sessions", "signin"]
