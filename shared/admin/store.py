"""Which storage scimctl works on, and its problems in one line each.

The first given of: ``--connection-string``, ``--table-endpoint``,
``SCIM_STORAGE_CONNECTION_STRING``, ``SCIM_STORAGE_TABLE_ENDPOINT``, and
make run's Azurite, through the ``storage.json`` that ``scripts/run.py``
keeps in its folder (``$SCIM_RUN_DIR``, default ``.local`` in the
repository) while it runs; scimctl then says so on stderr."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.utils import parse_connection_string

from ..config import Settings
from ..storage.tables import TENANTS, Tables

ROOT = Path(__file__).resolve().parents[2]  # the repository, where make run keeps .local
STORAGE_FILE = "storage.json"  # in make run's folder while it runs (scripts/run.py)


class StoreError(Exception):
    """No storage can be used as given; the message says why and what to do."""


@dataclasses.dataclass(frozen=True, slots=True)
class Store:
    """The storage scimctl works on and, for messages, where that came from."""

    settings: Settings
    source: str  # the option, variable or file that named it
    endpoint: str  # its Table endpoint, without a query (a SAS would be a secret)
    notice: str = ""  # said on stderr when scimctl chose the store itself
    unreachable_hint: str = ""  # what to do when the endpoint cannot be reached (default: by the reason)


def choose_store(args) -> Store:
    """The storage to use, the first given of :data:`STORE_CHOICE`."""
    settings = Settings.from_env()
    if args.table_prefix:
        settings = dataclasses.replace(settings, table_prefix=args.table_prefix)
    if args.connection_string is not None:
        return _connection_store(settings, args.connection_string, "--connection-string")
    if args.table_endpoint is not None:
        return _endpoint_store(settings, args.table_endpoint, "--table-endpoint")
    if settings.connection_string:
        return _connection_store(settings, settings.connection_string, "SCIM_STORAGE_CONNECTION_STRING")
    if settings.table_endpoint:
        return _endpoint_store(settings, settings.table_endpoint, "SCIM_STORAGE_TABLE_ENDPOINT")
    return _make_run_store(settings)


def _connection_store(settings: Settings, text: str, source: str) -> Store:
    """The store a connection string names.  One that is not ``key=value;...``
    is refused here, what else the Table SDK refuses in it by :func:`connect`;
    it is never echoed (it holds the key)."""
    try:
        parsed = parse_connection_string(text, case_sensitive_keys=False)
    except ValueError as error:
        raise StoreError(_not_a_connection_string(source, error)) from None
    return Store(dataclasses.replace(settings, connection_string=text, table_endpoint=None), source,
                 _without_query(_tables_endpoint(parsed)))


def _tables_endpoint(parsed: dict[str, str]) -> str:
    """Where a parsed connection string's tables are, for messages: its
    TableEndpoint, else its account's in Azure's documented form."""
    if "tableendpoint" in parsed:
        return parsed["tableendpoint"]
    if "accountname" not in parsed:  # UseDevelopmentStorage=true
        return "http://127.0.0.1:10002/devstoreaccount1"
    return (f"{parsed.get('defaultendpointsprotocol', 'https')}://{parsed['accountname']}.table."
            f"{parsed.get('endpointsuffix', 'core.windows.net')}")


def _not_a_connection_string(source: str, error: ValueError) -> str:
    return (f"{source} is not a storage connection string ({str(error).rstrip('.')}); it looks like "
            "DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net, "
            "or for Azurite ...;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;")


def connect(tables: Tables, store: Store) -> None:
    """Build the storage client (and the tenants table, if new) before the
    command: what the Table SDK refuses in the settings it raises as a
    ValueError from whichever call comes first, so it is asked here."""
    try:
        tables.table(TENANTS)
    except ValueError as error:
        raise StoreError(_not_a_connection_string(store.source, error) if store.settings.connection_string
                         else _line(error)) from None


def _endpoint_store(settings: Settings, url: str, source: str) -> Store:
    """The store at an https Table endpoint, reached with ``DefaultAzureCredential``."""
    try:
        host = urlsplit(url).hostname if url.startswith("https://") else None
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        host = None
    if not host:
        raise StoreError(f"{source} must be https://<account>.table.core.windows.net (the Azure identity needs "
                         "https; Azurite takes a connection string, --connection-string)")
    return Store(dataclasses.replace(settings, connection_string=None, table_endpoint=url), source, _without_query(url))


def _make_run_store(settings: Settings) -> Store:
    """make run's Azurite, through the storage file scripts/run.py keeps while it runs."""
    run_dir = Path(os.environ.get("SCIM_RUN_DIR") or ROOT / ".local")
    if not (run_dir / "azurite").is_dir():
        raise StoreError("none given: use --connection-string or --table-endpoint (or set SCIM_STORAGE_CONNECTION_STRING "
                         "or SCIM_STORAGE_TABLE_ENDPOINT), or start `make run` for a local Azurite")
    path = run_dir / STORAGE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        text, queue = record["connection_string"], record.get("events_queue", "")
    except FileNotFoundError:
        raise StoreError(f"make run is not running (there is no {_shown(path)}): start it with `make run`, "
                         "or give --connection-string or --table-endpoint") from None
    except (OSError, ValueError, LookupError, TypeError) as error:
        raise StoreError(f"cannot read make run's {_shown(path)} ({error}): restart `make run`") from None
    store = _connection_store(dataclasses.replace(settings, events_queue=settings.events_queue or queue), text,
                              f"make run's {_shown(path)}")
    return dataclasses.replace(
        store, notice=f"using make run's Azurite at {urlsplit(store.endpoint).netloc} ({_shown(run_dir / 'azurite')})",
        unreachable_hint="is make run still running? start it with `make run`")


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it (``.local/azurite``), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _without_query(url: str) -> str:
    """``url`` for messages: no query (a SAS token is a secret), no trailing slash."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


#: Why an endpoint could not be reached -- the first of these found in the
#: error's chain -- and what to try.
_UNREACHABLE = (
    (ConnectionRefusedError, "connection refused", "nothing listens there: start Azurite (`make run`) or fix the port"),
    (socket.gaierror, "name not resolved", "check the host name (an Azure account's is <account>.table.core.windows.net)"),
    (TimeoutError, "timed out", "check the address, the network and any firewall (the account's network rules)"),
    (ssl.SSLError, "TLS failed", "check that the endpoint speaks https"),
)


def storage_problem(error: Exception, store: Store) -> str:
    """One line: what went wrong with ``store`` and what to do.  The SDK's own
    messages span many lines, or name only an exception class, or say None."""
    chain = list(_chain(error))
    if any(isinstance(e, (ServiceRequestError, ServiceResponseError)) for e in chain):
        reason, hint = next(((reason, hint) for kind, reason, hint in _UNREACHABLE if any(isinstance(e, kind) for e in chain)),
                            (_line(chain[-1]), "check the endpoint and the network"))
        return f"{store.endpoint} could not be reached ({reason}): {store.unreachable_hint or hint}"
    sdk = next((e for e in chain if isinstance(e, AzureError)), None)
    if isinstance(sdk, ClientAuthenticationError) and sdk.response is None:  # raised here, before any request
        if store.settings.connection_string:
            return f"the AccountKey of {store.source} cannot sign requests ({_line(sdk)}): give the key the portal shows"
        return (f"no Azure credential found for {store.endpoint}: run `az login` "
                "(in Azure, the app's managed identity is used)")
    if isinstance(sdk, HttpResponseError):
        code = getattr(sdk, "error_code", None)  # Table Storage names every refusal; another server does not
        answer = f"{store.endpoint} answered {sdk.status_code} {getattr(code, 'value', code) or sdk.reason}"
        if sdk.status_code == 403:
            return answer + (f": check the AccountKey of {store.source}" if store.settings.connection_string else
                             ": your identity needs the Storage Table Data Contributor role on the account")
        return answer if code else answer + ": is that a Table Storage endpoint?"
    return _line(error)


def _chain(error: BaseException):
    """``error`` and what caused it, in turn: azure-core's ``inner_exception``, else the cause or context."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = getattr(error, "inner_exception", None) or error.__cause__ or error.__context__


def _line(error: BaseException) -> str:
    """The first line of ``error``'s message, or its class name when it has none."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def say(line: str) -> None:
    print(f"scimctl: {line}", file=sys.stderr)
