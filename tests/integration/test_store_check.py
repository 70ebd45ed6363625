"""The store invariant checker (shared/storage/store_check.py): every kind of broken
row is found, repaired when a repair is safe, and reported when it is not;
the command line exits by the verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from azure.data.tables import UpdateMode

from shared.storage import keys
from shared.storage.store_check import check_tenant

from tests.integration.store_state import resources_table, snapshot
from tests.log_scan import LOG_CAPTURE
from tests.messages import GROUP, USER

ROOT = Path(__file__).resolve().parents[2]


def _populate(scim):
    users = [scim.post("/Users", {"schemas": [USER], "userName": f"chk{i}", "externalId": f"e{i}"}).json()["id"]
             for i in range(3)]
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "checked",
                                  "members": [{"value": u} for u in users[:2]]}).json()["id"]
    return users, group


def _corrupt(table, tenant, users, group) -> None:
    """One broken row of every kind the checker knows."""
    def row(key, **props):
        table.upsert_entity({"PartitionKey": tenant, "RowKey": key, **props}, mode=UpdateMode.REPLACE)

    ghost, ghost2 = keys.new_id(keys.USER), keys.new_id(keys.USER)
    row(keys.unique_key("un", "ghost"), k="I", id=ghost)  # index-orphan
    row(keys.index_key("ue", "unlisted", users[0]), k="I", id=users[0])  # index-stale
    table.delete_entity(tenant, keys.unique_key("un", "chk1"))  # index-missing
    row(keys.member_edge_key(group, ghost), k="M")  # edge-dangling, with its reverse edge
    row(keys.reverse_edge_key(ghost, group), k="B")
    row(keys.reverse_edge_key(ghost2, group), k="B")  # reverse-dangling
    table.delete_entity(tenant, keys.reverse_edge_key(users[0], group))  # reverse-missing
    row(keys.reverse_edge_key(users[2], group), k="B")  # edge-missing
    shard = keys.counter_key(keys.USER, 15)  # counter-mismatch: three users too many
    counted = {e["RowKey"]: e["n"] for e in table.query_entities("PartitionKey eq @pk and k eq 'C'", parameters={"pk": tenant})}
    row(shard, k="C", n=counted.get(shard, 0) + 3)
    row("Z:stray", k="?")  # unknown-row
    entity = table.get_entity(tenant, keys.resource_key(keys.USER, users[2]))
    entity["ix"] = json.dumps(json.loads(entity["ix"]) + [keys.unique_key("un", "chk0")])
    table.update_entity(entity, mode=UpdateMode.REPLACE)  # index-conflict


ALL_KINDS = {"index-orphan", "index-stale", "index-missing", "edge-dangling", "reverse-dangling", "reverse-missing",
             "edge-missing", "counter-mismatch", "unknown-row", "index-conflict"}
UNREPAIRABLE = {"unknown-row", "index-conflict"}


def test_a_consistent_tenant_has_no_findings(scim, scim_app):
    _populate(scim)
    assert check_tenant(resources_table(scim_app), scim.tenant_id) == []


def test_every_broken_invariant_is_found_and_the_safe_ones_repaired(scim, scim_app):
    table = resources_table(scim_app)
    users, group = _populate(scim)
    before = snapshot(table, scim.tenant_id)
    _corrupt(table, scim.tenant_id, users, group)

    found = check_tenant(table, scim.tenant_id)
    assert {f.kind for f in found} == ALL_KINDS and not any(f.repaired for f in found)
    assert check_tenant(table, scim.tenant_id) == found  # checking changes nothing

    repaired = check_tenant(table, scim.tenant_id, repair=True)
    assert {f.kind for f in repaired if f.repaired} == ALL_KINDS - UNREPAIRABLE
    assert {f.kind for f in check_tenant(table, scim.tenant_id)} == UNREPAIRABLE

    table.delete_entity(scim.tenant_id, "Z:stray")  # what a person would do about the two left
    entity = table.get_entity(scim.tenant_id, keys.resource_key(keys.USER, users[2]))
    entity["ix"] = json.dumps(json.loads(entity["ix"])[:-1])
    table.update_entity(entity, mode=UpdateMode.REPLACE)
    assert check_tenant(table, scim.tenant_id) == []
    assert snapshot(table, scim.tenant_id) == before
    # the service serves the repaired tenant: counts, index lookups and members agree
    assert scim.get("/Users", params={"count": 0}).json()["totalResults"] == 3
    assert scim.get("/Users", params={"filter": 'userName eq "chk1"'}).json()["totalResults"] == 1
    assert {m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]} == set(users[:2])
    assert scim.post("/Users", {"schemas": [USER], "userName": "after-repair"}).status_code == 201
    assert check_tenant(table, scim.tenant_id) == []


def test_command_line_reports_repairs_and_exits_by_the_verdict(scim, scim_app, storage_connection_string):
    table = resources_table(scim_app)
    users, group = _populate(scim)
    table.delete_entity(scim.tenant_id, keys.reverse_edge_key(users[1], group))
    env = dict(os.environ, SCIM_STORAGE_CONNECTION_STRING=storage_connection_string)

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "shared.storage.store_check", "--tenant", scim.tenant_id, "--json", *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        LOG_CAPTURE.feed(done.stderr, "store_check")
        return done.returncode, json.loads(done.stdout)

    status, report = run()
    assert status == 1 and [f["kind"] for f in report["findings"]] == ["reverse-missing"]
    status, report = run("--repair")
    assert status == 0 and report["remaining"] == 0 and report["findings"][0]["repaired"]
    assert run() == (0, {"tenant": scim.tenant_id, "findings": [], "remaining": 0})


def test_rows_written_before_the_text_check_are_reported(tmp_path):
    """A store written before shared/scim/storable_text.py existed may hold lone
    surrogates and control characters; ``scimctl check-store`` names each
    such row.  Its own Azurite: stored lone surrogates can break the one
    every other test shares."""
    from azure.data.tables import TableServiceClient

    from scripts.azurite import start
    from shared.scim.records import StoredResource, now_iso
    from shared.storage.table_store import TenantStore

    own = start(in_memory=True)
    try:
        table = TableServiceClient.from_connection_string(own.connection_string).create_table("scimresources")
        tenant, now = "legacy", now_iso()
        store = TenantStore(table, tenant)
        store.open_writes()
        bad_user = StoredResource(keys.USER, keys.new_id(keys.USER), {"userName": "old", "displayName": "x\ud800y"},
                                  now, now, "v1", (keys.unique_key("un", "old"),))
        good_user = StoredResource(keys.USER, keys.new_id(keys.USER), {"userName": "fine", "title": "a\tb"},
                                   now, now, "v1", (keys.unique_key("un", "fine"),))
        store.create(bad_user)
        store.create(good_user)
        table.upsert_entity({"PartitionKey": tenant, "RowKey": keys.member_edge_key(keys.new_id(keys.GROUP), bad_user.id),
                             "k": "M", "disp": "nul\x00here"})
        result = subprocess.run([str(Path(sys.executable).with_name("scimctl")), "--connection-string",
                                 own.connection_string, "--json", "check-store", tenant],
                                capture_output=True, text=True, timeout=60)
        findings = json.loads(result.stdout)["findings"]
        unstorable = {f["row_key"]: f["detail"] for f in findings if f["kind"] == "unstorable-text"}
        assert unstorable == {
            keys.resource_key(keys.USER, bad_user.id): "attribute displayName holds U+D800 (an unpaired surrogate) at character 2",
            next(iter(k for k in unstorable if ":m:" in k)): "property disp holds U+0000 (a control character) at character 4",
        }
        assert result.returncode == 1
    finally:
        own.stop()
