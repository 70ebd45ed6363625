"""The SCIM 2.0 service behind ``function_app.py``.

Where things live (RFC sections in each module's docstring):

* ``attribute``, ``schemas`` -- the attribute model and the schema definitions
  (RFC 7643), the single source of truth for validation and ``/Schemas``;
* ``discovery`` -- ``/Schemas``, ``/ResourceTypes``, ``/ServiceProviderConfig``;
* ``storable_text`` -- the text and numbers the service accepts (I-JSON,
  RFC 7493: what Table Storage can hold);
* ``filter``, ``matching`` -- the filter grammar and its evaluation;
* ``resource`` -- request bodies to stored attributes;
* ``patch``, ``membership`` -- the PATCH engine and group membership plans;
* ``representation`` -- responses, ``attributes``/``excludedAttributes``;
* ``query``, ``search`` -- list/search parameters, index fast paths, paging;
* ``service``, ``http`` -- route handlers and plain request/response objects;
* ``keys``, ``table_store``, ``tables``, ``storage_calls``, ``storage_errors``
  -- Azure Table Storage: key layout, operations, clients, call counting;
* ``tenants``, ``admin`` -- the tenant/token registry and its command line;
* ``config`` -- settings from the environment;
* ``logs`` -- quiets the SDK loggers that would log personal data, for every
  entry point;
* ``devhost`` -- serves ``function_app.app`` without Core Tools.

Only ``table_store``, ``tables``, ``tenants``, ``storage_calls`` and
``devhost`` import ``azure.*``; the rest is pure.
"""
