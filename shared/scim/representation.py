"""Resources as returned to clients (RFC 7643 §3, RFC 7644 §3.4.2.5, §3.9).

:func:`to_scim` builds the full representation of a stored resource --
``schemas``, ``id``, the stored attributes, ``meta`` (RFC 7643 §3.1) and the
membership views (``members`` of a Group, ``groups`` of a User) when they
were loaded.  :func:`project` then applies ``attributes`` /
``excludedAttributes`` and the ``returned`` characteristic of each attribute
(RFC 7643 §7): ``always`` is kept, ``never`` dropped, ``request`` only when
asked for.
"""

from __future__ import annotations

from .filter import FilterError
from .filter_parser import parse_attr_path
from .errors import bad_request
from .ids import GROUP, kind_of
from .schemas import ENTERPRISE_USER_URN, ResourceType
from .records import StoredResource

_KIND_ENDPOINT = {"U": "Users", "G": "Groups"}
_KIND_TYPE = {"U": "User", "G": "Group"}


def etag(version: str) -> str:
    """The weak entity tag of a version (RFC 7644 §3.14)."""
    return f'W/"{version}"'


def location(base_url: str, rt: ResourceType, resource_id: str) -> str:
    return f"{base_url}{rt.endpoint}/{resource_id}"


def to_scim(rt: ResourceType, res: StoredResource, base_url: str) -> dict:
    """The full JSON representation of ``res`` (before projection).

    ``schemas`` (RFC 7643 §3) lists the core schema and every extension the
    resource holds values of: ``rt``'s, in its order, then any other stored
    under a URN -- a tenant's registered extension when ``rt`` is the
    built-in type (a change event's ``:full`` data, :mod:`shared.scim.events`)."""
    held = [s.id for s, _ in rt.extensions if s.id in res.data]
    held += [key for key in res.data if key.startswith("urn:") and key not in held]
    doc: dict = {"schemas": [rt.schema.id, *held]}
    doc["id"] = res.id
    for key, value in res.data.items():
        doc[key] = value
    manager = doc.get(ENTERPRISE_USER_URN, {}).get("manager")
    if manager and "value" in manager:
        doc[ENTERPRISE_USER_URN] = dict(doc[ENTERPRISE_USER_URN])
        doc[ENTERPRISE_USER_URN]["manager"] = {**manager, "$ref": f"{base_url}/Users/{manager['value']}"}
    if res.group_ids:
        doc["groups"] = [
            {"value": gid, "$ref": f"{base_url}/Groups/{gid}", "type": "direct"} for gid in res.group_ids
        ]
    if res.members is not None and rt.schema.id.endswith(":Group"):
        doc["members"] = [_member_json(m.id, base_url) for m in res.members]
    doc["meta"] = {
        "resourceType": rt.name,
        "created": res.created,
        "lastModified": res.last_modified,
        "location": location(base_url, rt, res.id),
        "version": etag(res.version),
    }
    return doc


def _member_json(member_id: str, base_url: str) -> dict:
    kind = kind_of(member_id) or GROUP
    return {"value": member_id, "$ref": f"{base_url}/{_KIND_ENDPOINT[kind]}/{member_id}", "type": _KIND_TYPE[kind]}


def parse_attribute_list(text: str | list | None, param: str) -> list[tuple[str | None, str, str | None]]:
    """Parse ``attributes`` / ``excludedAttributes`` (RFC 7644 §3.4.2.5).

    Each entry is an attribute path; an entry that is a schema URN alone
    names that whole extension.  A bracketed filter after a name (seen from
    some clients: ``emails[type eq "work"]``) is read as the attribute itself.
    """
    if text is None:
        return []
    entries = text if isinstance(text, list) else text.split(",")
    paths = []
    for entry in entries:
        if not isinstance(entry, str):
            raise bad_request(f'"{param}" must list attribute names', "invalidValue")
        entry = entry.strip()
        if not entry:
            continue
        if "[" in entry:
            entry = entry.split("[", 1)[0]
        try:
            path = parse_attr_path(entry)
        except FilterError as exc:
            raise bad_request(f'"{param}": {exc}', "invalidValue") from exc
        paths.append((path.schema, path.attr, path.sub))
    return paths


class Projection:
    """Which attributes a response carries (RFC 7644 §3.4.2.5, RFC 7643 §7 "returned")."""

    def __init__(self, rt: ResourceType, attributes: list, excluded: list) -> None:
        self.rt = rt
        self.attributes = [self._resolve(p) for p in attributes]
        self.excluded = [self._resolve(p) for p in excluded]

    def _resolve(self, path) -> tuple[str | None, str, str | None]:
        """(extension URN or None, canonical attribute name or None for a whole extension, sub)."""
        schema, attr, sub = path
        rt = self.rt
        if schema is None:
            whole = rt.schema_for_urn(attr)
            if whole is not None:
                return (None if whole is rt.schema else whole.id, "", None)
        urn = None
        if schema is not None:
            found = rt.schema_for_urn(schema)
            if found is None:
                # "urn:...:User" alone parses as schema "urn:...:2.0" + attr "User"
                whole = rt.schema_for_urn(f"{schema}:{attr}")
                if whole is not None:
                    return (None if whole is rt.schema else whole.id, "", None)
                return ("?", attr, sub)
            urn = None if found is rt.schema else found.id
        definition = rt.attribute(urn, attr)
        name = definition.name if definition else attr
        if sub is not None and definition is not None:
            sub_def = definition.sub(sub)
            sub = sub_def.name if sub_def else sub
        return (urn, name, sub)

    def wants(self, name: str) -> bool:
        """Whether the core attribute ``name`` will be in the response."""
        attr = self.rt.attribute(None, name)
        if attr is None or attr.returned == "never":
            return False
        if attr.returned == "always":
            return True
        if self.attributes:
            return any(urn is None and a in (name, "") for urn, a, _ in self.attributes)
        if attr.returned == "request":
            return False
        return not any(urn is None and a == name and s is None for urn, a, s in self.excluded)

    def apply(self, doc: dict) -> dict:
        """Project a full representation."""
        out: dict = {}
        for key, value in doc.items():
            if key in ("schemas", "id"):
                out[key] = value
                continue
            if key.startswith("urn:"):
                kept = self._apply_extension(key, value)
                if kept:
                    out[key] = kept
                continue
            kept = self._keep(None, key, value)
            if kept is not None:
                out[key] = kept
        return out

    def _apply_extension(self, urn: str, value: dict) -> dict:
        if self.attributes and any(u == urn and a == "" for u, a, _ in self.attributes):
            return {k: self._without_hidden_subs(urn, k, v) for k, v in value.items() if self._returned(urn, k) != "never"}
        if any(u == urn and a == "" for u, a, _ in self.excluded):
            return {}
        out = {}
        for key, sub_value in value.items():
            kept = self._keep(urn, key, sub_value)
            if kept is not None:
                out[key] = kept
        return out

    def _returned(self, urn, name) -> str:
        attr = self.rt.attribute(urn, name)
        return attr.returned if attr else "default"

    def _keep(self, urn, name, value):
        kept = self._select(urn, name, value)
        return None if kept is None else self._without_hidden_subs(urn, name, kept)

    def _without_hidden_subs(self, urn, name, value):
        """``value`` without the sub-attributes never returned (RFC 7643 §7 ``returned``), whatever was asked."""
        attr = self.rt.attribute(urn, name)
        hidden = [sub.name for sub in attr.sub_attributes if sub.returned == "never"] if attr else []
        return _without_subs(value, hidden) if hidden else value

    def _select(self, urn, name, value):
        returned = self._returned(urn, name)
        if returned == "never":
            return None
        if returned == "always":
            return value
        if self.attributes:
            subs = [s for u, a, s in self.attributes if u == urn and a == name]
            if not subs and not (urn is None and any(u is None and a == "" for u, a, _ in self.attributes)):
                return None
            if None in subs or not subs:
                return value
            return _only_subs(value, subs)
        if returned == "request":
            return None
        excluded = [s for u, a, s in self.excluded if u == urn and a == name]
        if None in excluded:
            return None
        return _without_subs(value, excluded) if excluded else value


def _only_subs(value, subs):
    if isinstance(value, list):
        return [v for v in (_only_subs(item, subs) for item in value) if v] or None
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k in subs} or None
    return value


def _without_subs(value, subs):
    if isinstance(value, list):
        return [_without_subs(item, subs) for item in value]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in subs}
    return value
