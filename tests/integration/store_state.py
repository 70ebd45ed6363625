"""What the reliability tests compare: a tenant's stored state, with the
parts that differ between two equivalent runs (ids, versions, timestamps,
which counter shard was used) taken out, and the store checker's verdict.

Two runs that sent the same requests -- one clean, one with faults and
replays -- must give equal :func:`snapshot`\\ s and no :func:`findings`.
And the change events committed meanwhile, applied to the state before
(:func:`folded`), must give the state after (:func:`resource_model`).
"""

from __future__ import annotations

import json

from shared.storage.store_check import check_tenant
from shared.storage.event_rows import stored_event
from shared.storage.keys import ROW_COUNTER, ROW_EDGE, ROW_EVENT, ROW_INDEX, ROW_RESOURCE, ROW_REVERSE
from shared.storage.tables import RESOURCES, storage_call


def resources_table(scim_app):
    """The resources table client of the app under test."""
    return scim_app._get_service().tables.table(RESOURCES)


def _rows(table, tenant_id: str) -> list[dict]:
    pages = storage_call(table.query_entities, "PartitionKey eq @pk", parameters={"pk": tenant_id})
    return list(pages)


def snapshot(table, tenant_id: str) -> dict:
    """The tenant's state with every id replaced by the resource's name
    (``userName`` / ``displayName``): resources' data, edges both ways,
    index rows, and the count of each kind."""
    rows = _rows(table, tenant_id)
    names, data = {}, {}
    for row in rows:
        if row.get("k") == ROW_RESOURCE:
            kind, rid = row["RowKey"].split(":", 1)
            body = json.loads("".join(row[f"d{i}"] for i in range(64) if f"d{i}" in row))
            names[rid] = f"{kind}:{body.get('userName') or body.get('displayName')}"
            data[names[rid]] = body

    def name(rid: str) -> str:
        return names.get(rid, f"missing:{rid}")

    state = {"data": data, "edges": [], "reverse": [], "index": [], "counts": {}}
    for row in rows:
        key, kind = row["RowKey"], row.get("k")
        parts = key.split(":")
        if kind == ROW_EDGE:
            state["edges"].append((name(parts[1]), name(parts[3])))
        elif kind == ROW_REVERSE:
            state["reverse"].append((name(parts[3]), name(parts[1])))
        elif kind == ROW_INDEX:
            state["index"].append((key.rsplit(":", 1)[0] if key.startswith("I:") else key, name(row["id"])))
        elif kind == ROW_COUNTER:
            state["counts"][key[0]] = state["counts"].get(key[0], 0) + row["n"]
    for part in ("edges", "reverse", "index"):
        state[part].sort()
    state["counts"] = {k: n for k, n in state["counts"].items() if n}
    return state


def findings(table, tenant_id: str) -> list:
    """The store checker's findings (none means no orphans, no dangling rows,
    exact counters)."""
    return check_tenant(table, tenant_id)


def resource_model(table, tenant_id: str) -> dict:
    """What change events describe of a tenant: each resource's version and
    each group's member ids."""
    versions, members = {}, {}
    for row in _rows(table, tenant_id):
        kind = row.get("k")
        if kind == ROW_RESOURCE:
            versions[row["RowKey"]] = row["v"]
        elif kind == ROW_EDGE:
            _, gid, _, mid = row["RowKey"].split(":")
            members.setdefault(gid, set()).add(mid)
    return {"versions": versions, "members": members}


def event_keys(table, tenant_id: str) -> set[str]:
    """The jtis of the tenant's events, pending (``E:``) or delivered (``D:``)."""
    return {row["RowKey"].split(":", 1)[1] for row in _rows(table, tenant_id) if row.get("k") == ROW_EVENT}


def folded(model: dict, table, tenant_id: str, before: set[str]) -> dict:
    """``model`` with the events committed since ``before`` applied, in their
    order: what the resources must be if there is no change without its
    event and no event without its change."""
    versions = dict(model["versions"])
    members = {gid: set(ids) for gid, ids in model["members"].items()}
    rows = {r["RowKey"].split(":", 1)[1]: r for r in _rows(table, tenant_id) if r.get("k") == ROW_EVENT}
    for jti in sorted(set(rows) - before):
        row = rows[jti]
        change = stored_event(row).change
        key = f"{change.kind}:{change.resource_id}"
        if change.verb == "delete":
            versions.pop(key, None)
            members.pop(change.resource_id, None)
            for ids in members.values():
                ids.discard(change.resource_id)
            continue
        versions[key] = change.version
        if change.kind == "G":
            group = members.setdefault(change.resource_id, set())
            group |= set(change.added)
            group -= set(change.removed)
        else:  # a user's removal from groups (the first transactions of its delete)
            for gid in change.removed:
                members.get(gid, set()).discard(change.resource_id)
    return {"versions": versions, "members": {gid: ids for gid, ids in members.items() if ids}}
