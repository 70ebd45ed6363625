"""The PATCH engine (RFC 7644 §3.5.2), with Microsoft Entra's dialect.

:func:`parse_patch_request` checks the PatchOp message; :func:`apply_operations`
applies operations to a copy of a resource's stored attributes and returns
the new attributes -- all or nothing: the first invalid operation raises and
the caller stores nothing.  Group membership never passes through here; see
:mod:`shared.scim.membership`.

Entra's variants accepted, as Microsoft Learn shows them ("Known issues and
resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra user
provisioning service",
https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility,
and "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
Entra ID",
https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups)
and as Microsoft's Logic App validation harness tests them
(SCIM-Validation-Test-Overview.md in https://github.com/AzureAD/SCIMReferenceCode):
``op`` in any case; ``"True"``/``"False"`` for booleans (coerced by :mod:`shared.scim.resource`);
path-less ``add``/``replace`` whose value has dotted keys (``name.givenName``)
or URN-qualified keys (``urn:...:enterprise:2.0:User:employeeNumber``);
a filtered path (``emails[type eq "work"].value``) that matches no element
creates one from the filter's equalities; ``manager`` as ``{"value": id}``,
a bare id or ``[{"$ref", "value"}]``; ``""`` or ``null`` clears; attribute
names without their extension URN when unambiguous (``manager``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from .attribute import Attribute
from .errors import invalid_path, invalid_syntax, invalid_value, mutability, no_target
from .filter import And, Comparison, Filter, FilterError
from .filter_parser import parse_attr_path, parse_filter
from .matching import matches
from .messages import PatchOperation, PatchRequest, parse_message
from .resource import ABSENT, check_primaries, check_required, check_single_primary, coerce, coerce_single
from .schemas import PATCH_OP_URN, ResourceType

OPS = ("add", "replace", "remove")


@dataclass(frozen=True, slots=True)
class PatchPath:
    """``attrPath`` or ``valuePath [ "." subAttr ]`` (RFC 7644 §3.5.2, Figure 1)."""

    schema: str | None
    attr: str
    filter: Filter | None
    sub: str | None

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        head = f"{self.schema}:{self.attr}" if self.schema else self.attr
        return head + ("[...]" if self.filter is not None else "") + (f".{self.sub}" if self.sub else "")


@dataclass(frozen=True, slots=True)
class Operation:
    op: str
    path: PatchPath | None
    value: object
    has_value: bool


def parse_path(text) -> PatchPath:
    """Parse a PATCH ``path``; errors are 400 ``invalidPath``."""
    if not isinstance(text, str) or not text.strip():
        raise invalid_path('"path" must be a non-empty string')
    text = text.strip()
    try:
        if "[" not in text:
            p = parse_attr_path(text)
            return PatchPath(p.schema, p.attr, None, p.sub)
        open_at, close_at = text.index("["), text.rfind("]")
        if close_at < open_at:
            raise FilterError('missing "]"')
        head, inner, tail = text[:open_at], text[open_at + 1 : close_at], text[close_at + 1 :]
        p = parse_attr_path(head)
        if p.sub is not None:
            raise FilterError("a value filter must follow a multi-valued attribute, not a sub-attribute")
        if tail and (not tail.startswith(".") or not tail[1:].replace("$", "").replace("_", "").replace("-", "").isalnum()):
            raise FilterError(f'unexpected "{tail}" after "]"')
        return PatchPath(p.schema, p.attr, parse_filter(inner), tail[1:] or None)
    except FilterError as exc:
        raise invalid_path(f'invalid path "{text}": {exc}') from exc


def parse_patch_request(body) -> list[Operation]:
    """Check a PatchOp message (RFC 7644 §3.5.2) and return its operations."""
    message = parse_message(PatchRequest, body, "PatchOp", PATCH_OP_URN)
    return [_operation(i, raw) for i, raw in enumerate(message.operations)]


def _operation(index: int, raw: PatchOperation) -> Operation:
    op = raw.op.lower()
    if op not in OPS:
        raise invalid_syntax(f'Operations[{index}].op must be "add", "replace" or "remove", not {raw.op!r}')
    path = parse_path(raw.path) if raw.path else None
    if op != "remove" and not raw.has_value:
        raise invalid_value(f'Operations[{index}] ("{op}") needs a "value"')
    if op == "remove" and path is None:
        raise no_target(f'Operations[{index}] ("remove") needs a "path"')
    return Operation(op, path, raw.value, raw.has_value)


# ----------------------------------------------------------------- resolving
@dataclass(frozen=True, slots=True)
class Target:
    urn: str | None  # extension URN holding the attribute, None for core
    attr: Attribute
    filter: Filter | None
    sub: Attribute | None


def resolve(rt: ResourceType, path: PatchPath) -> Target:
    """Find the attribute a path names; unknown names are 400 ``invalidPath``."""
    urn = None
    if path.schema is not None:
        schema = rt.schema_for_urn(path.schema)
        if schema is None:
            raise invalid_path(f'unknown schema "{path.schema}" in path "{path}"')
        urn = None if schema is rt.schema else schema.id
    if urn is None:
        urn = rt.extension_defining(path.attr)
    attr = rt.attribute(urn, path.attr)
    if attr is None:
        raise invalid_path(f'"{path}" names no attribute of {rt.name}')
    sub = None
    if path.sub is not None:
        sub = attr.sub(path.sub)
        if sub is None:
            raise invalid_path(f'"{attr.name}" has no sub-attribute "{path.sub}"')
    if path.filter is not None and not (attr.multi_valued and attr.type == "complex"):
        raise invalid_path(f'a value filter needs a multi-valued complex attribute; "{attr.name}" is not one')
    return Target(urn, attr, path.filter, sub)


def _expand_pathless(rt: ResourceType, value) -> list[tuple[PatchPath, object]]:
    """Path-less add/replace: each key of the value object becomes a path.

    Keys may be plain (``displayName``), dotted (``name.givenName``, an Entra
    form), URN-qualified (``urn:...:User:employeeNumber``) or a whole
    extension (``"urn:...:User": {...}``).
    """
    if not isinstance(value, dict):
        raise invalid_value('an operation without "path" needs an object "value"')
    pairs = []
    for key, item in value.items():
        if key.lower() == "schemas":
            continue
        ext = rt.schema_for_urn(key)
        if ext is not None:
            if not isinstance(item, dict):
                raise invalid_value(f'"{key}" must be a JSON object')
            pairs += [(PatchPath(ext.id, k, None, None), v) for k, v in item.items()]
            continue
        pairs.append((parse_path(key), item))
    return pairs


# ------------------------------------------------------------------ applying
def apply_operations(rt: ResourceType, data: dict, operations: list[Operation]) -> dict:
    """Apply operations in order to a copy of ``data``; return the copy."""
    doc = copy.deepcopy(data)
    for op in operations:
        extension = _whole_extension(rt, op.path)
        if extension is not None:
            _apply_extension(rt, doc, op, extension)
        elif op.path is None:
            for path, value in _expand_pathless(rt, op.value):
                target = resolve(rt, path)
                if target.attr.mutability == "readOnly" or (target.sub and target.sub.mutability == "readOnly"):
                    continue  # id, meta, groups echoed back by clients
                _apply(doc, op.op, target, value, True)
        else:
            _apply(doc, op.op, resolve(rt, op.path), op.value, op.has_value)
    check_required(rt, doc)
    check_primaries(rt, doc)
    return doc


def _whole_extension(rt: ResourceType, path: PatchPath | None) -> str | None:
    """The extension URN when a path names a whole extension (``urn:...:2.0:User``)."""
    if path is None or path.filter is not None or path.sub is not None or path.schema is None:
        return None
    schema = rt.schema_for_urn(f"{path.schema}:{path.attr}")
    return schema.id if schema is not None and schema is not rt.schema else None


def _apply_extension(rt: ResourceType, doc: dict, op: Operation, urn: str) -> None:
    """An operation on a whole extension object (RFC 7644 §3.5.2 with path = schema URN)."""
    if op.op == "remove" or _is_clear(op.value):
        doc.pop(urn, None)
        return
    if not isinstance(op.value, dict):
        raise invalid_value(f'"{urn}" must be a JSON object')
    if op.op == "replace":
        doc.pop(urn, None)
    for key, value in op.value.items():
        if key.lower() == "schemas":
            continue
        target = resolve(rt, PatchPath(urn, key, None, None))
        if target.attr.mutability != "readOnly":
            _apply(doc, "add" if op.op == "replace" else op.op, target, value, True)


def _container(doc: dict, urn: str | None) -> dict:
    return doc if urn is None else doc.setdefault(urn, {})


def _cleanup(doc: dict, urn: str | None) -> None:
    if urn is not None and not doc.get(urn):
        doc.pop(urn, None)


def _apply(doc: dict, op: str, target: Target, value, has_value: bool) -> None:
    attr = target.attr
    where = attr.name if target.sub is None else f"{attr.name}.{target.sub.name}"
    if attr.mutability == "readOnly" or (target.sub is not None and target.sub.mutability == "readOnly"):
        raise mutability(f'"{where}" is readOnly')
    box = _container(doc, target.urn)
    if attr.name == "manager" and target.sub is None and op != "remove":
        value = _manager_value(value)
    if op != "remove" and _is_clear(value):
        op, has_value = "remove", False
    if target.filter is not None:
        _apply_filtered(box, op, target, value)
    elif op == "remove":
        _remove(box, target, value if has_value else None)
    elif target.sub is not None:
        _set_sub(box, target, value)
    elif attr.multi_valued:
        _set_multi(box, op, attr, value)
    else:
        _set_single(box, attr, value)
    _cleanup(doc, target.urn)


def _is_clear(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _manager_value(value):
    """Entra sends the manager as a bare id, ``{"value": id}`` or ``[{"$ref", "value"}]``."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        return {"value": value} if value else None
    if isinstance(value, dict):
        fields = {k.lower(): v for k, v in value.items()}
        if fields.get("value") in (None, ""):
            return None
        return {"value": fields["value"]}
    return value


def _check_immutable(attr: Attribute, current) -> None:
    if attr.mutability == "immutable" and current not in (None, [], {}):
        raise mutability(f'"{attr.name}" is immutable and already set')


def _set_single(box: dict, attr: Attribute, value) -> None:
    _check_immutable(attr, box.get(attr.name))
    coerced = coerce(attr, value, attr.name)
    if coerced is ABSENT:
        box.pop(attr.name, None)
    elif attr.type == "complex" and isinstance(box.get(attr.name), dict):
        box[attr.name] = {**box[attr.name], **coerced}  # RFC 7644 §3.5.2.1/3: sub-attributes merge
    else:
        box[attr.name] = coerced


def _set_sub(box: dict, target: Target, value) -> None:
    attr, sub = target.attr, target.sub
    if attr.multi_valued:
        raise invalid_path(f'"{attr.name}.{sub.name}": name the values with a filter, e.g. {attr.name}[type eq "work"].{sub.name}')
    coerced = coerce(sub, value, f"{attr.name}.{sub.name}")
    current = dict(box.get(attr.name) or {})
    if coerced is ABSENT:
        current.pop(sub.name, None)
    else:
        current[sub.name] = coerced
    if current:
        box[attr.name] = current
    else:
        box.pop(attr.name, None)


def _as_list(attr: Attribute, value) -> list:
    if not isinstance(value, list):
        value = [value]
    if attr.type == "complex" and attr.sub("value") is not None:
        value = [{"value": v} if isinstance(v, (str, int, float, bool)) else v for v in value]
    return value


def _set_multi(box: dict, op: str, attr: Attribute, value) -> None:
    items = coerce(attr, _as_list(attr, value), attr.name)
    items = [] if items is ABSENT else items
    if op == "replace":
        merged = items
    else:
        merged = list(box.get(attr.name) or [])
        for item in items:
            if item not in merged:
                if isinstance(item, dict) and item.get("primary") is True:
                    merged = [_unprimary(m) for m in merged]
                merged.append(item)
    if merged:
        box[attr.name] = merged
    else:
        box.pop(attr.name, None)


def _unprimary(item):
    if isinstance(item, dict) and item.get("primary") is True:
        item = {**item, "primary": False}
    return item


def _element_matches(attr: Attribute, flt: Filter, element) -> bool:
    def sub_of(_urn, name, sub):
        found = attr.sub(name)
        return found if sub is None else None

    try:
        return isinstance(element, dict) and matches(flt, element, sub_of)
    except FilterError as exc:
        raise invalid_path(f'invalid filter on "{attr.name}": {exc}') from exc


def _equalities(flt: Filter) -> dict | None:
    """The ``sub eq value`` terms of a conjunction, for creating a missing element."""
    if isinstance(flt, Comparison) and flt.op == "eq" and flt.path.sub is None and flt.path.schema is None:
        return {flt.path.attr: flt.value}
    if isinstance(flt, And):
        left, right = _equalities(flt.left), _equalities(flt.right)
        if left is not None and right is not None:
            return {**left, **right}
    return None


def _apply_filtered(box: dict, op: str, target: Target, value) -> None:
    attr, sub = target.attr, target.sub
    items = list(box.get(attr.name) or [])
    hits = [i for i, item in enumerate(items) if _element_matches(attr, target.filter, item)]
    if op == "remove":
        if sub is None or sub.name == "value":
            items = [item for i, item in enumerate(items) if i not in hits]
        else:
            for i in hits:
                items[i] = {k: v for k, v in items[i].items() if k != sub.name}
    elif hits:
        for i in hits:
            items[i] = _update_element(attr, op, items[i], sub, value)
    else:
        seed = _equalities(target.filter)
        if seed is None:
            raise no_target(f'no value of "{attr.name}" matches the filter, and the filter does not say how to create one')
        fresh = coerce_single(attr, {**seed}, attr.name)
        items.append(_update_element(attr, op, fresh if fresh is not ABSENT else {}, sub, value))
    items = [item for item in items if item]
    _promote_primary(items, hits, value if sub is None else None, sub, value)
    if items:
        check_single_primary(attr, items, attr.name)
        box[attr.name] = items
    else:
        box.pop(attr.name, None)


def _update_element(attr: Attribute, op: str, element: dict, sub: Attribute | None, value) -> dict:
    if sub is not None:
        coerced = coerce(sub, value, f"{attr.name}.{sub.name}")
        updated = {k: v for k, v in element.items() if k != sub.name}
        if coerced is not ABSENT:
            updated[sub.name] = coerced
        return updated
    coerced = coerce_single(attr, value, attr.name)
    if coerced is ABSENT:
        return {}
    return {**element, **coerced} if op == "add" else coerced


def _promote_primary(items: list, hits: list, element_value, sub, value) -> None:
    """RFC 7644 §3.5.2: setting one value's primary to true clears the others."""
    new_primary = (sub is not None and sub.name == "primary" and value in (True, "True", "true")) or (
        isinstance(element_value, dict) and str(element_value.get("primary")).lower() == "true"
    )
    if not new_primary:
        return
    chosen = {i for i, item in enumerate(items) if isinstance(item, dict) and item.get("primary") is True}
    keep = max(chosen & set(hits), default=max(chosen, default=None))
    for i in chosen - {keep}:
        items[i] = {**items[i], "primary": False}


def _remove(box: dict, target: Target, value) -> None:
    attr, sub = target.attr, target.sub
    if attr.required and sub is None and value is None:
        raise invalid_value(f'"{attr.name}" is required and cannot be removed')
    _check_immutable(attr, box.get(attr.name)) if attr.mutability == "immutable" else None
    if sub is not None:
        if attr.multi_valued:
            raise invalid_path(f'"{attr.name}.{sub.name}": name the values with a filter')
        current = {k: v for k, v in (box.get(attr.name) or {}).items() if k != sub.name}
        if current:
            box[attr.name] = current
        else:
            box.pop(attr.name, None)
        return
    if value is not None and attr.multi_valued:
        drop = coerce(attr, _as_list(attr, value), attr.name)
        keys = {_identity(v) for v in ([] if drop is ABSENT else drop)}
        remaining = [item for item in box.get(attr.name) or [] if _identity(item) not in keys]
        if remaining:
            box[attr.name] = remaining
        else:
            box.pop(attr.name, None)
        return
    box.pop(attr.name, None)


def _identity(item):
    """What makes two values of a multi-valued attribute "the same" for a
    removal by value: the ``value`` sub-attribute, else the whole value."""
    if isinstance(item, dict):
        return ("value", item["value"]) if "value" in item else ("json", json.dumps(item, sort_keys=True))
    return ("value", item)


def path_names_attribute(path: PatchPath | None, rt: ResourceType, name: str) -> bool:
    """Whether a PATCH path addresses core attribute ``name`` (e.g. members)."""
    if path is None:
        return False
    if path.schema is not None and rt.schema_for_urn(path.schema) is not rt.schema:
        return False
    return path.attr.lower() == name.lower()


