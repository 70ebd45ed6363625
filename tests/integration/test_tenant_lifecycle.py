"""Revoke, disable, delete and rotation grace take effect when the docs say
(docs/security.md, "Rotating and revoking").

Another instance is a second :class:`ScimService` on the same storage with
its own credential cache, warmed before each change: what it does after the
change is what an instance of a real deployment does.

* a revoked token: refused everywhere within ``SCIM_AUTH_CACHE_SECONDS``;
* a rotated token: works through its grace period and stops at its end
  (± 1 s), whatever the cache;
* a disabled or deleted tenant: its writes are refused at once on every
  instance (the write guard row), its reads within the cache bound;
* a deleted tenant's partition is empty when the delete returns and stays
  empty while writers that still hold its token keep trying.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from shared.storage import keys
from shared.scim.http import Request
from shared.web.service import ScimService
from shared.storage.table_store import TenantStore
from shared.storage.tables import RESOURCES
from shared.auth.tenants import TOKEN, RegistryError
from tests.log_scan import LOG_CAPTURE
from tests.messages import GROUP, PATCH, USER

BASE = "http://127.0.0.1/scim/v2"


def instance(scim_app, cache_seconds: int) -> ScimService:
    """Another app instance on the same storage, with its own caches."""
    shared = scim_app._get_service()
    return ScimService(dataclasses.replace(shared.settings, auth_cache_seconds=cache_seconds), shared.tables)


def call(service: ScimService, token: str, method: str = "GET", route: str = "Users", body: bytes = b"",
         resource_id: str | None = None):
    path = route.replace("{id}", resource_id or "")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    return service.handle(Request.build(method, f"{BASE}/{path}", headers, body), route, resource_id)


def create_user(service, token, name=None):
    import json

    body = json.dumps({"schemas": [USER], "userName": name or f"u-{uuid.uuid4().hex[:10]}"}).encode()
    return call(service, token, "POST", "Users", body)


@pytest.fixture
def tenant(scim_app):
    registry = scim_app._get_service().registry
    tenant_id = registry.create_tenant(f"life-{uuid.uuid4().hex[:8]}")
    token_id, token = registry.issue_token(tenant_id)
    LOG_CAPTURE.secrets.add(token)
    return tenant_id, token_id, token


def partition_rows(scim_app, tenant_id: str) -> list[str]:
    table = scim_app._get_service().tables.table(RESOURCES)
    return [e["RowKey"] for e in table.query_entities("PartitionKey eq @p", parameters={"p": tenant_id},
                                                        select=["RowKey"])]


def first_refusal(service, token, within: float) -> float | None:
    """Seconds until ``service`` first refuses ``token`` (polling), or None."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if call(service, token).status == 401:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def test_a_revoked_token_is_refused_everywhere_within_the_cache_bound(scim_app, tenant):
    tenant_id, token_id, token = tenant
    other = instance(scim_app, cache_seconds=2)
    assert call(other, token).status == 200  # cached there now
    scim_app._get_service().registry.revoke(tenant_id, TOKEN, token_id)
    refused_after = first_refusal(other, token, within=6)
    assert refused_after is not None and refused_after <= 2 + 1


def test_rotation_grace_ends_on_time_whatever_the_cache(scim_app, tenant):
    tenant_id, token_id, token = tenant
    other = instance(scim_app, cache_seconds=2)
    assert call(other, token).status == 200
    registry = scim_app._get_service().registry
    grace = 3.0
    with pytest.raises(RegistryError, match="at least 30 s"):
        registry.rotate_token(tenant_id, token_id, timedelta(seconds=29))  # shorter than the app's cache bound
    rotated_at = time.monotonic()
    _, new_token = other.registry.rotate_token(tenant_id, token_id, timedelta(seconds=grace))
    LOG_CAPTURE.secrets.add(new_token)
    while time.monotonic() - rotated_at < grace - 1:
        assert call(other, token).status == 200  # both work during the grace period
        assert call(other, new_token).status == 200
        time.sleep(0.1)
    refused_after = first_refusal(other, token, within=grace + 3)
    assert refused_after is not None
    assert abs((time.monotonic() - rotated_at) - grace) <= 1 + 0.2, "the old token must stop at the grace period's end"
    assert call(other, new_token).status == 200


def test_a_cache_entry_never_outlives_the_credentials_expiry(scim_app, tenant):
    tenant_id, _, _ = tenant
    registry = scim_app._get_service().registry
    token = f"{uuid.uuid4().hex[:12]}.{uuid.uuid4().hex}{uuid.uuid4().hex}"
    LOG_CAPTURE.secrets.add(token)
    registry.add_token(tenant_id, token, expires=datetime.now(timezone.utc) + timedelta(seconds=1.5))
    other = instance(scim_app, cache_seconds=30)
    started = time.monotonic()
    assert call(other, token).status == 200
    refused_after = first_refusal(other, token, within=5)
    assert refused_after is not None and time.monotonic() - started <= 1.5 + 1


def test_a_disabled_tenant_cannot_write_at_once_and_can_again_when_enabled(scim_app, tenant):
    tenant_id, _, token = tenant
    other = instance(scim_app, cache_seconds=30)
    assert create_user(other, token).status == 201  # token cached for 30 s
    registry = scim_app._get_service().registry
    registry.set_disabled(tenant_id, True)
    refused = create_user(other, token)
    assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(other, token).status == 200  # reads: until the cached entry expires (the documented bound)
    registry.set_disabled(tenant_id, False)
    assert create_user(other, token).status == 201


def test_a_tenant_without_a_write_guard_gets_one_on_its_next_write(scim_app, tenant):
    """Tenants created before the guard existed: the first write restores it."""
    tenant_id, _, token = tenant
    service = scim_app._get_service()
    TenantStore(service.tables.table(RESOURCES), tenant_id).close_writes()
    assert create_user(service, token).status == 201
    assert keys.TENANT_KEY in partition_rows(scim_app, tenant_id)


def test_the_guard_of_a_deleted_tenant_is_not_restored(scim_app, tenant):
    tenant_id, _, token = tenant
    other = instance(scim_app, cache_seconds=30)
    assert create_user(other, token).status == 201
    scim_app._get_service().registry.delete_tenant(tenant_id)
    assert other.registry.reopen_writes(tenant_id) is False
    assert create_user(other, token).status == 401
    assert partition_rows(scim_app, tenant_id) == []


def test_writes_racing_a_tenant_delete_leave_nothing_behind(scim_app, tenant):
    """Four writers on an instance that keeps the token cached create users,
    groups and memberships before, during and after ``delete_tenant``; when
    it returns the partition is empty, and it stays empty."""
    import json

    tenant_id, _, token = tenant
    other = instance(scim_app, cache_seconds=60)
    seed = [create_user(other, token).body["id"] for _ in range(6)]
    group = call(other, token, "POST", "Groups",
                 json.dumps({"schemas": [GROUP], "displayName": "racing", "members": [{"value": u} for u in seed[:3]]}).encode())
    assert group.status == 201
    group_id = group.body["id"]
    stop = threading.Event()
    deleted = threading.Event()
    statuses: list[tuple[bool, int]] = []

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            after = deleted.is_set()
            if i % 3 == 0:
                body = json.dumps({"schemas": [PATCH], "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": seed[(n + i) % len(seed)]}]}]}).encode()
                status = call(other, token, "PATCH", "Groups/{id}", body, group_id).status
            elif i % 3 == 1:
                body = json.dumps({"schemas": [GROUP], "displayName": f"g-{n}-{i}"}).encode()
                status = call(other, token, "POST", "Groups", body).status
            else:
                status = create_user(other, token).status
            statuses.append((after, status))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    scim_app._get_service().registry.delete_tenant(tenant_id)
    deleted.set()
    left = partition_rows(scim_app, tenant_id)
    time.sleep(1.5)  # the writers keep going with the cached token
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert left == [], f"{len(left)} rows left when the delete returned: {left[:5]}"
    assert partition_rows(scim_app, tenant_id) == []
    later = [status for after, status in statuses if after]  # started after the delete returned
    assert later and all(status in (401, 404) for status in later), sorted(set(later))  # 404: a read found nothing
    assert 401 in later
    assert all(status < 500 for _, status in statuses), sorted({s for _, s in statuses})
    assert any(status in (201, 204) for after, status in statuses if not after)


def test_a_tenant_name_that_is_not_text_is_refused(scim_app):
    """``scimctl tenant create --name`` with bytes that are not UTF-8 (Python
    decodes argv with surrogateescape) must not reach the registry table."""
    with pytest.raises(RegistryError, match="unpaired surrogate"):
        scim_app._get_service().registry.create_tenant("caf\udce9")
