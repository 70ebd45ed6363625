"""The tenant registry: tenants and the credentials that name them.

Tenants and credentials live in their own table, apart from SCIM data, one
partition per kind of row:

================  =================  ===============================================
PartitionKey      RowKey             properties
================  =================  ===============================================
``tenant``        tenant id          name, created, disabled, auth (enabled modes),
                                     entra_tenant, audiences, the change-event
                                     settings (:class:`EventSettings`), signin_link,
                                     ext (its extension schemas, :mod:`shared.scim.extensions`)
``token``         token id           tenant, hash, created, expires, revoked, scope
``client``        OAuth client id    tenant, hash, created, revoked, scope
``entra``         Entra tenant id    tenant (one of our tenants per Entra tenant)
``deleted``       tenant id          deleted (kept until its audit entries expire)
================  =================  ===============================================

Sign-in domains and role maps are rows of the same table
(:mod:`shared.auth.signin_directory`).

A bearer token is ``<token id>.<secret>``, an OAuth client an id and a
secret; only their SHA-256 is stored (:mod:`shared.auth.credentials`).
Each has one scope: ``scim`` (the resource routes) or ``events`` (the
change-event feed); issuing an ``events`` credential turns the tenant's
poll feed on.

Authentication modes (``auth``) are enabled per tenant: ``token`` (Entra's
Secret Token field), ``oauth`` (client credentials, :mod:`shared.auth.oauth`) and
``entra`` (a JWT Entra issues itself, bound to one Entra tenant id).

A verified credential is remembered in memory for ``SCIM_AUTH_CACHE_SECONDS``
(30 s, :class:`~shared.auth.credentials.CredentialCache`), never past its own
expiry, so authentication costs no storage call on most requests.  What
takes effect when, on every instance:

* revoking a token or an OAuth client: within ``SCIM_AUTH_CACHE_SECONDS``;
* a rotated token's grace period: ends on time (its expiry is checked on
  every cache hit, and the grace must be at least the cache bound, so no
  entry cached before the rotation outlives it);
* registering or removing an extension schema (``ext``, cached with the
  credential like the rest of the tenant row, so it costs a request no
  storage call): within ``SCIM_AUTH_CACHE_SECONDS``;
* disabling or deleting a tenant: its writes are refused at once (the
  write guard row, :mod:`shared.storage.transactions`), its reads within
  ``SCIM_AUTH_CACHE_SECONDS``; a deleted tenant's data is gone when
  ``delete_tenant`` returns and nothing can be written to it after.
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from ..scim.extensions import Extension, SchemaError, dump_extensions, load_extensions
from ..scim.storable_text import refused_character
from ..scim.records import now_iso
from ..storage.audit import AuditLog
from ..storage.queries import each_row
from ..storage.table_store import TenantStore
from ..storage.tables import RESOURCES, TENANTS, Tables, storage_call
from .signin_directory import SignInDirectory
from .credentials import (
    EVENTS_SCOPE,
    MIN_TOKEN_LENGTH,
    SCIM_SCOPE,
    SCOPES,
    Credential,
    CredentialCache,
    format_time,
    new_token,
    parse_time,
    secret_hash,
    token_id_of,
)

TENANT, TOKEN, CLIENT, ENTRA, DELETED = "tenant", "token", "client", "entra", "deleted"
MODES = ("token", "oauth", "entra")
# How sign-in finds the provisioned user of an Entra sign-in: ``oid`` (the
# default) is externalId = the ID token's ``oid``, with Entra's mapping
# externalId <- objectId; ``userName`` is userName = ``preferred_username``.
SIGNIN_LINKS = ("oid", "userName")
DEFAULT_MODES = ("token", "oauth")
# Characters a RowKey may not hold ("/", "\\", "#", "?", control characters) never
# reach a lookup: a credential id outside this set cannot exist.
_SAFE_ID = re.compile(r"[A-Za-z0-9._~+=-]{1,64}")


class RegistryError(Exception):
    """An administrative request that cannot be carried out (unknown tenant, ...)."""


EVENT_FORMS = ("notice", "full")


@dataclass(frozen=True, slots=True)
class EventSettings:
    """How a tenant's change events are delivered (:mod:`shared.scim.events`).

    ``form``: ``notice`` (the default: changed attribute names) or ``full``
    (the data as stored, never a password); ``audience``: the SETs' ``aud``
    (default: the tenant id); ``poll``: whether a poll recipient consumes
    them (set when an ``events`` credential is issued); ``push_url`` and
    ``push_authorization``: the RFC 8935 push endpoint and the
    ``Authorization`` value sent to it (a secret of the receiver's: never
    shown or logged)."""

    form: str = "notice"
    audience: str = ""
    poll: bool = False
    push_url: str = ""
    push_authorization: str = field(default="", repr=False)

    @property
    def full(self) -> bool:
        return self.form == "full"

    @classmethod
    def from_row(cls, row) -> "EventSettings":
        return cls(row.get("ev_form") or "notice", row.get("ev_aud") or "", bool(row.get("ev_poll")),
                   row.get("ev_push") or "", row.get("ev_push_auth") or "")


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created: str
    disabled: bool
    modes: tuple[str, ...]
    entra_tenant: str | None
    audiences: tuple[str, ...]
    events: EventSettings = EventSettings()
    signin_link: str = "oid"
    extensions: str = ""  # the stored form of its extension schemas (shared.scim.extensions)

    @classmethod
    def from_row(cls, row) -> "Tenant":
        return cls(
            id=row["RowKey"], name=row.get("name", ""), created=row.get("created", ""),
            disabled=bool(row.get("disabled")), modes=_split(row.get("auth"), DEFAULT_MODES),
            entra_tenant=row.get("entra_tenant") or None, audiences=_split(row.get("audiences"), ()),
            events=EventSettings.from_row(row), signin_link=row.get("signin_link") or "oid",
            extensions=row.get("ext") or "",
        )

    @property
    def event_audience(self) -> str:
        return self.events.audience or self.id

    def accepts(self, mode: str) -> bool:
        return not self.disabled and mode in self.modes


def _split(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    return tuple(part for part in (p.strip() for p in value.split(",")) if part)


class TenantRegistry:
    """Administer tenants and credentials; resolve a credential to its tenant."""

    def __init__(self, tables: Tables, cache_seconds: int = 30, instances_cache_seconds: int | None = None) -> None:
        """``cache_seconds``: this registry's own credential cache.
        ``instances_cache_seconds``: the app instances' (``SCIM_AUTH_CACHE_SECONDS``),
        the bound on when a change takes effect everywhere; by default the same."""
        self._tables = tables
        self._cache = CredentialCache(cache_seconds)
        self.instances_cache_seconds = cache_seconds if instances_cache_seconds is None else instances_cache_seconds

    @property
    def _table(self):
        return self._tables.table(TENANTS)

    def _get(self, partition: str, row_key: str):
        try:
            return storage_call(self._table.get_entity, partition, row_key)
        except ResourceNotFoundError:
            return None

    # ------------------------------------------------------------ tenants
    def create_tenant(self, name: str, modes: tuple[str, ...] = DEFAULT_MODES, entra_tenant: str | None = None,
                      audiences: tuple[str, ...] = (), unique_name: bool = False) -> str:
        """A new enabled tenant; with ``entra_tenant`` its Entra-issued JWTs are accepted.
        With ``unique_name`` a name another tenant has is refused (``scimctl tenant
        create`` asks for that: a name is how people tell tenants apart); the check
        is not atomic, two creations racing can both pass it."""
        problem = refused_character(name)
        if problem:  # an argv byte that is not UTF-8 arrives as a lone surrogate
            raise RegistryError(f"the tenant name holds {problem}")
        unknown = set(modes) - set(MODES)
        if unknown:
            raise RegistryError(f"unknown authentication modes: {', '.join(sorted(unknown))}")
        if "entra" in modes and not entra_tenant:
            raise RegistryError("the entra mode needs the Entra tenant id (--entra-tenant-id)")
        taken = self.tenants_named(name) if unique_name else []
        if taken:
            raise RegistryError(f"a tenant named {name!r} exists already: {', '.join(taken)} "
                                "(--allow-duplicate-name creates another)")
        tenant_id = uuid.uuid4().hex
        if entra_tenant:
            self._bind_entra(entra_tenant.lower(), tenant_id)
        self._table.create_entity({
            "PartitionKey": TENANT, "RowKey": tenant_id, "name": name, "created": now_iso(), "disabled": False,
            "auth": ",".join(modes), "entra_tenant": (entra_tenant or "").lower(), "audiences": ",".join(audiences),
        })
        self._store(tenant_id).open_writes()
        return tenant_id

    def _store(self, tenant_id: str) -> TenantStore:
        return TenantStore(self._tables.table(RESOURCES), tenant_id)

    def _bind_entra(self, entra_tenant: str, tenant_id: str) -> None:
        try:
            uuid.UUID(entra_tenant)
        except ValueError:
            raise RegistryError(f"{entra_tenant!r} is not an Entra tenant id (a GUID)") from None
        try:
            self._table.create_entity({"PartitionKey": ENTRA, "RowKey": entra_tenant, "tenant": tenant_id})
        except ResourceExistsError:
            raise RegistryError(f"Entra tenant {entra_tenant} is already bound to another tenant") from None

    def configure_signin(self, tenant_id: str, entra_tenant: str | None = None, link: str | None = None) -> Tenant:
        """Bind the tenant to its customer's Entra tenant id (sign-in goes
        there; one of our tenants per Entra tenant) and choose how a
        signed-in user is linked (:data:`SIGNIN_LINKS`)."""
        tenant = self.require_tenant(tenant_id)
        changes: dict = {}
        if link is not None:
            if link not in SIGNIN_LINKS:
                raise RegistryError(f"unknown link {link!r}; the links are {', '.join(SIGNIN_LINKS)}")
            changes["signin_link"] = link
        if entra_tenant is not None and entra_tenant.lower() != (tenant.entra_tenant or ""):
            self._bind_entra(entra_tenant.lower(), tenant_id)
            if tenant.entra_tenant:
                self._table.delete_entity(ENTRA, tenant.entra_tenant)
            changes["entra_tenant"] = entra_tenant.lower()
        if changes:
            self._table.update_entity({"PartitionKey": TENANT, "RowKey": tenant_id, **changes})
            self._cache.clear()
        return self.require_tenant(tenant_id)

    def tenant(self, tenant_id: str) -> Tenant | None:
        row = self._get(TENANT, tenant_id) if _SAFE_ID.fullmatch(tenant_id or "") else None
        return Tenant.from_row(row) if row else None

    def require_tenant(self, tenant_id: str) -> Tenant:
        found = self.tenant(tenant_id)
        if found is None:
            raise RegistryError(f"no tenant {tenant_id}")
        return found

    def tenants_named(self, name: str) -> list[str]:
        """The ids of the tenants called ``name``, oldest first (a name that
        cannot be stored, see :func:`refused_character`, names none)."""
        if refused_character(name):
            return []
        rows = self._table.query_entities("PartitionKey eq @p and name eq @n", parameters={"p": TENANT, "n": name},
                                          select=["RowKey", "created"])
        return [row["RowKey"] for row in sorted(each_row(rows), key=lambda row: row.get("created", ""))]

    def find_tenant(self, name: str) -> str | None:
        """The oldest tenant called ``name``, if any."""
        named = self.tenants_named(name)
        return named[0] if named else None

    def tenants(self) -> list[Tenant]:
        rows = self._table.query_entities("PartitionKey eq @p", parameters={"p": TENANT})
        return sorted((Tenant.from_row(row) for row in each_row(rows)), key=lambda t: t.created)

    def set_disabled(self, tenant_id: str, disabled: bool) -> None:
        """Disable (or enable) a tenant.  Disabling closes its writes at once
        on every instance (the write guard, :mod:`shared.storage.transactions`);
        reads with a credential an instance has cached end within
        :attr:`cache_seconds`."""
        self.require_tenant(tenant_id)
        self._table.update_entity({"PartitionKey": TENANT, "RowKey": tenant_id, "disabled": disabled})
        if disabled:
            self._store(tenant_id).close_writes()
        else:
            self._store(tenant_id).open_writes()
        self._cache.clear()

    def delete_tenant(self, tenant_id: str) -> int:
        """Delete a tenant, its credentials and all its SCIM data; returns the data rows deleted.

        Order: the tenant row (credentials then name no tenant), then the
        write guard -- from then on no write of the tenant commits, even from
        an instance whose cache still accepts its token -- then the
        credentials, then every row of the partition.  Whatever committed
        before the guard went is in the partition when it is read, so it
        is deleted; nothing can be added after.  A crash half-way leaves
        credentials that name no tenant (rejected) and data no one can
        reach; rerunning the command finishes the job.  Its audit entries
        stay until retention removes them (a ``deleted`` row remembers the
        tenant until then): its change events, which are the audit entries
        of its changes, are copied into the audit table before the
        partition goes.
        """
        tenant = self.tenant(tenant_id)
        if tenant is not None:
            self._table.upsert_entity({"PartitionKey": DELETED, "RowKey": tenant_id, "deleted": now_iso()})
            self._table.delete_entity(TENANT, tenant_id)
        self._store(tenant_id).close_writes()
        self._cache.clear()
        if tenant is not None and tenant.entra_tenant:
            self._table.delete_entity(ENTRA, tenant.entra_tenant)
        for cred in self.credentials(tenant_id, TOKEN) + self.credentials(tenant_id, CLIENT):
            self._table.delete_entity(cred.kind, cred.id)
        SignInDirectory(self._tables).forget_tenant(tenant_id)
        AuditLog(self._tables).preserve_changes(tenant_id)
        return _delete_partition(self._tables.table(RESOURCES), tenant_id)

    def reopen_writes(self, tenant_id: str) -> bool:
        """Restore the write guard of an enabled tenant that has none (one
        created before the guard existed, or a crash between the tenant row
        and its guard); False when the tenant is disabled or gone.

        The guard is created *before* the tenant is read again: if the read
        still finds the tenant, any delete of it comes later and removes
        this guard too; if not, a delete raced this call, so the guard is
        removed again and the partition emptied of whatever another
        instance wrote in between -- either way a deleted tenant keeps no data.
        """
        tenant = self.tenant(tenant_id)
        if tenant is None or tenant.disabled:
            return False
        store = self._store(tenant_id)
        store.open_writes()
        tenant = self.tenant(tenant_id)
        if tenant is not None and not tenant.disabled:
            return True
        store.close_writes()
        if tenant is None:
            _delete_partition(self._tables.table(RESOURCES), tenant_id)
        self._cache.clear()
        return False

    def audited_tenants(self) -> list[tuple[str, bool]]:
        """(tenant id, deleted) for every tenant that may have audit entries."""
        rows = self._table.query_entities("PartitionKey eq @a or PartitionKey eq @b", parameters={"a": TENANT, "b": DELETED},
                                          select=["PartitionKey", "RowKey"])
        return [(row["RowKey"], row["PartitionKey"] == DELETED) for row in each_row(rows)]

    def forget_deleted(self, tenant_id: str) -> None:
        """Drop the marker of a deleted tenant whose audit entries have expired."""
        self._table.delete_entity(DELETED, tenant_id)

    # -------------------------------------------------------- credentials
    def add_token(self, tenant_id: str, token: str, expires: datetime | None = None) -> str:
        """Register ``token`` for a tenant; returns its id.  Used for tokens
        the operator chose (``ensure-tenant``); :meth:`issue_token` makes one."""
        if len(token) < MIN_TOKEN_LENGTH or not _SAFE_ID.fullmatch(token_id_of(token)):
            raise RegistryError(f"a bearer token must have at least {MIN_TOKEN_LENGTH} characters, "
                                "the first 12 of them letters, digits or ._~+=-")
        self.require_tenant(tenant_id)
        token_id = token_id_of(token)
        existing = self._get(TOKEN, token_id)
        if existing is not None and existing["tenant"] != tenant_id:
            raise RegistryError("a token with this id prefix belongs to another tenant; use a fresh token")
        self._table.upsert_entity({
            "PartitionKey": TOKEN, "RowKey": token_id, "tenant": tenant_id, "hash": secret_hash(token),
            "created": now_iso(), "expires": format_time(expires) if expires else "", "revoked": "",
        })
        return token_id

    def _check_scope(self, tenant_id: str, scope: str) -> None:
        """Refuse an unknown scope; an ``events`` credential turns the tenant's poll feed on."""
        if scope not in SCOPES:
            raise RegistryError(f"unknown scope {scope!r}; the scopes are {', '.join(SCOPES)}")
        self.require_tenant(tenant_id)
        if scope == EVENTS_SCOPE:
            self._table.update_entity({"PartitionKey": TENANT, "RowKey": tenant_id, "ev_poll": True})

    def issue_token(self, tenant_id: str, scope: str = SCIM_SCOPE) -> tuple[str, str]:
        """A new token for a tenant: (token id, token).  The token is shown once."""
        self._check_scope(tenant_id, scope)
        while True:
            token = new_token()
            try:
                self._table.create_entity({
                    "PartitionKey": TOKEN, "RowKey": token_id_of(token), "tenant": tenant_id,
                    "hash": secret_hash(token), "created": now_iso(), "expires": "", "revoked": "", "scope": scope,
                })
                return token_id_of(token), token
            except ResourceExistsError:  # a 48-bit id collided: draw again
                continue

    def issue_client(self, tenant_id: str, scope: str = SCIM_SCOPE) -> tuple[str, str]:
        """A new OAuth client of a tenant: (client id, client secret), the secret shown once."""
        self._check_scope(tenant_id, scope)
        client_id, secret = uuid.uuid4().hex, secrets.token_urlsafe(32)
        self._table.create_entity({
            "PartitionKey": CLIENT, "RowKey": client_id, "tenant": tenant_id, "hash": secret_hash(secret),
            "created": now_iso(), "expires": "", "revoked": "", "scope": scope,
        })
        return client_id, secret

    def change_extensions(self, tenant_id: str,
                          change: Callable[[tuple[Extension, ...]], tuple[Extension, ...]]) -> tuple[Extension, ...]:
        """Replace a tenant's extension schemas by ``change(current)`` (which
        may raise SchemaError); the tenant row is written only if nobody
        changed it since it was read (its ETag).  Takes effect on every
        instance within ``SCIM_AUTH_CACHE_SECONDS``."""
        row = self._get(TENANT, tenant_id) if _SAFE_ID.fullmatch(tenant_id or "") else None
        if row is None:
            raise RegistryError(f"no tenant {tenant_id}")
        try:
            updated = change(load_extensions(row.get("ext") or "").extensions)
            text = dump_extensions(updated)
        except SchemaError as error:
            raise RegistryError(str(error)) from None
        try:
            self._table.update_entity({"PartitionKey": TENANT, "RowKey": tenant_id, "ext": text},
                                      etag=row.metadata["etag"], match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            raise RegistryError(f"tenant {tenant_id} changed meanwhile; run the command again") from None
        self._cache.clear()
        return updated

    def set_event_settings(self, tenant_id: str, **changes) -> EventSettings:
        """Change a tenant's :class:`EventSettings` (``form``, ``audience``,
        ``push_url``, ``push_authorization``); takes effect on every
        instance within ``SCIM_AUTH_CACHE_SECONDS``."""
        current = self.require_tenant(tenant_id).events
        updated = EventSettings(**{**{f: getattr(current, f) for f in EventSettings.__dataclass_fields__}, **changes})
        if updated.form not in EVENT_FORMS:
            raise RegistryError(f"unknown event form {updated.form!r}; the forms are {', '.join(EVENT_FORMS)}")
        self._table.update_entity({
            "PartitionKey": TENANT, "RowKey": tenant_id, "ev_form": updated.form, "ev_aud": updated.audience,
            "ev_poll": updated.poll, "ev_push": updated.push_url, "ev_push_auth": updated.push_authorization,
        })
        self._cache.clear()
        return updated

    def credentials(self, tenant_id: str, kind: str) -> list[Credential]:
        """A tenant's tokens or clients, oldest first (ids and dates, never secrets)."""
        rows = self._table.query_entities("PartitionKey eq @p and tenant eq @t", parameters={"p": kind, "t": tenant_id},
                                          select=["PartitionKey", "RowKey", "tenant", "created", "expires", "revoked", "scope"])
        return sorted((Credential.from_row(row) for row in each_row(rows)), key=lambda c: c.created)

    def _owned(self, tenant_id: str, kind: str, credential_id: str):
        row = self._get(kind, credential_id)
        if row is None or row["tenant"] != tenant_id:
            raise RegistryError(f"tenant {tenant_id} has no {kind} {credential_id}")
        return row

    def revoke(self, tenant_id: str, kind: str, credential_id: str) -> None:
        """Revoke a token or a client at once (see the module docstring for
        caching).  Revoking the tenant's last ``events`` credential turns its
        poll feed off, so its events no longer wait for a poll."""
        row = self._owned(tenant_id, kind, credential_id)
        self._table.update_entity({"PartitionKey": kind, "RowKey": credential_id, "revoked": now_iso()})
        self._cache.clear()
        if (row.get("scope") or SCIM_SCOPE) == EVENTS_SCOPE and not any(
                c.scope == EVENTS_SCOPE and c.active() for k in (TOKEN, CLIENT) for c in self.credentials(tenant_id, k)):
            self._table.update_entity({"PartitionKey": TENANT, "RowKey": tenant_id, "ev_poll": False})

    def rotate_token(self, tenant_id: str, old_token_id: str, grace: timedelta) -> tuple[str, str]:
        """Issue a new token and let the old one expire after ``grace``: both
        work meanwhile, so Entra can be switched over without downtime.

        ``grace`` must be at least :attr:`instances_cache_seconds`: an
        instance that cached the old token just before the rotation keeps
        that entry that long, and a shorter grace could not end on time (use
        :meth:`revoke` to end a token now)."""
        if grace.total_seconds() < self.instances_cache_seconds:
            raise RegistryError(f"the grace period must be at least {self.instances_cache_seconds} s "
                                "(SCIM_AUTH_CACHE_SECONDS), the longest an instance may keep the old token cached; "
                                "to end a token now, revoke it")
        self._owned(tenant_id, TOKEN, old_token_id)
        old = Credential.from_row(self._get(TOKEN, old_token_id))
        issued = self.issue_token(tenant_id, old.scope)
        expires = datetime.now(timezone.utc) + grace
        self._table.update_entity({"PartitionKey": TOKEN, "RowKey": old_token_id, "expires": format_time(expires)})
        self._cache.clear()
        return issued

    # ------------------------------------------------------- verification
    def _active_tenant(self, tenant_id: str, mode: str) -> Tenant | None:
        tenant = self.tenant(tenant_id)
        return tenant if tenant is not None and tenant.accepts(mode) else None

    def _verified(self, kind: str, credential_id: str, secret: str) -> Credential | None:
        if not _SAFE_ID.fullmatch(credential_id):
            return None
        row = self._get(kind, credential_id)
        if row is None or not hmac.compare_digest(row.get("hash", ""), secret_hash(secret)):
            return None
        credential = Credential.from_row(row)
        return credential if credential.active() else None

    def tenant_for_token(self, token: str) -> tuple[Credential, Tenant] | None:
        """The active token ``token`` is and its tenant, if enabled for tokens."""
        digest = secret_hash(token)
        hit = self._cache.get((TOKEN, digest))
        if hit is not None and hit[0].active():
            return hit
        if len(token) < MIN_TOKEN_LENGTH:
            return None
        credential = self._verified(TOKEN, token_id_of(token), token)
        tenant = self._active_tenant(credential.tenant, "token") if credential is not None else None
        if tenant is None:
            return None
        self._cache.put((TOKEN, digest), (credential, tenant), parse_time(credential.expires))
        return credential, tenant

    def client_for_secret(self, client_id: str, secret: str) -> Credential | None:
        """The active OAuth client with this secret, if its tenant is enabled for OAuth (no cache)."""
        if not client_id or not secret or len(client_id) > 64:
            return None
        credential = self._verified(CLIENT, client_id, secret)
        if credential is None or self._active_tenant(credential.tenant, "oauth") is None:
            return None
        return credential

    def active_client(self, client_id: str, tenant_id: str) -> Tenant | None:
        """The tenant of an OAuth client still active for ``tenant_id`` (cached), or None."""
        hit = self._cache.get((CLIENT, client_id, tenant_id))
        if hit is not None:
            return hit
        row = self._get(CLIENT, client_id) if _SAFE_ID.fullmatch(client_id or "") else None
        if row is None or row["tenant"] != tenant_id or not Credential.from_row(row).active():
            return None
        tenant = self._active_tenant(tenant_id, "oauth")
        if tenant is not None:
            self._cache.put((CLIENT, client_id, tenant_id), tenant, parse_time(row.get("expires") or None))
        return tenant

    def tenant_for_entra(self, entra_tenant: str) -> Tenant | None:
        """Our tenant bound to an Entra tenant id, if enabled for Entra-issued JWTs (cached)."""
        hit = self._cache.get((ENTRA, entra_tenant))
        if hit is not None:
            return hit
        row = self._get(ENTRA, entra_tenant) if _SAFE_ID.fullmatch(entra_tenant or "") else None
        tenant = self._active_tenant(row["tenant"], "entra") if row else None
        if tenant is not None:
            self._cache.put((ENTRA, entra_tenant), tenant)
        return tenant


def _delete_partition(table, partition: str) -> int:
    """Delete every row of one partition in transactions of 100; returns the count."""
    deleted = 0
    batch: list = []
    rows: Iterator = table.query_entities("PartitionKey eq @p", parameters={"p": partition}, select=["PartitionKey", "RowKey"])
    for row in each_row(rows):
        batch.append(("delete", {"PartitionKey": partition, "RowKey": row["RowKey"]}))
        if len(batch) == 100:
            table.submit_transaction(batch)
            deleted, batch = deleted + len(batch), []
    if batch:
        table.submit_transaction(batch)
        deleted += len(batch)
    return deleted
