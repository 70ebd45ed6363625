"""Bearer tokens are stored hashed; a token names exactly one tenant."""

from __future__ import annotations

import dataclasses

import requests

from shared.scim.http import Request
from shared.web.service import ScimService
from shared.storage.tables import TENANTS


def test_tokens_are_stored_only_as_hashes(scim, registry):
    rows = list(registry._tables.table(TENANTS).list_entities())
    assert rows and not any(scim.token in str(value) for row in rows for value in row.values())
    assert not any(scim.token in row["RowKey"] for row in rows)


def test_a_token_reaches_only_its_own_tenant(scim, other_tenant):
    uid = scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "mine"}).json()["id"]
    swapped = requests.get(f"{scim.base}/Users/{uid}", headers={"Authorization": f"Bearer {other_tenant.token}"}, timeout=10)
    assert swapped.status_code == 404
    assert scim.get(f"/Users/{uid}").status_code == 200


def test_configured_public_base_url_is_used_for_locations(scim_app, scim):
    service = scim_app._get_service()
    settings = dataclasses.replace(service.settings, public_base_url="https://scim.example.com/scim/v2")
    public = ScimService(settings, service.tables)
    request = Request.build("POST", "http://internal-worker:7071/scim/v2/Users",
                            {"Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"},
                            b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "located"}')
    response = public.handle(request, "Users")
    assert response.status == 201
    assert response.body["meta"]["location"] == f"https://scim.example.com/scim/v2/Users/{response.body['id']}"
    assert response.headers["Location"] == response.body["meta"]["location"]
