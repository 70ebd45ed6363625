"""The SCIM 2.0 service behind ``function_app.py``, in layers.

=================  ============================================================
``scim/``          the protocol core, sans I/O (RFC 7643, RFC 7644): the
                   endpoint table (``endpoints``), schemas and attributes,
                   ids, request bodies and text (``request_body``,
                   ``storable_text``), preconditions, the filter tree, its
                   grammar (``filter_parser``) and its evaluation, PATCH and
                   membership plans, Bulk plans (``bulk``), projection and
                   responses, list queries,
                   discovery, OpenAPI, errors, the plain request and response
                   records (``http``), the stored-resource records and
                   versions (``records``), change events and their SET
                   claims (``events``, RFC 9967) and the poll messages
                   (``poll``, RFC 8936)
``storage/``       Azure Table Storage: key layout (``keys``), clients and
                   the storage-call counter (``tables``, ``calls``), the
                   paged-query iterator (``queries``), outcomes, a tenant's
                   transactions behind its write guard (``transactions``),
                   the resource store (``table_store``; member edges in
                   ``member_edges``) with its counters and page positions,
                   list/search execution, the change events committed with
                   their changes (``event_rows``) and waiting for delivery
                   (``outbox``), the sign-in state (``signin_rows``), the
                   audit trail, the store checker
``auth/``          the tenant registry (``tenants``), credentials and their
                   cache (``credentials``), bearer tokens, OAuth client
                   credentials, the service's signing keys
                   (``signing_keys``), Entra-issued JWTs, the rate limit,
                   sign-in domains and role maps (``signin_directory``)
``signin/``        the OpenID Provider for the application: registered
                   applications (``apps``), the upstream Entra sign-in
                   (``upstream``), the tokens' claims (``claims``), the
                   OAuth/OIDC machinery on Authlib (``provider``),
                   back-channel logout tokens (``logout``), refusal pages
``delivery/``      change events to the application: SETs signed from the
                   outbox (``sets``), the wake-up of waiting polls (``signal``),
                   push, queue and back-channel logout delivery
``web/``           the web edge: ``service`` authenticates and dispatches,
                   ``resources`` holds the User and Group handlers, ``bulk``
                   runs Bulk requests (each operation as its own request),
                   ``events`` the event feed and the key set, ``signin``
                   the sign-in routes and ``/Me``
``config``,        settings from the environment; the SDK loggers quieted for
``logs``           every entry point
``admin/``         ``scimctl``, the operator's command line
=================  ============================================================

The dev host that serves ``function_app.app`` without Core Tools runs only on
a developer's machine, so it lives outside this package, in
``scripts/devhost.py``, and is not deployed.

The import rule (``tests/unit/test_layers.py``): the core imports only the
core, and loads no ``azure.*`` and no ``jwt``; storage imports the core and
``config``/``logs``/``urls``; auth imports those and storage; sign-in those
and auth; delivery those and sign-in; the web edge is the only place every
layer meets; ``scimctl`` uses all but the web edge; only storage imports
``azure.data.tables``.
"""
