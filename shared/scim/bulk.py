"""Bulk operations (RFC 7644 §3.7) without I/O: the limits of a BulkRequest,
the plan of its operations, ``bulkId`` references and the BulkResponse.

The web edge (:mod:`shared.web.bulk`) runs the plan: each operation as the
request it stands for, through the same handlers as that request sent
alone.  What is decided here:

* **Limits** (§3.7.4): a body above ``maxPayloadSize`` or more operations
  than ``maxOperations`` is 413 for the whole request, naming the limit.
* **The envelope** (:class:`~shared.scim.messages.BulkRequest`): what is not
  a BulkRequest is 400 for the whole request; so are a ``failOnErrors``
  below 1 and two POST operations with the same ``bulkId`` (a reference to
  it would be ambiguous).
* **Each operation** is checked on its own, so that one bad operation fails
  alone (§3.7: "continue performing as many changes as possible"): a
  method other than POST, PUT, PATCH or DELETE, a POST without ``bulkId``,
  missing ``data``, or a ``path`` other than ``/Users``, ``/Groups``,
  ``/Users/{id}`` or ``/Groups/{id}`` is that operation's 400
  ``invalidValue``.
* **References** (§3.7.2): a string ``"bulkId:<id>"`` anywhere in an
  operation's ``data`` (a group's ``members[].value``, the enterprise
  ``manager.value``, a PATCH value), as a ``/``-separated part of such a
  string (a ``$ref`` URL) or as the id of its ``path`` stands for
  the id of the resource the POST with that ``bulkId`` created.  The
  operations run in request order, except that an operation runs after
  the POSTs it refers to, even when they come later in the request (the
  reordering §3.7 allows, keeping the client's intent).  A reference to a
  ``bulkId`` no POST of the request has is 400 ``invalidValue``; one to a
  POST that failed (or was not run) is 409.
* **Circular references** (§3.7.1): operations that refer to each other in
  a cycle (two new groups each a member of the other) are 409, all of them.
  Resolving the cycle would need one operation split into two writes (the
  create, then a later membership change), and each operation is atomic on
  its own; §3.7.1 lets the service provider stop there with 409.
* **The response** (§3.7.3): one entry per operation run, in request order,
  with ``method``, ``bulkId`` (when given), ``location`` (except for a
  failed POST), ``version`` (the ETag, when the operation answered one) and
  ``status``, the HTTP status code as a string, as the RFC's examples give
  it; a failed operation carries its RFC 7644 §3.12 error as ``response``.
  ``failOnErrors`` stops the run after that many errors; operations not run
  are absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ScimError, invalid_value, printable
from .messages import BulkRequest
from .schemas import BULK_RESPONSE_URN

BULK_ID_PREFIX = "bulkId:"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
_WITH_DATA = frozenset({"POST", "PUT", "PATCH"})
_TARGET = re.compile(r"/(users|groups)(?:/([^/?#]+))?", re.IGNORECASE)
_ENDPOINTS = {"users": "Users", "groups": "Groups"}
#: A reference (§3.7.2): ``bulkId:`` at the start of a string, after a ``/``
#: (a path or URL) or after a quote (a PATCH path's filter value), up to the
#: next of those separators; a POST's ``bulkId`` may not hold one.
_REFERENCE = re.compile(r'(?:^|(?<=[/"]))' + BULK_ID_PREFIX + r'([^/"\s\]]+)')
_NOT_IN_BULK_ID = re.compile(r'[/"\s\]]')


def check_payload_size(size: int, max_payload_size: int) -> None:
    """§3.7.4: 413 naming ``maxPayloadSize`` for a body above it."""
    if size > max_payload_size:
        raise ScimError(413, f"The size of the bulk operation ({size} bytes) exceeds the maxPayloadSize "
                             f"({max_payload_size}).")


def check_operation_count(body: Any, max_operations: int) -> None:
    """§3.7.4: 413 naming ``maxOperations`` for more operations than it,
    counted before any operation is validated."""
    if not isinstance(body, dict):
        return
    operations = next((v for k, v in body.items() if isinstance(k, str) and k.lower() == "operations"), None)
    if isinstance(operations, list) and len(operations) > max_operations:
        raise ScimError(413, f"The number of operations ({len(operations)}) exceeds the maxOperations "
                             f"({max_operations}).")


@dataclass(slots=True)
class PlannedOperation:
    """One operation of the request: what it asks, the ``bulkId`` values it
    refers to, and the error it fails with whatever runs before it."""

    index: int
    method: str
    path: str
    bulk_id: str | None
    version: str | None
    data: Any
    references: tuple[str, ...]
    error: ScimError | None = None


@dataclass(frozen=True, slots=True)
class BulkPlan:
    """The operations, the order to run them in and ``failOnErrors``."""

    operations: tuple[PlannedOperation, ...]
    order: tuple[int, ...]
    fail_on_errors: int | None


def plan_bulk(message: BulkRequest) -> BulkPlan:
    """The plan of a parsed BulkRequest (the rules are the module's docstring)."""
    if message.failonerrors is not None and message.failonerrors < 1:
        raise invalid_value(f'"failOnErrors" must be a positive integer (the errors to accept before stopping), '
                            f"not {message.failonerrors}")
    operations = tuple(_planned(index, op) for index, op in enumerate(message.operations))
    creators: dict[str, int] = {}
    for op in operations:
        if op.method == "POST" and op.bulk_id is not None:
            if op.bulk_id in creators:
                raise invalid_value(f'bulkId "{printable(op.bulk_id)}" is given to more than one POST operation '
                                    f"(Operations {creators[op.bulk_id] + 1} and {op.index + 1}); each must be unique")
            creators[op.bulk_id] = op.index
    for op in operations:
        unknown = next((b for b in op.references if b not in creators), None)
        if op.error is None and unknown is not None:
            op.error = invalid_value(f'"{BULK_ID_PREFIX}{printable(unknown)}" refers to no POST operation of this '
                                     "bulk request")
    depends = [[creators[b] for b in op.references if b in creators] for op in operations]
    order, cyclic = _processing_order(depends)
    for index in cyclic:
        if operations[index].error is None:
            operations[index].error = ScimError(409, "circular bulkId references: this operation and the POST "
                                                     "operations it refers to depend on each other, so none of "
                                                     "them can be completed on its own (RFC 7644 §3.7.1)")
    return BulkPlan(operations, tuple(order), message.failonerrors)


def _planned(index: int, op) -> PlannedOperation:
    """One operation with the error it fails with, if it is wrong on its own."""
    method = op.method.upper()
    in_data = referenced_bulk_ids(op.data) if method in _WITH_DATA else []  # a DELETE's data is not read
    references = tuple(dict.fromkeys(referenced_bulk_ids(op.path) + in_data))
    planned = PlannedOperation(index, method, op.path, op.bulkid, op.version, op.data, references)
    if method not in METHODS:
        planned.error = invalid_value(f'"method" must be POST, PUT, PATCH or DELETE, not "{printable(op.method)}"')
    elif method == "POST" and not op.bulkid:
        planned.error = invalid_value('a POST operation needs a "bulkId" (RFC 7644 §3.7)')
    elif method == "POST" and _NOT_IN_BULK_ID.search(op.bulkid):
        planned.error = invalid_value(f'bulkId "{printable(op.bulkid)}" cannot be referred to: a bulkId may not '
                                      'hold "/", a quote, "]" or white space')
    elif method in _WITH_DATA and not op.has_data:
        planned.error = invalid_value(f'a {method} operation needs "data": the body the request would have alone')
    else:
        try:
            target(op.path)
        except ScimError as exc:
            planned.error = exc
    return planned


def _processing_order(depends: list[list[int]]) -> tuple[list[int], set[int]]:
    """Request order, each operation after the operations it depends on
    (a depth-first walk, without recursion); and the operations on a cycle."""
    order: list[int] = []
    cyclic: set[int] = set()
    state = [0] * len(depends)  # 0: not seen, 1: on the current path, 2: placed
    for root in range(len(depends)):
        if state[root]:
            continue
        state[root] = 1
        path = [(root, iter(depends[root]))]
        while path:
            node, pending = path[-1]
            following = next(pending, None)
            if following is None:
                path.pop()
                state[node] = 2
                order.append(node)
            elif state[following] == 1:
                on_path = [n for n, _ in path]
                cyclic.update(on_path[on_path.index(following):])
            elif state[following] == 0:
                state[following] = 1
                path.append((following, iter(depends[following])))
    return order, cyclic


def referenced_bulk_ids(value: Any) -> list[str]:
    """The ``bulkId`` values ``value`` refers to (:data:`_REFERENCE`: a
    ``"bulkId:<id>"`` string at any depth, a path's id, a part of a URL, a
    quoted value in a PATCH path's filter), in the order met."""
    found: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found += _REFERENCE.findall(item)
        elif isinstance(item, dict):
            pending += reversed(list(item.values()))
        elif isinstance(item, list):
            pending += reversed(item)
    return found


def resolved(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every ``"bulkId:<id>"`` replaced by the id the POST
    with that ``bulkId`` created (§3.7.2); every reference must be in ``ids``."""
    if isinstance(value, str):
        return _REFERENCE.sub(lambda match: ids[match.group(1)], value) if BULK_ID_PREFIX in value else value
    if isinstance(value, dict):
        return {key: resolved(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item, ids) for item in value]
    return value


def unresolved(bulk_id: str) -> ScimError:
    """409 for a reference to a POST that failed or was not run."""
    return ScimError(409, f'"{BULK_ID_PREFIX}{printable(bulk_id)}" cannot be resolved: the POST operation with '
                          "that bulkId did not create a resource")


def target(path: str) -> tuple[str, str | None]:
    """The route (:mod:`shared.scim.endpoints`) and resource id an operation's
    ``path`` names: ``/Users``, ``/Groups``, ``/Users/{id}``, ``/Groups/{id}``
    (§3.7: "the resource's relative path"); anything else is 400."""
    match = _TARGET.fullmatch(path)
    if match is None:
        raise invalid_value(f'"path" must be /Users, /Groups, /Users/{{id}} or /Groups/{{id}}, not '
                            f'"{printable(path)}"')
    endpoint = _ENDPOINTS[match.group(1).lower()]
    resource_id = match.group(2)
    return (f"{endpoint}/{{id}}", resource_id) if resource_id is not None else (endpoint, None)


def operation_result(op: PlannedOperation, status: int, *, location: str | None = None,
                     version: str | None = None, error: dict | None = None) -> dict:
    """One entry of the BulkResponse's ``Operations`` (§3.7.3)."""
    result: dict = {"method": op.method}
    if op.bulk_id is not None:
        result["bulkId"] = op.bulk_id
    if location:
        result["location"] = location
    if version:
        result["version"] = version
    result["status"] = str(status)
    if error is not None:
        result["response"] = error
    return result


def failed(result: dict) -> bool:
    """Whether an entry of the response reports an error (a status of 400 or more)."""
    return int(result["status"]) >= 400


def bulk_response(results: list[dict]) -> dict:
    """The BulkResponse (§3.7.3)."""
    return {"schemas": [BULK_RESPONSE_URN], "Operations": results}


def changed_anything(body: dict | None) -> bool:
    """Whether a BulkResponse reports an operation that succeeded (each is a
    change: POST, PUT, PATCH or DELETE)."""
    return any(not failed(result) for result in (body or {}).get("Operations", ()))
