"""List and search parameters (RFC 7644 §3.4.2, §3.4.3; RFC 9865 §2).

``filter``, ``sortBy``, ``sortOrder``, ``startIndex``, ``count``,
``cursor``, ``attributes`` and ``excludedAttributes``, from a query string
(GET) or a SearchRequest body (POST ``.search``), into one :class:`ListQuery`.
Parameter names are matched case-insensitively.  A ``cursor`` (empty for the
first page) asks for cursor pagination (RFC 9865); without one, paging is by
index (RFC 7644 §3.4.2.4), this service's ``defaultPaginationMethod``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .errors import bad_request, invalid_value
from .filter import Filter, FilterError
from .filter_parser import parse_attr_path, parse_filter
from .messages import SearchRequest, parse_message
from .representation import parse_attribute_list
from .schemas import SEARCH_REQUEST_URN


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: Filter | None
    sort_by: tuple | None
    descending: bool
    start_index: int
    count: int
    attributes: list
    excluded: list
    cursor: str | None = None  # None: index paging; "": the first page by cursor (RFC 9865 §2)


def _parse_filter(text) -> Filter | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if not isinstance(text, str):
        raise bad_request('"filter" must be a string', "invalidFilter")
    try:
        return parse_filter(text)
    except FilterError as exc:
        raise bad_request(f"invalid filter: {exc}", "invalidFilter") from exc


def _parse_int(value, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise invalid_value(f'"{name}" must be an integer')
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise invalid_value(f'"{name}" must be an integer, not {str(value)[:50]!r}') from exc


class PageLimits(Protocol):
    """The page sizes a deployment allows (``SCIM_MAX_PAGE_SIZE``, ``SCIM_DEFAULT_PAGE_SIZE``:
    :class:`shared.config.Settings` is one)."""

    max_page_size: int
    default_page_size: int


def _build(params: dict, settings: PageLimits) -> ListQuery:
    start = _parse_int(params.get("startindex"), "startIndex")
    count = _parse_int(params.get("count"), "count")
    sort_by = params.get("sortby")
    sort_path = None
    if sort_by not in (None, ""):
        try:
            p = parse_attr_path(str(sort_by).strip())
        except FilterError as exc:
            raise invalid_value(f'invalid "sortBy": {exc}') from exc
        sort_path = (p.schema, p.attr, p.sub)
    order = str(params.get("sortorder") or "ascending").strip().lower()
    if order not in ("ascending", "descending"):
        raise invalid_value('"sortOrder" must be "ascending" or "descending"')
    cursor = params.get("cursor")
    if cursor is not None and start is not None:
        raise invalid_value('give "cursor" or "startIndex", not both: they are two ways of paging (RFC 9865 §2)')
    return ListQuery(
        filter=_parse_filter(params.get("filter")),
        sort_by=sort_path,
        descending=order == "descending",
        start_index=max(1, start) if start is not None else 1,  # RFC 7644 §3.4.2.4: < 1 means 1
        count=min(max(0, count), settings.max_page_size) if count is not None else settings.default_page_size,
        attributes=parse_attribute_list(params.get("attributes"), "attributes"),
        excluded=parse_attribute_list(params.get("excludedattributes"), "excludedAttributes"),
        cursor=cursor,
    )


def parse_list_query(query: dict[str, str], settings: PageLimits) -> ListQuery:
    """GET query parameters (already lower-cased keys)."""
    return _build(query, settings)


def parse_search_request(body, settings: PageLimits) -> ListQuery:
    """A SearchRequest message (RFC 7644 §3.4.3)."""
    message = parse_message(SearchRequest, body, "SearchRequest", SEARCH_REQUEST_URN)
    params = message.model_dump(exclude={"schemas"}, exclude_none=True)
    for name in ("attributes", "excludedattributes"):
        if isinstance(params.get(name), list):
            params[name] = ",".join(params[name])
    return _build(params, settings)
