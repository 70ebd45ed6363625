"""The SCIM protocol core, sans I/O (RFC 7643, RFC 7644).

Schemas and the attribute model, request validation, the filter tree, its
grammar and its evaluation, PATCH, projection, list queries, discovery
documents, errors, the plain request/response records and the
stored-resource records: pure functions and data, no network, no storage,
no ``azure.*`` and no ``jwt``.
Imports nothing outside this package (``tests/unit/test_layers.py``).
"""
