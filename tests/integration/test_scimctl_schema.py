"""``scimctl schema`` end to end against Azurite: the command (run as
``python -m shared.admin`` from this checkout, the module the installed
``scimctl`` runs) adds, lists, shows and removes a tenant's extension
schemas; the app (with no credential cache, as every instance is after
``SCIM_AUTH_CACHE_SECONDS``) serves them at ``/Schemas`` and
``/ResourceTypes`` and stores values under them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shared.storage.outbox import Outbox
from shared.storage.tables import RESOURCES
from tests.integration.test_scimctl import ROOT, output, refusal, service, unique  # noqa: F401 - service: a fixture
from shared.scim.http import Request
from tests.log_scan import LOG_CAPTURE
from tests.messages import PATCH, USER

EXT = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
TEAM = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:Team"
DOCUMENT = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    "id": EXT, "name": "ContosoUser", "description": "Contoso's user attributes",
    "attributes": [
        {"name": "costCenter", "type": "string", "multiValued": False, "required": False, "caseExact": False,
         "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
        {"name": "tier", "type": "string", "multiValued": False, "canonicalValues": ["gold", "silver"]},
    ],
}


def get(service, token: str, route: str, resource_id: str | None = None):
    url = f"http://127.0.0.1/scim/v2/{route.replace('{id}', resource_id or '')}"
    response = service.handle(Request.build("GET", url, {"Authorization": f"Bearer {token}"}, b""), route, resource_id)
    return response.status, response.body


def send(service, token: str, method: str, route: str, body: dict, resource_id: str | None = None):
    url = f"http://127.0.0.1/scim/v2/{route.replace('{id}', resource_id or '')}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    response = service.handle(Request.build(method, url, headers, json.dumps(body).encode()), route, resource_id)
    return response.status, response.body


@pytest.fixture
def ctl(storage_connection_string, scim_app):
    def run(*args: str, ok: bool = True):
        result = subprocess.run([sys.executable, "-m", "shared.admin", "--connection-string", storage_connection_string,
                                 "--json", *args], capture_output=True, text=True, timeout=60, cwd=ROOT)
        LOG_CAPTURE.feed(result.stderr, "scimctl")
        return output(result) if ok else result
    return run


@pytest.fixture
def tenant(ctl):
    created = ctl("tenant", "create", "--name", unique("schemas"))
    return created["tenant_id"], created["token"]


def write(tmp_path, document, name="ext.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_add_list_show_and_serve(ctl, tenant, service, tmp_path):
    tenant_id, token = tenant
    added = ctl("schema", "add", tenant_id, "--file", write(tmp_path, DOCUMENT))
    assert added["id"] == EXT and added["resourceType"] == "User" and added["required"] is False  # from ":User"
    assert ctl("schema", "list", tenant_id)["schemas"] == [
        {"id": EXT, "name": "ContosoUser", "resourceType": "User", "required": False, "attributes": 2}]
    shown = ctl("schema", "show", tenant_id, EXT.lower())
    assert shown["schema"]["id"] == EXT and [a["name"] for a in shown["schema"]["attributes"]] == ["costCenter", "tier"]
    team = {**DOCUMENT, "id": TEAM, "name": "Team"}
    assert ctl("schema", "add", tenant_id, "--file", write(tmp_path, team), "--resource-type", "Group",
               "--required")["required"] is True
    code, body = get(service, token, "Schemas/{id}", EXT)
    assert code == 200 and body["attributes"][1]["canonicalValues"] == ["gold", "silver"]
    code, body = get(service, token, "ResourceTypes/{id}", "Group")
    assert code == 200 and body["schemaExtensions"] == [{"schema": TEAM, "required": True}]
    audit = ctl("audit", "show", tenant_id)["entries"]
    assert [e["operation"] for e in audit[:2]] == ["schema.add", "schema.add"]
    assert audit[0]["attributes"] == "resourceType=Group required=true"


@pytest.mark.parametrize("document, says", [
    ({**DOCUMENT, "id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}, "is a built-in schema"),
    ({**DOCUMENT, "id": "urn:ietf:params:scim:schemas:core:3.0:User"}, "namespace SCIM reserves"),
    ({**DOCUMENT, "id": "contoso-user"}, '"id" must be a URN'),
    ({**DOCUMENT, "id": "urn:ietf:params:scim:schemas:extension:Contoso:2.0:Gadget"}, "--resource-type"),
    ({**DOCUMENT, "attributes": [{"name": "x", "type": "text", "multiValued": False}]}, '"type" must be one of'),
    ({**DOCUMENT, "attributes": [{"name": "x", "type": "string"}]}, '"multiValued" is required'),
    ({**DOCUMENT, "attributes": [{"name": "2x", "type": "string", "multiValued": False}]}, "is not an ATTRNAME"),
    ({**DOCUMENT, "attributes": [{"name": "x", "type": "string", "multiValued": "no"}]}, "multiValued must be true or false"),
    ({**DOCUMENT, "attributes": [{"name": "x", "type": "string", "multiValued": False, "uniqueness": "server"}]},
     '"uniqueness" must be "none"'),
    ({**DOCUMENT, "attributes": [{"name": "x", "type": "complex", "multiValued": False, "subAttributes": [
        {"name": "y", "type": "complex", "multiValued": False, "subAttributes": []}]}]}, "cannot be complex"),
    ({**DOCUMENT, "attributes": [{"name": "x", "type": "complex", "multiValued": False}]}, "needs \"subAttributes\""),
    ({**DOCUMENT, "attributes": [{"name": "x", "type": "string", "multiValued": False, "mutability": "writeOnly"}]},
     "writeOnly"),
    ({**DOCUMENT, "attributes": [{"name": "x", "type": "string", "multiValued": False, "colour": "red"}]},
     "unknown characteristic"),
    ({**DOCUMENT, "attributes": [{"name": "x", "type": "string", "multiValued": False},
                                 {"name": "X", "type": "string", "multiValued": False}]}, "case-insensitive"),
    ({**DOCUMENT, "attributes": []}, "non-empty array"),
    ({**DOCUMENT, "name": ""}, '"name" must be a non-empty string'),
], ids=["built-in", "core-namespace", "not-a-urn", "no-resource-type", "bad-type", "no-multiValued", "bad-name",
        "not-a-boolean", "uniqueness", "nested-complex", "no-subAttributes", "writeOnly-returned", "unknown-key",
        "duplicate-name", "no-attributes", "no-name"])
def test_add_refuses_a_bad_schema_in_one_line(ctl, tenant, tmp_path, document, says):
    tenant_id, _ = tenant
    line = refusal(ctl("schema", "add", tenant_id, "--file", write(tmp_path, document), ok=False), 1)
    assert says in line, line
    assert ctl("schema", "list", tenant_id)["schemas"] == []


def test_add_refuses_a_duplicate_and_a_file_that_is_not_json(ctl, tenant, tmp_path):
    tenant_id, _ = tenant
    ctl("schema", "add", tenant_id, "--file", write(tmp_path, DOCUMENT))
    line = refusal(ctl("schema", "add", tenant_id, "--file", write(tmp_path, {**DOCUMENT, "id": EXT.upper()[:4].lower()
                                                                                  + EXT[4:].upper()}), ok=False), 1)
    assert "already a schema of this tenant" in line
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert "is not JSON" in refusal(ctl("schema", "add", tenant_id, "--file", str(tmp_path / "broken.json"), ok=False), 1)
    (tmp_path / "deep.json").write_text("[" * 100_000, encoding="utf-8")
    assert "is not JSON" in refusal(ctl("schema", "add", tenant_id, "--file", str(tmp_path / "deep.json"), ok=False), 1)
    assert "cannot read" in refusal(ctl("schema", "add", tenant_id, "--file", str(tmp_path / "absent.json"), ok=False), 1)


def test_remove_is_refused_while_values_are_stored_unless_forced(ctl, tenant, service, tmp_path):
    tenant_id, token = tenant
    ctl("schema", "add", tenant_id, "--file", write(tmp_path, DOCUMENT))
    users = []
    for n, values in enumerate(({"costCenter": "CC-1"}, {"tier": "gold"}, {})):
        body = {"schemas": [USER, EXT], "userName": f"remove.{n}@contoso.example", **({EXT: values} if values else {})}
        code, created = send(service, token, "POST", "Users", body)
        assert code == 201, created
        users.append(created["id"])
    line = refusal(ctl("schema", "remove", tenant_id, EXT, ok=False), 1)
    assert line == (f"scimctl: refused: 2 User(s) hold values under {EXT} (attributes: costCenter, tier); "
                    "--force removes the schema and drops these values")
    assert get(service, token, "Schemas/{id}", EXT)[0] == 200  # still registered
    unsigned = refusal(ctl("schema", "remove", tenant_id, EXT, "--force", ok=False), 1)
    assert "--base-url" in unsigned and get(service, token, "Schemas/{id}", EXT)[0] == 200  # no issuer for the events
    base = "https://scim.example/scim/v2"
    removed = ctl("schema", "remove", tenant_id, EXT, "--force", "--base-url", base + "/")
    assert removed["resources_dropped"] == 2 and removed["attributes_dropped"] == ["costCenter", "tier"]
    drops = [e for e in Outbox(service.tables.table(RESOURCES), tenant_id).pending() if e.actor.startswith("cli:")]
    assert len(drops) == 2 and {e.issuer for e in drops} == {base}  # what the application verifies as iss
    assert get(service, token, "Schemas/{id}", EXT)[0] == 404
    for uid in users:
        code, user = get(service, token, "Users/{id}", uid)
        assert code == 200 and EXT not in user and user["schemas"] == [USER]
    assert [e["operation"] for e in ctl("audit", "show", tenant_id, "--limit", "3")["entries"]] == [
        "schema.remove", "patch", "patch"]
    code, _ = send(service, token, "PATCH", "Users/{id}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": f"{EXT}:costCenter", "value": "CC-2"}]}, users[0])
    assert code == 400  # no longer a schema of the tenant


def test_remove_without_stored_values_and_of_an_unknown_schema(ctl, tenant, tmp_path):
    tenant_id, _ = tenant
    ctl("schema", "add", tenant_id, "--file", write(tmp_path, DOCUMENT))
    assert ctl("schema", "remove", tenant_id, EXT)["resources_dropped"] == 0
    assert ctl("schema", "list", tenant_id)["schemas"] == []
    line = refusal(ctl("schema", "remove", tenant_id, EXT, ok=False), 1)
    assert line == f"scimctl: tenant {tenant_id} has no extension schema {EXT} (scimctl schema list)"
