"""The web edge: the one place every layer meets.  :mod:`.service` turns a
plain :class:`~shared.scim.http.Request` for a route into a
:class:`~shared.scim.http.Response`: authentication, dispatch, resource
handlers."""
