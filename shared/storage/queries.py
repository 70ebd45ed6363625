"""Paged queries: the one way the app walks the rows of a Table Storage query.

``query_entities`` returns a pager and sends nothing; the rows arrive a page
at a time (``results_per_page``, at most 1,000), each page one HTTP request,
so one storage round trip on the counter of :mod:`shared.storage.calls`,
the next one only when the rows of the page before have been consumed, its
continuation token carried by the pager.  :func:`each_row` walks a pager
that way and sends each page's request through
:func:`~shared.storage.tables.storage_call`, so an outage half-way through
a query is :class:`~shared.storage.outcomes.StorageUnavailable` like any
other.  A caller that stops early (a page limit, the first match) sends no
further request.

Every caller builds its own pager, with a constant filter and its values
bound as ``parameters`` (``tests/integration/test_hardening.py`` checks each
call).
"""

from __future__ import annotations

# The one filter of a key range in a tenant's partition: rows with
# ``lo <= RowKey < hi`` (what the layout of :mod:`shared.storage.keys` makes
# adjacent).
RANGE = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"

from collections.abc import Iterable, Iterator

from .tables import storage_call


def each_row(pages: Iterable) -> Iterator:
    """The rows of ``pages`` (a ``query_entities`` pager), fetched page by page as consumed."""
    iterator = iter(pages)
    while True:
        try:
            row = storage_call(next, iterator)
        except StopIteration:
            return
        yield row
