"""Finding resources for a list or search request (RFC 7644 §3.4.2).

Fast path: a filter that is, or is an ``and`` with, an equality on an
indexed attribute -- ``id``, ``userName`` (case-insensitive), ``externalId``,
``emails[type eq "work"].value`` (Entra's form and the RFC form), group
``displayName`` (case-insensitive) -- reads the index entity (one point or
range read) and then only the resources it names; the whole filter is still
evaluated on them.  Any other filter scans the tenant's resources of that
type and evaluates the filter on each: correct, with a cost of one range
query page per 1,000 resources (documented in the README).

Sorting (``sortBy``, RFC 7644 §3.4.2.3) and paging (``startIndex``,
``count``, §3.4.2.4) are applied to the matches in id order.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from . import keys
from ..scim.attribute import Attribute
from ..scim.errors import bad_request
from ..scim.filter import And, Comparison, Filter, FilterError, Not, Or, Present, ValuePath, filter_paths
from ..scim.matching import compile_filter
from .paging import POSITIONS, Position
from ..scim.query import ListQuery
from ..scim.schemas import ResourceType
from ..scim.records import StoredResource
from .table_store import TenantStore


@dataclass
class Found:
    total: int
    page: list[tuple[ResourceType, StoredResource]]


def _is_attr(path, rt: ResourceType, name: str, sub: str | None = None) -> bool:
    if path.schema is not None and rt.schema_for_urn(path.schema) is not rt.schema:
        return False
    return path.attr.lower() == name.lower() and (path.sub or "").lower() == (sub or "").lower()


def _index_rows(rt: ResourceType, term: Filter) -> tuple[str, str] | None:
    """(``"id"``/``"unique"``/``"range"``, key) for an indexable equality term."""
    if isinstance(term, Comparison) and term.op == "eq" and isinstance(term.value, str):
        value = term.value
        if _is_attr(term.path, rt, "id"):
            return ("id", value)
        if rt.name == "User" and _is_attr(term.path, rt, "userName"):
            return ("unique", keys.unique_key("un", keys.index_value(value, False)))
        if rt.name == "Group" and _is_attr(term.path, rt, "displayName"):
            return ("unique", keys.unique_key("gn", keys.index_value(value, False)))
        if _is_attr(term.path, rt, "externalId"):
            name = "ue" if rt.name == "User" else "ge"
            return ("range", keys.index_prefix(name, keys.index_value(value, True)))
    if isinstance(term, ValuePath) and rt.name == "User" and _is_attr(term.path, rt, "emails"):
        terms = list(_conjuncts(term.filter))
        is_work = any(isinstance(t, Comparison) and t.op == "eq" and t.path.attr.lower() == "type" and str(t.value).lower() == "work" for t in terms)
        values = [t.value for t in terms if isinstance(t, Comparison) and t.op == "eq" and t.path.attr.lower() == "value" and isinstance(t.value, str)]
        if is_work and values:
            return ("range", keys.index_prefix("uw", keys.index_value(values[0], False)))
    return None


def _conjuncts(flt: Filter) -> Iterator[Filter]:
    if isinstance(flt, And):
        yield from _conjuncts(flt.left)
        yield from _conjuncts(flt.right)
    else:
        yield flt


def _candidates(store: TenantStore, rt: ResourceType, flt: Filter | None) -> list[str] | None:
    """Ids from an index when the filter allows it, else None (scan)."""
    if flt is None:
        return None
    for term in _conjuncts(flt):
        found = _index_rows(rt, term)
        if found is None:
            continue
        how, key = found
        if how == "id":
            return [key]
        if how == "unique":
            rid = store.find_unique(key)
            return [rid] if rid else []
        return store.find_indexed(key)
    return None


def _needs_edges(rt: ResourceType, flt: Filter | None) -> bool:
    if flt is None:
        return False
    edge = "groups" if rt.name == "User" else "members"
    return any(_is_attr(p, rt, edge) or _is_attr(p, rt, edge, p.sub) for p in filter_paths(flt))


def _resources(store: TenantStore, rt: ResourceType, flt: Filter | None, after: str | None = None,
               page_size: int = 1000) -> Iterable[StoredResource]:
    """The resources of ``rt`` a filter may match, in id order (those after
    the id ``after`` only, when given), read in pages of ``page_size`` rows."""
    kind = resource_kind(rt)
    edges = _needs_edges(rt, flt)
    ids = _candidates(store, rt, flt)
    if ids is None:
        start = keys.after_resource(kind, after) if after is not None else None
        if edges:
            return store.scan_with_edges(kind, start_key=start)
        return store.scan(kind, page_size=page_size, start_key=start)
    found = (store.get(kind, rid, edges=edges) for rid in sorted(ids)
             if keys.kind_of(rid) == kind and (after is None or rid > after))
    return [res for res in found if res is not None]


def _document(rt: ResourceType, res: StoredResource) -> dict:
    """What filters see: stored attributes plus id, meta and membership."""
    doc = dict(res.data)
    doc["id"] = res.id
    doc["meta"] = {"resourceType": rt.name, "created": res.created, "lastModified": res.last_modified}
    if res.group_ids is not None:
        doc["groups"] = [{"value": gid, "type": "direct"} for gid in res.group_ids]
    if res.members is not None:
        doc["members"] = [{"value": m.id} for m in res.members]
    return doc


def sort_target(rt: ResourceType, sort_by) -> tuple | None:
    """What ``sortBy`` names in ``rt``: (extension URN or None, the attribute,
    the attribute or sub-attribute sorted by), or None when ``rt`` has no
    such attribute (its resources sort as having no value).  An unqualified
    name only one extension defines is that extension's, as in filters
    (:func:`qualify`).  An attribute never returned cannot be sorted by: its
    order would disclose it (RFC 7643 §7, ``returned``)."""
    schema, attr, sub = sort_by
    if schema is not None:
        found = rt.schema_for_urn(schema)
        if found is None:
            return None
        urn = None if found is rt.schema else found.id
    else:
        urn = rt.extension_defining(attr)
    top, definition = rt.attribute(urn, attr), rt.attribute(urn, attr, sub)
    if top is None or definition is None:
        return None
    if definition.returned == "never" or top.returned == "never":
        raise bad_request(f'cannot sort by {attr}: it is never returned', "invalidValue")
    return urn, top, definition


def check_sortable(types: list[ResourceType], sort_by) -> None:
    """400 before any read when ``sortBy`` names an attribute never returned (:func:`sort_target`)."""
    if sort_by is not None:
        for rt in types:
            sort_target(rt, sort_by)


def sort_key(rt: ResourceType, res: StoredResource, sort_by) -> tuple:
    """The key ``res`` sorts by for ``sortBy`` (RFC 7644 §3.4.2.3): missing values after present ones."""
    target = sort_target(rt, sort_by)
    if target is None:
        return (1, "")
    urn, top, definition = target
    doc = _document(rt, res)
    value = (doc.get(urn) or {}) if urn else doc
    value = value.get(top.name)
    if isinstance(value, list):  # RFC 7644 §3.4.2.3: the primary value, else the first
        value = next((v for v in value if isinstance(v, dict) and v.get("primary") is True), value[0] if value else None)
    if isinstance(value, dict):
        value = value.get(definition.name if sort_by[2] else "value")
    if value is None:
        return (1, "")
    if isinstance(value, str) and not definition.case_exact:
        value = value.lower()
    if isinstance(value, bool):
        value = int(value)
    return (0, value)


def find_resources(store: TenantStore, types: list[ResourceType], query: ListQuery) -> Found:
    """Matches of ``query`` across ``types``: the total and the requested page.

    Matches stream from storage and only the page is kept -- or, when
    sorting, the first ``startIndex + count - 1`` in sort order (a bounded
    heap) -- so memory grows with the page, not with the tenant.
    """
    start = query.start_index - 1
    check_sortable(types, query.sort_by)
    if query.filter is None and query.sort_by is None:
        return _unfiltered_page(store, types, start, query.count)
    counter = [0]
    matches = _counted(_matching(store, types, query.filter), counter)
    if query.sort_by is None:
        page = list(itertools.islice(matches, start, start + query.count))
        for _ in matches:  # the rest only counts towards totalResults
            pass
        return Found(counter[0], page)
    pick = heapq.nlargest if query.descending else heapq.nsmallest
    try:
        first = pick(start + query.count, matches, key=lambda pair: sort_key(pair[0], pair[1], query.sort_by))
    except TypeError as exc:
        raise bad_request(f"cannot sort by {query.sort_by[1]}: values of different types", "invalidValue") from exc
    for _ in matches:  # nsmallest(0, ...) reads nothing; the total needs every match
        pass
    return Found(counter[0], first[start:])


def _unfiltered_page(store: TenantStore, types: list[ResourceType], start: int, count: int) -> Found:
    """An unfiltered list: the first page and the total in one read
    (:mod:`shared.storage.counters`); a later page from where the previous one ended
    when that is known and the list is unchanged since -- the counters'
    version says so, whichever instance wrote (:mod:`shared.storage.paging`) --
    otherwise the total from the counters and the rows up to the page."""
    if len(types) == 1 and start == 0 and count > 0:
        total, version, page = store.count_and_first(resource_kind(types[0]), count)
        _remember_next(store, types[0], start, Position("", total, version), page)
        return Found(total, [(types[0], res) for res in page])
    rt = types[0]
    if len(types) == 1 and count > 0:
        total, version = store.count_and_version(resource_kind(rt))
        known = POSITIONS.get(store.scope, resource_kind(rt), start)
        if known is not None and known.version == version:
            page = list(itertools.islice(store.scan(resource_kind(rt), page_size=count, start_key=known.row_key), count))
            _remember_next(store, rt, start, known, page)
            return Found(total, [(rt, res) for res in page])
    else:
        total, version = sum(store.count(resource_kind(t)) for t in types), ()
    if count == 0 or start >= total:
        return Found(total, [])
    if len(types) > 1:
        rows = ((t, res) for t in types for res in store.scan(resource_kind(t), page_size=start + count))
        return Found(total, list(itertools.islice(rows, start, start + count)))
    page = list(itertools.islice(store.scan(resource_kind(rt), page_size=start + count), start, start + count))
    _remember_next(store, rt, start, Position("", total, version), page)
    return Found(total, [(rt, res) for res in page])


def _remember_next(store: TenantStore, rt: ResourceType, start: int, listed: Position, page: list[StoredResource]) -> None:
    """Record where the page after this one begins, with the total and the
    counters' version it was served with (:mod:`shared.storage.paging`)."""
    if page:
        kind = resource_kind(rt)
        POSITIONS.put(store.scope, kind, start + len(page), listed._replace(row_key=keys.after_resource(kind, page[-1].id)))


def resource_kind(rt: ResourceType) -> str:
    """The storage kind (:mod:`shared.storage.keys`) of a resource type."""
    return keys.USER if rt.name == "User" else keys.GROUP


def _matching(store: TenantStore, types: list[ResourceType], flt: Filter | None) -> Iterator[tuple[ResourceType, StoredResource]]:
    for _index, rt, res in ordered_matches(store, types, flt):
        yield rt, res


def ordered_matches(store: TenantStore, types: list[ResourceType], flt: Filter | None,
                    after: tuple[int, str] | None = None, page_size: int = 1000
                    ) -> Iterator[tuple[int, ResourceType, StoredResource]]:
    """Matches of ``flt`` as (place of the type in ``types``, type, resource),
    in that order and then id order; only those after ``after`` (a place
    and an id) when given, so a walk resumes without reading what it passed."""
    for index, (rt, qualified, test) in enumerate(_plans(types, flt)):
        if after is not None and index < after[0]:
            continue
        resume = after[1] if after is not None and index == after[0] else None
        for res in _resources(store, rt, qualified, resume, page_size):
            if test is None or test(_document(rt, res)):
                yield index, rt, res


def _counted(items: Iterator, counter: list[int]) -> Iterator:
    for item in items:
        counter[0] += 1
        yield item


def qualify(rt: ResourceType, flt: Filter) -> Filter:
    """Give unqualified extension attributes their URN (``manager eq "id"``)."""
    if isinstance(flt, (And, Or)):
        return replace(flt, left=qualify(rt, flt.left), right=qualify(rt, flt.right))
    if isinstance(flt, Not):
        return replace(flt, inner=qualify(rt, flt.inner))
    if isinstance(flt, (Comparison, Present, ValuePath)) and flt.path.schema is None:
        urn = rt.extension_defining(flt.path.attr)
        if urn is not None:
            return replace(flt, path=replace(flt.path, schema=urn))
    return flt


def _plans(types: list[ResourceType], flt: Filter | None) -> list:
    """(type, qualified filter, compiled test) per type, checked against the
    schemas before any storage read.  Searching several types at once
    (``/.search``, RFC 7644 §3.4.3), an attribute one type lacks is simply
    absent from its resources; only a filter no type accepts is an
    ``invalidFilter``."""
    if flt is None:
        return [(rt, None, None) for rt in types]
    plans, errors = [], []
    for rt in types:
        qualified = qualify(rt, flt)
        try:
            plans.append((rt, qualified, compile_filter(qualified, rt.attribute)))
        except FilterError as exc:
            errors.append(exc)
            plans.append((rt, qualified, None))
    if len(errors) == len(types):
        raise bad_request(f"invalid filter: {errors[0]}", "invalidFilter")
    return [(rt, q, test if test is not None else _lenient(rt, q)) for rt, q, test in plans]


def _lenient(rt: ResourceType, flt: Filter):
    """The test with attributes ``rt`` does not define read as absent strings."""

    def attribute_for(urn, name, sub):
        return rt.attribute(urn, name, sub) or Attribute(sub or name)

    try:
        return compile_filter(flt, attribute_for)
    except FilterError:
        return lambda _doc: False


__all__ = ["Found", "check_sortable", "find_resources", "ordered_matches", "resource_kind", "sort_key"]
