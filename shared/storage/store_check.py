"""The store invariant checker: find, and with ``repair`` fix, rows of one
tenant that disagree with each other.

A tenant is one partition (key layout: :mod:`shared.storage.keys`).  The writes of
:mod:`shared.storage.table_store` keep these invariants; a bug, a crash between the
transactions of a multi-transaction change, or a hand edit may break them,
and this module is how that is seen and undone::

    findings = check_tenant(table_client, tenant_id)               # report only
    findings = check_tenant(table_client, tenant_id, repair=True)  # and fix

Invariants, with the finding's ``kind`` when one is broken and what a repair
does:

=====================  ==========================================================
``index-orphan``       an index row (``X:``/``I:``) names a resource that does
                       not exist → the row is deleted
``index-stale``        an index row names a resource that does not list it in
                       its index keys → deleted
``index-missing``      a resource lists an index key that has no row → written
``index-conflict``     a unique value is listed by a resource but its row names
                       another, existing resource → reported only: which of the
                       two owns the value is a decision for a person
``edge-dangling``      a forward edge ``G:{g}:m:{m}`` whose group or member does
                       not exist → deleted (with its reverse edge)
``reverse-dangling``   a reverse edge ``{U|G}:{m}:g:{g}`` whose member or group
                       does not exist → deleted
``reverse-missing``    a forward edge between two existing resources without its
                       reverse edge → the reverse edge is written (the forward
                       edge, what the group shows and Entra reconciles, is the
                       authority)
``edge-missing``       a reverse edge between two existing resources without its
                       forward edge → the reverse edge is deleted
``counter-mismatch``   the counter shards of a kind do not add up to the number
                       of its resources → shard 00 is adjusted by the difference
``unstorable-text``    a row holds text the service now refuses at the door
                       (a lone surrogate, a control character, a noncharacter;
                       :mod:`shared.scim.storable_text`), written before that check
                       existed → reported only, with where it is: the fix is a
                       new value from the client (a PUT or PATCH of the
                       resource, or a delete)
``unknown-row``        a row none of the above describes → reported only
=====================  ==========================================================

The tenant's write guard row (``!tenant``, :mod:`shared.storage.transactions`) is
known and never reported: it is absent while the tenant is disabled.  Event
rows (``E:`` and ``D:``, :mod:`shared.storage.event_rows`) are known too: they are
history, each committed with its change, not state to agree with.

The scan reads the whole partition once (O(rows), pages of 1,000); run it
on a quiescent tenant (between Entra cycles): a change committing during
the scan may show as a finding that is gone a moment later, and a repair of
such a finding is harmless for rows (deletes and writes are idempotent) but
may leave a counter off by the change -- run the checker again to see.

Command line (storage settings from the environment, as ``scimctl``)::

    python -m shared.storage.store_check --tenant ID [--repair] [--json]

exits 0 when the tenant is consistent (after repair, with ``--repair``), 1
when findings remain, 2 when storage is unreachable or not configured.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from . import keys
from ..scim import storable_text
from ..config import Settings
from ..logs import quiet_sdk_loggers
from .keys import ROW_COUNTER, ROW_EDGE, ROW_EVENT, ROW_INDEX, ROW_RESOURCE, ROW_REVERSE
from .outcomes import StorageUnavailable
from .queries import each_row
from .tables import RESOURCES, Tables, storage_call

_KINDS = (keys.USER, keys.GROUP)


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken invariant: its kind (see the module doc), the row it is
    about, a human-readable detail, and whether a repair fixed it."""

    kind: str
    row_key: str
    detail: str
    repaired: bool = False


class _Partition:
    """One tenant's rows, sorted by what they are."""

    def __init__(self) -> None:
        self.resources: dict[str, dict] = {}  # "U:{id}" -> row
        self.index: dict[str, dict] = {}  # row key -> row
        self.edges: set[tuple[str, str]] = set()  # (group id, member id)
        self.reverse: set[tuple[str, str]] = set()  # (group id, member id)
        self.counters: dict[str, list[dict]] = defaultdict(list)
        self.unknown: list[str] = []
        self.unstorable: list[tuple[str, str]] = []  # (row key, where and what)

    def add(self, row: dict) -> None:
        key, kind = row["RowKey"], row.get("k")
        parts = key.split(":")
        problem = _refused_text(row)
        if problem:
            self.unstorable.append((key, problem))
        if key == keys.TENANT_KEY or (kind == ROW_EVENT and key[:2] in (keys.EVENT_PREFIX, keys.DELIVERED_PREFIX)):
            return
        if kind == ROW_RESOURCE and len(parts) == 2:
            self.resources[key] = row
        elif kind == ROW_INDEX:
            self.index[key] = row
        elif kind == ROW_EDGE and len(parts) == 4:
            self.edges.add((parts[1], parts[3]))
        elif kind == ROW_REVERSE and len(parts) == 4:
            self.reverse.add((parts[3], parts[1]))
        elif kind == ROW_COUNTER and key[:1] in _KINDS:
            self.counters[key[:1]].append(row)
        else:
            self.unknown.append(key)

    def exists(self, resource_id: str) -> bool:
        kind = keys.kind_of(resource_id)
        return kind is not None and keys.resource_key(kind, resource_id) in self.resources


class _Checker:
    def __init__(self, table: TableClient, tenant_id: str, repair: bool) -> None:
        self.table = table
        self.tenant_id = tenant_id
        self.repair = repair
        self.findings: list[Finding] = []

    def _found(self, kind: str, row_key: str, detail: str, fix=None) -> None:
        repaired = False
        if self.repair and fix is not None:
            fix()
            repaired = True
        self.findings.append(Finding(kind, row_key, detail, repaired))

    def _delete(self, row_key: str):
        def fix():
            try:
                storage_call(self.table.delete_entity, self.tenant_id, row_key)
            except ResourceNotFoundError:
                pass
        return fix

    def _write(self, row_key: str, **props):
        row = {"PartitionKey": self.tenant_id, "RowKey": row_key, **props}
        return lambda: storage_call(self.table.upsert_entity, row, mode=UpdateMode.REPLACE)

    def _read(self) -> _Partition:
        part = _Partition()
        pages = storage_call(self.table.query_entities, "PartitionKey eq @pk", parameters={"pk": self.tenant_id},
                             results_per_page=1000)
        for row in each_row(pages):
            part.add(row)
        return part

    def run(self) -> list[Finding]:
        part = self._read()
        self._check_index(part)
        self._check_edges(part)
        self._check_counters(part)
        for key in part.unknown:
            self._found("unknown-row", key, "a row this version of the store does not write")
        for key, problem in part.unstorable:
            self._found("unstorable-text", key, problem)
        return self.findings

    def _check_index(self, part: _Partition) -> None:
        listed: dict[str, set[str]] = defaultdict(set)  # resource id -> the index keys it lists
        for key, row in part.resources.items():
            listed[key.split(":", 1)[1]].update(json.loads(row.get("ix") or "[]"))
        for key, row in part.index.items():
            owner = row.get("id")
            if not isinstance(owner, str) or not part.exists(owner):
                self._found("index-orphan", key, f"names {owner!r}, which does not exist", self._delete(key))
            elif key not in listed[owner]:
                self._found("index-stale", key, f"names {owner}, which does not list it", self._delete(key))
        for owner, index_keys in sorted(listed.items()):
            for index_key in sorted(index_keys):
                holder = part.index.get(index_key, {}).get("id")
                if holder == owner:
                    continue
                if isinstance(holder, str) and part.exists(holder) and index_key in listed[holder]:
                    self._found("index-conflict", index_key, f"listed by {owner} but held by {holder}")
                else:  # absent, or held by a row found orphan or stale above
                    self._found("index-missing", index_key, f"listed by {owner} but not held by it",
                                self._write(index_key, k=ROW_INDEX, id=owner))

    def _check_edges(self, part: _Partition) -> None:
        for group_id, member_id in sorted(part.edges):
            edge = keys.member_edge_key(group_id, member_id)
            reverse = _reverse_key(member_id, group_id)
            if not (part.exists(group_id) and part.exists(member_id)):
                def fix(edge=edge, reverse=reverse):
                    self._delete(reverse)()
                    self._delete(edge)()
                self._found("edge-dangling", edge, "its group or its member does not exist", fix)
            elif (group_id, member_id) not in part.reverse:
                self._found("reverse-missing", reverse, f"{member_id} is a member of {group_id} without a reverse edge",
                            self._write(reverse, k=ROW_REVERSE))
        for group_id, member_id in sorted(part.reverse - part.edges):
            reverse = _reverse_key(member_id, group_id)
            if not (part.exists(group_id) and part.exists(member_id)):
                self._found("reverse-dangling", reverse, "its group or its member does not exist", self._delete(reverse))
            else:
                self._found("edge-missing", reverse, f"no forward edge: {member_id} is not a member of {group_id}",
                            self._delete(reverse))

    def _check_counters(self, part: _Partition) -> None:
        for kind in _KINDS:
            actual = sum(1 for key in part.resources if key.startswith(kind + ":"))
            counted = sum(int(row.get("n") or 0) for row in part.counters.get(kind, []))
            if actual != counted:
                key = keys.counter_key(kind, 0)
                self._found("counter-mismatch", keys.counter_prefix(kind),
                            f"the shards add up to {counted}; there are {actual}",
                            lambda kind=kind, key=key, diff=actual - counted: self._adjust(kind, key, diff))

    def _adjust(self, kind: str, key: str, diff: int) -> None:
        """Move shard 00 by ``diff``, conditioned on its ETag, so a running
        service's own counter update (see :mod:`shared.storage.counters`) is never
        overwritten: it re-reads the shard on its next 412."""
        for _ in range(5):
            try:
                row = storage_call(self.table.get_entity, self.tenant_id, key)
            except ResourceNotFoundError:
                try:
                    storage_call(self.table.create_entity,
                                 {"PartitionKey": self.tenant_id, "RowKey": key, "k": ROW_COUNTER, "n": diff})
                    return
                except ResourceExistsError:
                    continue
            update = {"PartitionKey": self.tenant_id, "RowKey": key, "n": int(row.get("n") or 0) + diff}
            try:
                storage_call(self.table.update_entity, update, mode=UpdateMode.MERGE,
                             etag=row.metadata["etag"], match_condition=MatchConditions.IfNotModified)
                return
            except HttpResponseError as exc:
                if exc.status_code != 412:  # 412: the service moved the shard meanwhile; read again
                    raise

        raise StorageUnavailable(f"counter shard {key} kept changing")


def _refused_text(row: dict) -> str | None:
    """Where a row holds refused text: its row key, a string property, or --
    for a resource -- an attribute inside its stored JSON (``d0``, ``d1``...)."""
    problem = storable_text.refused_character(row["RowKey"])
    if problem:
        return f"the row key holds {problem}"
    chunks = []
    for name, value in row.items():
        if name in ("PartitionKey", "RowKey") or not isinstance(value, str):
            continue
        if row.get("k") == ROW_RESOURCE and name[:1] == "d" and name[1:].isdigit():
            chunks.append((int(name[1:]), value))
            continue
        problem = storable_text.refused_character(value)
        if problem:
            return f"property {name} holds {problem}"
    if chunks:
        try:
            data = json.loads("".join(text for _, text in sorted(chunks)))
        except ValueError:
            return "its stored attributes are not JSON"
        problem = storable_text.first_refused(data)
        if problem:
            return f"attribute {problem}"
    return None


def _reverse_key(member_id: str, group_id: str) -> str:
    kind = keys.kind_of(member_id) or keys.USER
    return f"{kind}:{member_id}:g:{group_id}"


def check_tenant(table: TableClient, tenant_id: str, repair: bool = False) -> list[Finding]:
    """Check one tenant's partition of the resources table; with ``repair``
    also fix what can be fixed (each finding says whether it was).

    ``table`` is the resources table's client (``Tables(settings).table(RESOURCES)``).
    An empty list means the tenant is consistent.  Raises
    :class:`~shared.storage.outcomes.StorageUnavailable` when storage fails.
    """
    return _Checker(table, tenant_id, repair).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.storage.store_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", required=True, help="the tenant id (scimctl tenant list)")
    parser.add_argument("--repair", action="store_true", help="fix what can be fixed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    quiet_sdk_loggers()
    try:
        table = Tables(Settings.from_env()).table(RESOURCES)
        findings = check_tenant(table, args.tenant, args.repair)
    except (RuntimeError, StorageUnavailable, AzureError) as error:
        print(f"check-store: storage: {error}", file=sys.stderr)
        return 2
    remaining = [f for f in findings if not f.repaired]
    if args.json:
        print(json.dumps({"tenant": args.tenant, "findings": [asdict(f) for f in findings], "remaining": len(remaining)}))
    else:
        for f in findings:
            print(f"{f.kind:17} {f.row_key}  {f.detail}{'  [repaired]' if f.repaired else ''}")
        print(f"{len(findings)} finding(s), {len(remaining)} remaining")
    return 1 if remaining else 0


if __name__ == "__main__":
    sys.exit(main())
