"""The web edge: the one place every layer meets.  :mod:`.service` takes a
plain :class:`~shared.scim.http.Request` for a route of the endpoint table,
authenticates it and dispatches it; :mod:`.resources` holds the User and
Group handlers."""
