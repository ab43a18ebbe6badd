"""Users and the role groups are edited through Django's built-in auth admin.

`accounts` owns no models, so there is nothing to register here.
"""
