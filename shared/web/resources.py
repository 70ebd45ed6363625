"""Resource handlers: create, read, replace, patch, delete, list and search
of Users and Groups (RFC 7644 §3.3-§3.6, §3.4.2-§3.4.3), each over one
tenant's :class:`~shared.storage.table_store.TenantStore`.

Writes are optimistic: a handler reads what it changes, computes the new
state and writes it conditioned on the ETag it read; when another request
got in first (:class:`Changed`), :func:`optimistically` runs the whole
read-compute-write again, a few times at most, then answers 409.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from ..config import Settings
from ..scim.cursors import CursorCodec, binding, invalid_cursor
from ..scim.errors import ScimError, conflict, invalid_value, not_found, printable
from ..scim.http import Request, Response
from ..scim.ids import GROUP, USER, kind_of, new_id
from ..scim.membership import MembershipPlan, parse_members, plan_membership, split_member_operations
from ..scim.patch import apply_operations, parse_patch_request
from ..scim.preconditions import check_preconditions, not_modified
from ..scim.query import ListQuery, parse_list_query, parse_search_request
from ..scim.events import PATCH, PUT
from ..scim.records import Member, StoredResource, new_version, now_iso
from ..scim.representation import Projection, etag, location, parse_attribute_list, to_scim
from ..scim.request_body import json_body
from ..scim.resource import check_immutable, ignored_extension_names, parse_resource, protect_password
from ..scim.schemas import LIST_RESPONSE_URN, ResourceType
from ..storage.index_rows import index_keys
from ..storage.outcomes import AlreadyExists, Changed, Missing
from ..storage.cursor_pages import find_cursor_page
from ..storage.search import find_resources
from ..storage.member_edges import GroupState
from ..storage.table_store import TenantStore

KIND_OF_TYPE = {"User": USER, "Group": GROUP}
RETRIES = 4
T = TypeVar("T")


def optimistically(attempt: Callable[[], T], gave_up: str) -> T:
    """Run ``attempt`` until it does not raise :class:`Changed`, at most
    :data:`RETRIES` times; then 409 with ``gave_up``."""
    for _ in range(RETRIES):
        try:
            return attempt()
        except Changed:
            continue
    raise ScimError(409, gave_up)


class ResourceHandlers:
    """The handlers of the resource routes (:mod:`shared.scim.endpoints`)."""

    def __init__(self, settings: Settings, base_url: Callable[[Request], str], cursors: CursorCodec | None = None) -> None:
        self.settings = settings
        self._base_url = base_url
        self.cursors = cursors  # None: no signing key, so no cursor pagination (RFC 9865)

    def _projection(self, rt: ResourceType, request: Request) -> Projection:
        return Projection(
            rt,
            parse_attribute_list(request.query.get("attributes"), "attributes"),
            parse_attribute_list(request.query.get("excludedattributes"), "excludedAttributes"),
        )

    def _resource_response(self, status, rt, res: StoredResource, request, projection: Projection, extra=None) -> Response:
        base = self._base_url(request)
        body = projection.apply(to_scim(rt, res, base))
        headers = {"ETag": etag(res.version)}
        if status == 201:
            headers["Location"] = location(base, rt, res.id)
        headers.update(extra or {})
        return Response(status, body, headers)

    @staticmethod
    def _load(store: TenantStore, rt: ResourceType, resource_id: str, edges: bool) -> StoredResource:
        kind = KIND_OF_TYPE[rt.name]
        if kind_of(resource_id) != kind:
            raise not_found(rt.name, printable(resource_id))
        res = store.get(kind, resource_id, edges=edges)
        if res is None:
            raise not_found(rt.name, resource_id)
        return res

    @staticmethod
    def _uniqueness(rt: ResourceType, data: dict) -> ScimError:
        name = "userName" if rt.name == "User" else "displayName"
        return conflict(
            f'{name} "{data.get(name)}" is already in use by another {rt.name} of this tenant '
            f"({name} is unique, case-insensitively); change the existing {rt.name} or choose another {name}"
        )

    def _write(self, store: TenantStore, rt: ResourceType, old: StoredResource, new: StoredResource, verb: str) -> None:
        """``new`` over ``old`` (ETag-conditioned) with its ``verb`` event; a taken
        unique value is a 409, a concurrent change raises :class:`Changed` for
        :func:`optimistically`."""
        try:
            store.replace(old, new, verb)
        except AlreadyExists as exc:
            raise self._uniqueness(rt, new.data) from exc

    # -------------------------------------------------------------- create
    def create(self, request: Request, store: TenantStore, _id, rt: ResourceType) -> Response:
        """POST /Users, /Groups (RFC 7644 §3.3)."""
        body = json_body(request, self.settings.max_body_bytes)
        projection = self._projection(rt, request)
        data = parse_resource(rt, body)
        _record_ignored(store, rt, body)
        members = parse_members(data.pop("members", None)) if rt.name == "Group" else []
        kind = KIND_OF_TYPE[rt.name]
        resource_id = new_id(kind)
        if rt.name == "User":
            protect_password(data, None, keep_missing=False)
        now = now_iso()
        res = StoredResource(kind, resource_id, data, now, now, new_version(), index_keys(rt, resource_id, data))
        try:
            store.create(res, members)
        except AlreadyExists as exc:
            raise self._uniqueness(rt, data) from exc
        except Missing as exc:
            raise invalid_value(f'member "{_id_in(exc.row_key)}" does not exist in this tenant') from exc
        res.members = members if rt.name == "Group" else None
        return self._resource_response(201, rt, res, request, projection)

    # ---------------------------------------------------------------- read
    def read(self, request: Request, store: TenantStore, resource_id: str, rt: ResourceType) -> Response:
        """GET /Users/{id}, /Groups/{id} (RFC 7644 §3.4.1)."""
        projection = self._projection(rt, request)
        edge_attr = "groups" if rt.name == "User" else "members"
        res = self._load(store, rt, resource_id, projection.wants(edge_attr))
        check_preconditions(request, res.version)
        if not_modified(request, res.version):
            return Response(304, None, {"ETag": etag(res.version)})
        return self._resource_response(200, rt, res, request, projection)

    # ------------------------------------------------------------- replace
    def replace(self, request: Request, store: TenantStore, resource_id: str, rt: ResourceType) -> Response:
        """PUT /Users/{id}, /Groups/{id} (RFC 7644 §3.5.1)."""
        body = json_body(request, self.settings.max_body_bytes)
        projection = self._projection(rt, request)
        data = parse_resource(rt, body)
        _record_ignored(store, rt, body)
        members = None
        if rt.name == "Group":
            data.pop("members", None)
            if any(k.lower() == "members" for k in body):  # "members": [] empties the group
                members = parse_members(next(v for k, v in body.items() if k.lower() == "members"), resource_id)
        def attempt() -> StoredResource:
            old = self._load(store, rt, resource_id, rt.name == "User")
            check_preconditions(request, old.version)
            check_immutable(rt, old.data, data)
            if rt.name == "User":
                protect_password(data, old.data, keep_missing=True)
            new = self._successor(rt, old, data)
            if new.data == old.data:
                return old
            self._write(store, rt, old, new, PUT)
            return new

        new = optimistically(attempt, "the resource kept changing during the update; retry")
        if members is not None:
            current = store.member_ids(resource_id)
            wanted = {m.id: m for m in members}
            plan = MembershipPlan()
            plan.adding([m for mid, m in wanted.items() if mid not in current])
            plan.removing([mid for mid in current if mid not in wanted])
            changed = self._apply_membership(store, resource_id, plan, new)
            if changed is not None:
                new.version, new.last_modified = changed
            new.members = members
        return self._resource_response(200, rt, new, request, projection)

    @staticmethod
    def _successor(rt: ResourceType, old: StoredResource, data: dict) -> StoredResource:
        return StoredResource(
            old.kind, old.id, data, old.created, now_iso(), new_version(old.version),
            index_keys(rt, old.id, data), group_ids=old.group_ids, members=old.members,
        )

    # --------------------------------------------------------------- patch
    def patch(self, request: Request, store: TenantStore, resource_id: str, rt: ResourceType) -> Response:
        """PATCH /Users/{id}, /Groups/{id} (RFC 7644 §3.5.2)."""
        operations = parse_patch_request(json_body(request, self.settings.max_body_bytes))
        projection = self._projection(rt, request)
        if rt.name == "Group":
            return self._patch_group(request, store, resource_id, rt, operations, projection)

        def attempt() -> StoredResource:
            old = self._load(store, rt, resource_id, projection.wants("groups"))
            check_preconditions(request, old.version)
            data = apply_operations(rt, old.data, operations)
            protect_password(data, old.data, keep_missing=False)
            if data == old.data:
                return old
            new = self._successor(rt, old, data)
            self._write(store, rt, old, new, PATCH)
            return new

        res = optimistically(attempt, "the resource kept changing during the update; retry")
        return self._resource_response(200, rt, res, request, projection)

    def _patch_group(self, request, store: TenantStore, group_id: str, rt: ResourceType, operations,
                     projection: Projection) -> Response:
        """Group PATCH: attribute changes on the group row, membership as edges.

        Entra expects 204 No Content for a group PATCH (Microsoft Learn,
        "Tutorial: Develop and plan provisioning for a SCIM endpoint in
        Microsoft Entra ID",
        https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
        a client that asks for attributes/excludedAttributes gets 200 with the group.
        Order: member additions first (they may fail on an unknown id,
        before anything changed), then removals, then the group's own
        attributes (invalid attribute operations fail before any write).
        """
        attr_ops, member_ops = split_member_operations(rt, operations)
        if kind_of(group_id) != GROUP:
            raise not_found(rt.name, printable(group_id))
        old = None
        if attr_ops or request.header("if-match") or request.header("if-none-match"):
            old = self._load(store, rt, group_id, False)
            check_preconditions(request, old.version)
            apply_operations(rt, old.data, attr_ops)  # invalid operations fail before any write
        plan = plan_membership(rt, member_ops, group_id, lambda: self._load(store, rt, group_id, True).members or [])
        if not plan.empty:
            self._apply_membership(store, group_id, plan, old, bool(request.header("if-match")))
        if attr_ops:
            self._patch_group_attributes(request, store, group_id, rt, attr_ops, old if plan.empty else None)
        if not (request.query.get("attributes") or request.query.get("excludedattributes")):
            return Response(204)
        res = self._load(store, rt, group_id, projection.wants("members"))
        return self._resource_response(200, rt, res, request, projection)

    def _patch_group_attributes(self, request, store: TenantStore, group_id: str, rt: ResourceType, attr_ops,
                                old: StoredResource | None) -> None:
        """Apply non-member operations to the group row, re-reading when a
        concurrent change (a membership update touches the row) got in first;
        with If-Match, such a change is a 412 instead."""

        def attempt() -> None:
            nonlocal old
            current, old = old or self._load(store, rt, group_id, False), None  # the first read is the caller's
            new_data = apply_operations(rt, current.data, attr_ops)
            if new_data == current.data:
                return
            try:
                self._write(store, rt, current, self._successor(rt, current, new_data), PATCH)
            except Changed as exc:
                if request.header("if-match"):
                    raise ScimError(412, "the group changed since the version you sent") from exc
                raise

        optimistically(attempt, "the group kept changing during the update; retry")

    def _apply_membership(self, store: TenantStore, group_id: str, plan: MembershipPlan,
                          read: StoredResource | None, strict: bool = False):
        """Run a membership plan; returns the group's new (version,
        lastModified), or None when it changed no membership.

        ``read``: the group as the handler read it, if it did (saves the
        store reading it again); ``strict``: the client sent If-Match, so a
        change of the group since that read is a 412.
        """
        remove = list(plan.remove)
        if plan.clear:
            remove = store.member_ids(group_id)
        state = GroupState(read.etag, read.version) if read is not None and read.etag else None
        written = None
        try:
            if plan.add:
                members = [Member(mid) for mid in plan.add]
                written = store.add_members(group_id, members, state, strict)
                if written is not None:
                    state, strict = written, False
            if remove or not plan.add:
                written = store.remove_members(group_id, [m for m in remove if m not in plan.add], state, strict) or written
        except Missing as exc:
            missing = _id_in(exc.row_key)
            if missing == group_id:
                raise not_found("Group", group_id) from exc
            raise invalid_value(f'member "{missing}" does not exist in this tenant') from exc
        except Changed as exc:
            raise ScimError(412, "the group changed since it was read; retry") from exc
        return (written.version, now_iso()) if written else None

    # -------------------------------------------------------------- delete
    def delete(self, request: Request, store: TenantStore, resource_id: str, rt: ResourceType) -> Response:
        """DELETE /Users/{id}, /Groups/{id} (RFC 7644 §3.6): edges and index rows go too."""
        def attempt() -> None:
            res = self._load(store, rt, resource_id, True)
            check_preconditions(request, res.version)
            try:
                store.delete(res)
            except Missing as exc:  # an edge or index row went meanwhile: read again
                raise Changed(exc.row_key) from exc

        optimistically(attempt, "the resource kept changing during the delete; retry")
        return Response(204)

    # --------------------------------------------------------------- query
    def list(self, request: Request, store: TenantStore, _id, rt: ResourceType) -> Response:
        """GET /Users, /Groups (RFC 7644 §3.4.2)."""
        query = parse_list_query(request.query, self.settings)
        return self._query(request, store, [rt], query)

    def search(self, request: Request, store: TenantStore, _id, types: tuple[ResourceType, ...]) -> Response:
        """POST .../.search (RFC 7644 §3.4.3)."""
        query = parse_search_request(json_body(request, self.settings.max_body_bytes), self.settings)
        return self._query(request, store, list(types), query)

    def _query(self, request: Request, store: TenantStore, types: list[ResourceType], query: ListQuery) -> Response:
        if query.cursor is not None:
            return self._cursor_query(request, store, types, query)
        found = find_resources(store, types, query)
        resources = self._rendered(request, store, found.page, query)
        body = {
            "schemas": [LIST_RESPONSE_URN],
            "totalResults": found.total,
            "startIndex": query.start_index,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
        return Response(200, body)

    def _cursor_query(self, request: Request, store: TenantStore, types: list[ResourceType], query: ListQuery) -> Response:
        """A page by cursor (RFC 9865 §2): an empty ``cursor`` is the first
        page; ``nextCursor`` and ``previousCursor`` are given when there is
        such a page; ``totalResults`` when the page's reads establish it."""
        if self.cursors is None:
            raise invalid_cursor("cursor pagination is not available: this deployment has no SCIM_TOKEN_SIGNING_KEY "
                                 "to seal cursors with; page with startIndex")
        bound = binding(store.tenant_id, [rt.name for rt in types], repr(query.filter) if query.filter else None,
                        query.sort_by, query.descending)
        position = self.cursors.open(query.cursor, bound) if query.cursor else None
        if query.count == 0:  # RFC 7644 §3.4.2.4: no resources, only the total
            body = {"schemas": [LIST_RESPONSE_URN], "totalResults": find_resources(store, types, query).total,
                    "itemsPerPage": 0, "Resources": []}
            return Response(200, body)
        found = find_cursor_page(store, types, query, position)
        resources = self._rendered(request, store, found.page, query)
        body: dict = {"schemas": [LIST_RESPONSE_URN]}
        if found.total is not None:
            body["totalResults"] = found.total
        body["itemsPerPage"] = len(resources)
        if found.next is not None:
            body["nextCursor"] = self.cursors.issue(found.next, bound)
        if found.previous is not None:
            body["previousCursor"] = self.cursors.issue(found.previous, bound)
        body["Resources"] = resources
        return Response(200, body)

    def _rendered(self, request: Request, store: TenantStore, page: list, query: ListQuery) -> list[dict]:
        """A page's resources as the client asked for them (``attributes``, ``excludedAttributes``)."""
        base = self._base_url(request)
        resources = []
        for rt, res in page:
            projection = Projection(rt, query.attributes, query.excluded)
            if rt.name == "Group" and res.members is None and projection.wants("members"):
                res = store.get(GROUP, res.id, edges=True) or res
            resources.append(projection.apply(to_scim(rt, res, base)))
        return resources


def _record_ignored(store: TenantStore, rt: ResourceType, body: dict) -> None:
    """Have the change's audit entry name the extension attributes the body
    carried under no schema of ``rt``, which :func:`parse_resource` dropped
    (Entra sends extension objects without listing them in ``schemas``)."""
    names = ignored_extension_names(rt, body)
    if names and store.events is not None:
        store.events = dataclasses.replace(store.events, ignored=names)


def _id_in(row_key: str) -> str:
    """The resource id in a row key such as ``U:{id}`` or ``G:{gid}:m:{id}``."""
    parts = row_key.split(":")
    return parts[1] if len(parts) > 1 else row_key
