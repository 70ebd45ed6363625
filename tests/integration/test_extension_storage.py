"""Extension schemas on Azurite: where they live, what they cost, what the
audit trail says about extension objects of no registered schema.

A tenant's schemas are a property of its tenant row, which authentication
reads and caches with the credential: a request of a tenant with extensions
costs exactly the storage calls of one without (the budgets of
tests/integration/test_storage_budgets.py hold unchanged).
"""

from __future__ import annotations

import json

import pytest

from shared.auth.tenants import TENANT, RegistryError
from shared.scim.extensions import MAX_SCHEMAS, MAX_STORED_CHARS, with_extension
from shared.storage.tables import TENANTS
from tests.integration.conftest import new_tenant_client
from tests.messages import USER, body_of, patch_op

EXT = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
UNREGISTERED = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
DOCUMENT = {"id": EXT, "name": "ContosoUser", "attributes": [{"name": "costCenter", "type": "string", "multiValued": False}]}


def register(registry, tenant_id: str, document=DOCUMENT) -> None:
    registry.change_extensions(tenant_id, lambda current: with_extension(current, document))


def requests_of(client, user_name: str, update: dict) -> list:
    """The calls Entra makes in a cycle: create, read, filter, patch (a path-less
    replace of ``update``); each succeeds."""
    client.get("/ServiceProviderConfig")
    created = client.post("/Users", {"schemas": [USER], "userName": user_name, EXT: {"costCenter": "CC-1"}})
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    return [created,
            client.get(f"/Users/{uid}"),
            client.get("/Users", params={"filter": f'userName eq "{user_name}"'}),
            client.patch(f"/Users/{uid}", patch_op({"op": "Replace", "value": update}))]


def test_a_tenant_with_extensions_pays_no_extra_storage_call(scim_server, registry):
    plain = new_tenant_client(scim_server, registry)
    extended = new_tenant_client(scim_server, registry)
    register(registry, extended.tenant_id)
    without = requests_of(plain, "plain.budget@contoso.example", {"displayName": "CC-2"})
    with_ext = requests_of(extended, "ext.budget@contoso.example", {f"{EXT}:costCenter": "CC-2"})
    assert all(r.status_code < 300 for r in without + with_ext)
    assert [plain.calls(r) for r in without] == [extended.calls(r) for r in with_ext]
    assert with_ext[1].json()[EXT] == {"costCenter": "CC-1"} and EXT not in without[1].json()


def test_the_schemas_are_stored_on_the_tenant_row(registry, scim_app):
    client = new_tenant_client("http://unused", registry)
    register(registry, client.tenant_id)
    row = scim_app._get_service().tables.table(TENANTS).get_entity(TENANT, client.tenant_id)
    stored = json.loads(row["ext"])
    assert stored == [{"resourceType": "User", "required": False, "schema": {  # RFC 7643 §2.2 defaults left out
        "id": EXT, "name": "ContosoUser", "description": "", "attributes": [
            {"name": "costCenter", "type": "string", "multiValued": False}]}}]


def test_non_ascii_text_is_stored_as_ascii_json(registry, scim_app):
    """A Table property counts UTF-16 code units: escaped, every character is one."""
    client = new_tenant_client("http://unused", registry)
    register(registry, client.tenant_id, {**DOCUMENT, "description": "Kostenstelle \U0001F4BC"})
    row = scim_app._get_service().tables.table(TENANTS).get_entity(TENANT, client.tenant_id)
    assert row["ext"].isascii() and "\\ud83d\\udcbc" in row["ext"]
    assert json.loads(row["ext"])[0]["schema"]["description"] == "Kostenstelle \U0001F4BC"


def test_the_limits_hold(registry):
    client = new_tenant_client("http://unused", registry)
    for n in range(MAX_SCHEMAS):
        register(registry, client.tenant_id, {**DOCUMENT, "id": f"urn:example:contoso:{n}:User"})
    with pytest.raises(RegistryError, match=f"at most {MAX_SCHEMAS} extension schemas"):
        register(registry, client.tenant_id)
    other = new_tenant_client("http://unused", registry)
    wordy = [{"name": f"a{n}", "type": "string", "multiValued": False, "description": "x" * 1000} for n in range(50)]
    with pytest.raises(RegistryError, match=f"at most {MAX_STORED_CHARS} characters"):
        register(registry, other.tenant_id, {**DOCUMENT, "attributes": wordy})
    assert registry.require_tenant(other.tenant_id).extensions == ""  # nothing half-written


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_ignored_extension_attributes_are_named_in_the_audit_entry(scim, scim_app, method):
    """An extension object of no registered schema is ignored, as Entra sends
    such objects (see the README); its attribute names -- never its values --
    go on the change's audit entry."""
    body = {"schemas": [USER], "userName": "ignored.audit@contoso.example",
            UNREGISTERED: {"tag": "Quintessa Albright", "level": None}, "urn:example:loose": "Ravindra Okonkwo-Lee"}
    if method == "POST":
        response = scim.post("/Users", body)
    else:
        uid = body_of(scim.post("/Users", {"schemas": [USER], "userName": body["userName"]}), 201)["id"]
        response = scim.put(f"/Users/{uid}", {**body, "displayName": "Changed"})
    stored = body_of(response, (200, 201))
    assert UNREGISTERED not in stored and "urn:example:loose" not in stored
    entry = scim_app._get_service().audit.recent(scim.tenant_id, 1)[0]
    assert entry.ignored == f"{UNREGISTERED}:tag,urn:example:loose"
    assert "Quintessa" not in repr(entry) and "Ravindra" not in repr(entry)


def test_a_change_without_ignored_attributes_names_none(scim, scim_app):
    body_of(scim.post("/Users", {"schemas": [USER], "userName": "clean.audit@contoso.example"}), 201)
    assert scim_app._get_service().audit.recent(scim.tenant_id, 1)[0].ignored == ""
