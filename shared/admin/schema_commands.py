"""scimctl's ``schema`` commands: a tenant's extension schemas (RFC 7643 §3.3, §7).

``schema add`` registers an RFC 7643 §7 schema definition read from a file
(:mod:`shared.scim.extensions` checks it), ``list`` and ``show`` print what
is registered, ``remove`` takes one away -- refused while the tenant's
resources hold values under it, unless ``--force``, which drops those
values too (each drop is a change with its own event and audit entry).
A change reaches every app instance within ``SCIM_AUTH_CACHE_SECONDS``:
the schemas are cached with the tenant's credentials.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..auth.tenants import RegistryError
from ..scim import storable_text
from ..scim.events import PATCH
from ..scim.extensions import Extension, TenantSchemas, load_extensions, schema_document, with_extension, without_extension
from ..scim.ids import GROUP, USER
from ..scim.records import StoredResource, new_version, now_iso
from ..storage.event_rows import EventContext
from ..storage.outcomes import Changed
from ..storage.table_store import TenantStore
from ..storage.tables import RESOURCES

MAX_FILE_BYTES = 256 * 1024
_KIND = {"User": USER, "Group": GROUP}
_RETRIES = 4


@dataclass
class StoredValues:
    """Which of a tenant's resources hold values under an extension."""

    resource_type: str
    resource_ids: list[str] = field(default_factory=list)
    attributes: set[str] = field(default_factory=set)

    def describe(self, urn: str) -> str:
        return (f"{len(self.resource_ids)} {self.resource_type}(s) hold values under {urn} "
                f"(attributes: {', '.join(sorted(self.attributes, key=str.lower))})")


def read_document(path: Path):
    """The JSON schema definition in ``path``; an unreadable or invalid file is a RegistryError."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RegistryError(f"{path} is larger than {MAX_FILE_BYTES // 1024} KiB; a schema definition is far smaller")
        return storable_text.loads(path.read_text(encoding="utf-8"))  # nesting bounded, as a request body's
    except OSError as error:
        raise RegistryError(f"cannot read {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise RegistryError(f"{path} is not JSON ({str(error).splitlines()[0]})") from None


def extension_json(extension: Extension) -> dict:
    """What ``schema list`` and ``schema show`` print of one extension."""
    return {"id": extension.schema.id, "name": extension.schema.name, "resourceType": extension.resource_type,
            "required": extension.required, "attributes": len(extension.schema.attributes)}


class SchemaCommands:
    """The ``schema`` commands of :class:`shared.admin.commands.Admin`."""

    def _schemas(self, tenant_id: str) -> TenantSchemas:
        return load_extensions(self.registry.require_tenant(tenant_id).extensions)

    def _store(self, tenant_id: str, events: EventContext | None = None) -> TenantStore:
        return TenantStore(self.tables.table(RESOURCES), tenant_id, events)

    def schema_add(self, args) -> None:
        document = read_document(args.file)
        updated = self.registry.change_extensions(
            args.tenant, lambda current: with_extension(current, document, args.resource_type, args.required))
        extension = updated[-1]
        self._audit(args.tenant, "schema.add", "Schema", extension.schema.id,
                    f"resourceType={extension.resource_type} required={str(extension.required).lower()}")
        self._out({"tenant_id": args.tenant, **extension_json(extension), "effective_within_seconds": self.bound},
                  f"{extension.schema.id} registered for {extension.resource_type} "
                  f"({'required' if extension.required else 'optional'}, {len(extension.schema.attributes)} attributes); "
                  f"every instance serves it within {self.bound} s (SCIM_AUTH_CACHE_SECONDS)")

    def schema_list(self, args) -> None:
        extensions = self._schemas(args.tenant).extensions
        lines = [f"{e.schema.id}  {e.resource_type:5}  {'required' if e.required else 'optional'}  "
                 f"{len(e.schema.attributes)} attributes  {e.schema.name}" for e in extensions]
        self._out({"tenant_id": args.tenant, "schemas": [extension_json(e) for e in extensions]},
                  "\n".join(lines) or "no extension schemas")

    def schema_show(self, args) -> None:
        extension = self._extension(args.tenant, args.urn)
        document = schema_document(extension.schema)
        self._out({"tenant_id": args.tenant, "resourceType": extension.resource_type, "required": extension.required,
                   "schema": document},
                  f"{extension.resource_type} extension, {'required' if extension.required else 'optional'}:\n"
                  + json.dumps(document, indent=2, ensure_ascii=False))

    def schema_remove(self, args) -> None:
        extension = self._extension(args.tenant, args.urn)
        urn = extension.schema.id
        stored = self._stored_values(args.tenant, extension)
        if stored.resource_ids and not args.force:
            raise RegistryError(f"refused: {stored.describe(urn)}; --force removes the schema and drops these values")
        issuer = (args.base_url or self.settings.public_base_url or "").rstrip("/")
        if stored.resource_ids and not issuer:
            raise RegistryError("refused: dropping the values writes a change event per resource, whose issuer is the "
                                "SCIM base URL the application verifies; give --base-url https://host/scim/v2 "
                                "or set SCIM_PUBLIC_BASE_URL")
        self.registry.change_extensions(args.tenant, lambda current: without_extension(current, urn))
        dropped = self._drop_values(args.tenant, extension, issuer) if stored.resource_ids else 0
        self._audit(args.tenant, "schema.remove", "Schema", urn,
                    f"dropped_values={dropped} attributes={','.join(sorted(stored.attributes, key=str.lower))}")
        self._out({"tenant_id": args.tenant, "id": urn, "removed": True, "resources_dropped": dropped,
                   "resource_type": extension.resource_type, "attributes_dropped": sorted(stored.attributes, key=str.lower),
                   "effective_within_seconds": self.bound},
                  f"{urn} removed" + (f"; the values of {dropped} {extension.resource_type}(s) dropped" if dropped else "")
                  + f"; every instance stops serving it within {self.bound} s (SCIM_AUTH_CACHE_SECONDS)")

    def _extension(self, tenant_id: str, urn: str) -> Extension:
        extension = self._schemas(tenant_id).extension(urn)
        if extension is None:
            raise RegistryError(f"tenant {tenant_id} has no extension schema {urn} (scimctl schema list)")
        return extension

    def _stored_values(self, tenant_id: str, extension: Extension) -> StoredValues:
        """Scan the tenant's resources of the extension's type for values under it."""
        found = StoredValues(extension.resource_type)
        for res in self._store(tenant_id).scan(_KIND[extension.resource_type]):
            values = res.data.get(extension.schema.id)
            if values:
                found.resource_ids.append(res.id)
                found.attributes.update(values)
        return found

    def _drop_values(self, tenant_id: str, extension: Extension, issuer: str) -> int:
        """Remove the extension's values from every resource that holds some
        (scanned again: the schema is gone, nothing adds values meanwhile
        but an instance that still has it cached), each a change whose event
        ``issuer`` signs for; returns how many."""
        tenant = self.registry.require_tenant(tenant_id)
        events = EventContext(uuid.uuid4().hex, self.actor, issuer, tenant.events.full)
        store = self._store(tenant_id, events)
        ids = self._stored_values(tenant_id, extension).resource_ids
        return sum(_drop(store, _KIND[extension.resource_type], rid, extension.schema.id) for rid in ids)


def _drop(store: TenantStore, kind: str, resource_id: str, urn: str) -> bool:
    """Rewrite one resource without its values under ``urn`` (a ``prov:patch``
    change), read again when another write got in first."""
    for _ in range(_RETRIES):
        res = store.get(kind, resource_id)
        if res is None or urn not in res.data:
            return False
        data = {name: value for name, value in res.data.items() if name != urn}
        new = StoredResource(kind, res.id, data, res.created, now_iso(), new_version(res.version), res.index_keys)
        try:
            store.replace(res, new, PATCH)
            return True
        except Changed:
            continue
    raise RegistryError(f"resource {resource_id} kept changing while its values under {urn} were dropped; "
                        "the schema is removed: run the command again after adding it back")
