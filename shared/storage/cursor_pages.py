"""Pages of a list or search by cursor (RFC 9865), from storage.

A cursor names a :class:`~shared.scim.cursors.Position`: just after (or
just before) one result in the query's order, which is the order of
:func:`~shared.storage.search.ordered_matches` -- resource type, then id --
or, with ``sortBy``, the sort key first.  Nothing is remembered between
pages, so any instance serves any page:

* **Forward, unsorted**: the walk resumes at the row after the position,
  so a page reads only its own rows: an unfiltered list one range query per
  page (``count + 1`` rows, the extra one telling whether a next page
  exists), a filtered one the rows up to its last match.
* **Backward** (``previousCursor``): Table Storage reads keys only in
  ascending order, so the page before a position is the last ``count``
  matches of a walk from the first row to it.
* **Sorted**: there is no index in sort order, so every page walks all the
  matches and keeps the ``count + 1`` nearest the position (a bounded heap).

``totalResults`` is optional with cursors (RFC 9865 §2) and is given when a
page's own reads establish it: the first page of an unfiltered list (the
counters sort just before the rows, :mod:`shared.storage.counters`), a
first page that is also the last, and every sorted page.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass

from .search import check_sortable, ordered_matches, resource_kind, sort_key
from .table_store import TenantStore
from ..scim.cursors import Position
from ..scim.errors import bad_request
from ..scim.query import ListQuery
from ..scim.records import StoredResource
from ..scim.schemas import ResourceType


@dataclass
class CursorPage:
    """A page of results and the positions of the pages after and before it (None: there is none)."""

    page: list[tuple[ResourceType, StoredResource]]
    total: int | None
    next: Position | None
    previous: Position | None


def find_cursor_page(store: TenantStore, types: list[ResourceType], query: ListQuery,
                     position: Position | None) -> CursorPage:
    """The page of ``query`` at ``position`` (None: the first page),
    ``query.count`` results at most.  A page backwards that finds nothing
    before its position (everything there was deleted since) is the first
    page, so a client walking back is never left without a cursor."""
    sorted_query = query.sort_by is not None
    if sorted_query:
        check_sortable(types, query.sort_by)
    if position is not None and position.backward:
        page = (_sorted_page if sorted_query else _page_before)(store, types, query, position)
        if page.page:
            return page
        position = None
    return (_sorted_page if sorted_query else _page_after)(store, types, query, position)


def _page_after(store: TenantStore, types: list[ResourceType], query: ListQuery, position: Position | None) -> CursorPage:
    count = query.count
    if position is None and query.filter is None and len(types) == 1:
        total, _version, rows = store.count_and_first(resource_kind(types[0]), count)
        return _assembled([(0, types[0], res, None) for res in rows], total > len(rows), False, total)
    after = (position.type_index, position.id) if position is not None else None
    page_size = count + 1 if query.filter is None else 1000  # an unfiltered page: its rows and one more
    matches = ordered_matches(store, types, query.filter, after, page_size)
    found = [(index, rt, res, None) for index, rt, res in itertools.islice(matches, count + 1)]
    more = len(found) > count
    total = len(found) if position is None and not more else None
    return _assembled(found[:count], more, position is not None, total)


def _page_before(store: TenantStore, types: list[ResourceType], query: ListQuery, position: Position) -> CursorPage:
    window: deque = deque(maxlen=query.count)
    passed = 0
    for index, rt, res in ordered_matches(store, types, query.filter):
        if (index, res.id) >= (position.type_index, position.id):
            break
        window.append((index, rt, res, None))
        passed += 1
    return _assembled(list(window), True, passed > query.count, None)


class _Rank:
    """A result's place in a sorted query's order: its sort key (descending
    when asked), then type and id ascending -- the order index paging gives."""

    __slots__ = ("key", "tail", "descending")

    def __init__(self, key: tuple, tail: tuple[int, str], descending: bool) -> None:
        self.key, self.tail, self.descending = key, tail, descending

    def __lt__(self, other: "_Rank") -> bool:
        if self.key != other.key:
            return self.key > other.key if self.descending else self.key < other.key
        return self.tail < other.tail


def _sorted_page(store: TenantStore, types: list[ResourceType], query: ListQuery, position: Position | None) -> CursorPage:
    try:
        return _nearest_in_sort_order(store, types, query, position)
    except TypeError as exc:
        raise bad_request(f"cannot sort by {query.sort_by[1]}: values of different types", "invalidValue") from exc


def _nearest_in_sort_order(store: TenantStore, types: list[ResourceType], query: ListQuery,
                           position: Position | None) -> CursorPage:
    descending, counted = query.descending, [0]

    def ranked():
        for index, rt, res in ordered_matches(store, types, query.filter):
            counted[0] += 1
            key = sort_key(rt, res, query.sort_by)
            yield _Rank(key, (index, res.id), descending), (index, rt, res, key)

    def rank_of(pair):
        return pair[0]

    if position is not None and position.backward:
        mark = _Rank(position.sort_key, (position.type_index, position.id), descending)
        before = heapq.nlargest(query.count + 1, (p for p in ranked() if p[0] < mark), key=rank_of)
        found = [item for _rank, item in reversed(before[:query.count])]
        return _assembled(found, True, len(before) > query.count, counted[0])
    mark = _Rank(position.sort_key, (position.type_index, position.id), descending) if position is not None else None
    after = heapq.nsmallest(query.count + 1, (p for p in ranked() if mark is None or mark < p[0]), key=rank_of)
    found = [item for _rank, item in after[:query.count]]
    return _assembled(found, len(after) > query.count, position is not None, counted[0])


def _assembled(found: list[tuple], more: bool, earlier: bool, total: int | None) -> CursorPage:
    """The page of ``found`` (place, type, resource, sort key), with the
    position after its last result when ``more`` follow and before its first
    when ``earlier`` results exist."""
    page = [(rt, res) for _index, rt, res, _key in found]
    following = preceding = None
    if found and more:
        index, _rt, res, key = found[-1]
        following = Position(index, res.id, key)
    if found and earlier:
        index, _rt, res, key = found[0]
        preceding = Position(index, res.id, key, backward=True)
    return CursorPage(page, total, following, preceding)


__all__ = ["CursorPage", "find_cursor_page"]
