"""Storage-call budgets: what each request the benchmark sends should cost.

The app counts the storage round trips of every request and, with
``SCIM_EXPOSE_STORAGE_CALLS=1`` (the bench sets it), returns the count in
``X-Storage-Calls`` (:mod:`shared.storage.calls`).  Unlike a time, that count
does not move with the load on the machine, so it is what the CI guard
gates on (``tests/bench/test_regression_guard.py``).  Each budget below is
the cost of the request's code path in the steady state, as the app is
written now; a change that adds a round trip to a request type fails the
guard until the budget here is raised on purpose.

One-off costs come on top, and only add calls: the first use of each
counter shard in a process reads it (:mod:`shared.storage.counters`, at most
``SHARDS`` reads per resource type), a credential is looked up again when
its cache entry expires (``SCIM_AUTH_CACHE_SECONDS``), each table is
created on its first use, the SDK retries a dropped connection.  So the *cheapest* request of a type costs exactly its
budget, whatever the load; the calls above budget are judged in total
against :func:`one_off_allowance`.

Budgets (a transaction is one call however many operations it has, the
tenant's write guard MERGE and the change's event row included; the event
row is also the change's audit entry, :mod:`shared.storage.audit`, so an
accepted change pays no audit write of its own):

========================================================  ======================================
request                                                   calls
========================================================  ======================================
``GET /Users?filter=userName eq`` (no such user)          1: the unique-index point read
``GET /Groups?filter=displayName eq``, members excluded   1 when absent, 2 when found (+ the row)
``POST /Users``, ``POST /Groups``                         1 transaction
``PATCH /Groups`` adding k members                        :func:`add_members`
``PATCH /Groups`` removing k members (k <= 48)            1 point read (the group) + 1 transaction
user ``PATCH`` (manager, update, disable)                 1 range read + 1 transaction
``GET /Users/{id}``                                       1 range read (the user and its edges)
``GET /Groups/{id}?excludedAttributes=members``           1 point read
``GET /Users?startIndex=1&count=100`` (the first page)    1 range read: counter shards + first rows
``GET /Users?startIndex=..&count=100`` (the next pages)   2: the counter shards (their version tells
                                                          the remembered position still holds,
                                                          :mod:`shared.storage.paging`) + the page's own rows
``GET /Users?count=1``                                    1 range read (counter shards + first row)
========================================================  ======================================
"""

from __future__ import annotations

import math

from shared.storage.counters import SHARDS  # first-use reads per resource type and process
from shared.storage.transactions import MAX_TRANSACTION_OPS as TRANSACTION_OPS  # the 100th operation is the tenant guard

ONE_TRANSACTION_MEMBERS = (TRANSACTION_OPS - 2) // 3  # group MERGE, event row + 3 operations per member: 32
ONE_TRANSACTION_REMOVALS = (TRANSACTION_OPS - 2) // 2  # group MERGE, event row + 2 operations per member: 48

FILTER_MISS = 1
FILTER_HIT = 2
CREATE = 1
USER_PATCH = 1 + 1
GET_USER = 1
GET_GROUP_WITHOUT_MEMBERS = 1
FIRST_PAGE = 1
NEXT_PAGE = 2
COUNT = 1


GROUP_READ = 1  # a membership change reads the group's row first: its version orders the change's event


def add_members(k: int) -> int:
    """A member-add PATCH of ``k`` members (:meth:`TenantStore.add_members`):
    the group's row read, then one transaction up to
    :data:`ONE_TRANSACTION_MEMBERS`; beyond, the existence checks (member
    MERGEs in transactions of ``TRANSACTION_OPS``), then the edges,
    ``ONE_TRANSACTION_MEMBERS`` members per transaction."""
    if k <= ONE_TRANSACTION_MEMBERS:
        return GROUP_READ + 1
    return GROUP_READ + math.ceil(k / TRANSACTION_OPS) + math.ceil(k / ONE_TRANSACTION_MEMBERS)


def remove_members(k: int) -> int:
    """A member-remove PATCH of ``k`` members, all present: ``ONE_TRANSACTION_REMOVALS``
    per transaction, each with the group's new version and its event."""
    return GROUP_READ + max(1, math.ceil(k / ONE_TRANSACTION_REMOVALS))


AUTH_CACHE_SECONDS = 30  # SCIM_AUTH_CACHE_SECONDS default: a credential is looked up again after it
AUTH_LOOKUP = 2          # a credential lookup: the credential's row and the tenant's row
TABLES = 3               # each of the app's tables is created (if absent) on its first use in a process


def one_off_allowance(requests: int, seconds: float, threads: int, kinds: int) -> int:
    """Storage calls above budget that one-off costs can explain in a run of
    ``requests`` requests over ``seconds`` by ``threads`` concurrent clients
    creating ``kinds`` resource types: every counter shard read once per
    type; a credential lookup by each client per started cache period (the
    first one included: concurrent clients all miss an expired entry); the
    tables' creation; and 1 % of the requests for retries."""
    periods = 1 + math.ceil(max(seconds, 0) / AUTH_CACHE_SECONDS)
    return SHARDS * kinds + AUTH_LOOKUP * threads * periods + TABLES + math.ceil(requests / 100)
