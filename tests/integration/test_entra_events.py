"""Every event URI of the change-event contract, made by Entra's own requests.

Microsoft's verbatim request bodies -- the tutorial's create user and group
(tests/integration/test_entra_corpus.py) and the flag pairs of "Known issues
and resolutions with SCIM 2.0 protocol compliance" (disable, enable, add a
nickname, replace many, remove a member: tests/integration/test_entra_flag_variants.py),
each in its form without and with ``aadOptscim062020`` -- plus a PUT (Entra
sends none; RFC 7644 §3.5.1) and the deletes, replayed against a tenant
whose events are notice (the default) or full.  Every SET read from the
poll feed is verified with the published key set; together they must carry
every event URI of RFC 9967 §2.4 the service emits.
"""

from __future__ import annotations

import jwt
import pytest
import requests

from tests.integration.conftest import events_client
from tests.integration.test_entra_corpus import create_group, create_user
from tests.integration.test_entra_flag_variants import (
    ADD_NICKNAME,
    DISABLE,
    ENABLE,
    REPLACE_MANY,
    remove_member_body,
)
from tests.messages import PATCH, USER

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py

PROV = "urn:ietf:params:scim:event:prov:"


def _replay_corpus(scim, variant: str) -> dict[str, str]:
    """Entra's requests in one flag variant; returns what each resource is called."""
    user = create_user(scim, user_name=f"events-{variant}@example.com", external_id=f"ext-{variant}")
    other = create_user(scim, user_name=f"other-{variant}@example.com", external_id=f"other-{variant}")
    group = create_group(scim, display_name=f"group-{variant}", external_id=f"group-ext-{variant}")
    uid, gid = user["id"], group["id"]
    for body in (DISABLE[variant], ENABLE[variant], ADD_NICKNAME[variant], REPLACE_MANY[variant]):
        assert scim.patch(f"/Users/{uid}", body).status_code == 200
    add = {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members",
                                                "value": [{"value": uid}, {"value": other["id"]}]}]}
    assert scim.patch(f"/Groups/{gid}", add).status_code == 204
    assert scim.patch(f"/Groups/{gid}", remove_member_body(variant, uid)).status_code == 204
    replaced = {"schemas": [USER], "userName": f"other-{variant}@example.com", "externalId": f"other-{variant}",
                "active": True, "displayName": "Replaced"}
    assert scim.put(f"/Users/{other['id']}", replaced).status_code == 200
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert scim.delete(f"/Users/{uid}").status_code == 204
    return {uid: "user", other["id"]: "other", gid: "group"}


def _verified_events(scim, feed) -> list[dict]:
    keys = {k["kid"]: jwt.PyJWK(k) for k in requests.get(scim.base + "/.well-known/jwks.json", timeout=10).json()["keys"]}
    claims, answered = [], []
    while True:
        answer = feed.post("/Events", {"returnImmediately": True, "maxEvents": 10, "ack": answered}).json()
        if not answer["sets"]:
            return claims
        answered = list(answer["sets"])
        for token in answer["sets"].values():
            kid = jwt.get_unverified_header(token)["kid"]
            claims.append(jwt.decode(token, keys[kid], algorithms=["RS256"], audience=scim.tenant_id, issuer=scim.base))


@pytest.mark.parametrize("form", ["notice", "full"])
def test_entras_requests_in_both_flag_modes_make_every_event(scim, backend, form):
    base, registry = backend
    registry.set_event_settings(scim.tenant_id, form=form)
    writer = type(scim)(base, registry.issue_token(scim.tenant_id)[1])  # a new credential sees the new form
    writer.tenant_id = scim.tenant_id
    names = {}
    for variant in ("without_flag", "with_flag"):
        names.update(_replay_corpus(writer, variant))
    claims = _verified_events(scim, events_client(base, registry, scim.tenant_id))
    uris = {uri for c in claims for uri in c["events"]}
    assert uris == {PROV + f"create:{form}", PROV + f"patch:{form}", PROV + f"put:{form}", PROV + "delete",
                    PROV + "activate", PROV + "deactivate"}
    for claim in claims:
        payload = next(iter(claim["events"].values()))
        assert payload["version"].startswith('W/"') and claim["txn"]
        assert ("data" in payload) == (form == "full" and "prov:delete" not in next(iter(claim["events"])))
        assert "password" not in str(claim)
    per_resource: dict[str, list[str]] = {}
    for claim in claims:
        per_resource.setdefault(claim["sub_id"]["uri"].rsplit("/", 1)[1], []).append(
            next(iter(claim["events"].values()))["version"])
    assert all(versions == sorted(versions) for versions in per_resource.values())
    deactivations = [c for c in claims if PROV + "deactivate" in c["events"]]
    assert len(deactivations) == 2 and {names[c["sub_id"]["uri"].rsplit("/", 1)[1]] for c in deactivations} == {"user"}
