"""What the reliability tests compare: a tenant's stored state, with the
parts that differ between two equivalent runs (ids, versions, timestamps,
which counter shard was used) taken out, and the store checker's verdict.

Two runs that sent the same requests -- one clean, one with faults and
replays -- must give equal :func:`snapshot`\\ s and no :func:`findings`.
"""

from __future__ import annotations

import json

from shared.storage.store_check import check_tenant
from shared.storage.keys import ROW_COUNTER, ROW_EDGE, ROW_INDEX, ROW_RESOURCE, ROW_REVERSE
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
