"""No models of its own: accounts are Django's `auth.User`; roles are groups and flags.

See `travelbot.roles` for how a user's roles are derived.
"""
