"""Azure Table Storage: the only layer that imports ``azure.data.tables``.

Key layout (:mod:`.keys`), the clients and their call counter
(:mod:`.tables`, :mod:`.calls`), the paged-query iterator
(:mod:`.queries`), a tenant's transactions behind its write guard
(:mod:`.transactions`), the resource store (:mod:`.table_store`, its member
edges in :mod:`.member_edges`) with its counters and page positions, list and search execution, the audit trail
and the store checker.  Imports the core (:mod:`shared.scim`) and
:mod:`shared.config` only.
"""
