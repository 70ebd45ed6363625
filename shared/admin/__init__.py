"""``scimctl``: administer tenants, their credentials, change events, sign-in and audit trail.

Installed as the ``scimctl`` command (``pip install .``, done by ``make
install``); ``python -m shared.admin`` is the same program.  Storage comes
from ``--connection-string`` (Azurite) or ``--table-endpoint`` (Azure, with
``DefaultAzureCredential``: ``az login`` locally, a managed identity in
Azure), else from ``SCIM_STORAGE_CONNECTION_STRING`` /
``SCIM_STORAGE_TABLE_ENDPOINT``, else -- when make run's folder
(``$SCIM_RUN_DIR``, default ``.local`` in the repository) holds ``azurite/``
-- from the ``storage.json`` that ``make run`` keeps there while it runs
(:mod:`scripts.run`); scimctl then says on stderr which store it uses.  A
storage problem (a malformed connection string, an endpoint that cannot be
reached, no Azure login) is one line on stderr and exit status 2; a refused
command is one line and status 1.

A tenant argument is its id or its name (one tenant of that name); ``tenant
create`` refuses a name already taken unless ``--allow-duplicate-name``.
Every time printed is RFC 3339 UTC with milliseconds
(``2026-12-02T10:18:23.123Z``).  Secrets (tokens, client secrets) are
printed once, when issued; only their SHA-256 is stored.  ``--json`` prints
one JSON object, for scripts.  Every change is written to the tenant's audit
trail with the actor ``cli:<user name>``.
"""

from .cli import main

__all__ = ["main"]
