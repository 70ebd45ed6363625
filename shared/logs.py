"""Logging set-up shared by every entry point: no personal data in the logs.

The Azure SDK logs every storage request it sends: azure-core's
``HttpLoggingPolicy`` (logger ``azure.core.pipeline.policies.http_logging_policy``)
writes the request URL and headers at INFO.  A Table Storage URL carries the
partition and row keys, which here are tenant ids, resource ids and the
indexed values themselves (``X:un:<userName>``, ``I:uw:<work email>:<id>``,
see :mod:`shared.storage.keys`), so at INFO every userName, work email and
externalId the service touches would reach the logs -- Application
Insights in Azure (the Functions worker forwards INFO), the terminal under
``make run``.  azure-identity logs the managed identity's client id and
tenant ids at INFO, MSAL its requests at DEBUG, and urllib3 each request
line (path and query) at DEBUG.

:func:`quiet_sdk_loggers` sets those loggers to WARNING: an SDK warning or
error (a failed credential, a retry given up) is still logged, ordinary
traffic is not.  It is called by each entry point -- ``function_app``
(at import, which stays cheap: this module imports only :mod:`logging`),
the dev host (:func:`scripts.devhost.main` and :func:`scripts.devhost.serve`,
hence ``start_in_thread``) and ``scimctl`` (:func:`shared.admin.main`) --
and is idempotent.  A logger someone has already set to a level above
WARNING keeps it.

The app's own log lines name a route template (``Users/{id}``), never a
path, a query string, a header or a body (``docs/security.md``, "What is
logged, and what never is").
"""

from __future__ import annotations

import logging

#: Loggers set to WARNING by :func:`quiet_sdk_loggers`, and why.
SDK_LOGGERS = {
    "azure.core.pipeline.policies.http_logging_policy": "every request URL (row keys hold values) at INFO",
    "azure.identity": "client and tenant ids at INFO",
    "msal": "token requests at DEBUG",
    "urllib3": "every request line (path and query) at DEBUG",
}


def quiet_sdk_loggers() -> None:
    """Set the SDK loggers of :data:`SDK_LOGGERS` to WARNING (idempotent)."""
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:  # NOTSET (0) included; a stricter level is kept
            logger.setLevel(logging.WARNING)

