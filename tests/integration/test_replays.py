"""Replays (docs/reliability.md, "Replays"): what Entra sends again ends in
the state one clean run leaves -- the same resources, memberships and index
rows, no duplicate, no orphan."""

from __future__ import annotations

import pytest

from tests.integration.conftest import new_tenant_client
from tests.integration.entra_cycle import EntraCycle, directory, http_send
from tests.integration.store_state import findings, resources_table, snapshot
from tests.messages import GROUP, PATCH, USER


def _state(scim, scim_app) -> dict:
    table = resources_table(scim_app)
    assert findings(table, scim.tenant_id) == []
    return snapshot(table, scim.tenant_id)


@pytest.fixture(scope="module")
def one_clean_run(scim_server, registry, scim_app):
    scim = new_tenant_client(scim_server, registry)
    assert EntraCycle(http_send(scim)).run(*directory()) == set()
    return _state(scim, scim_app)


def test_the_initial_cycle_run_twice_ends_as_one_clean_run(scim, scim_app, one_clean_run):
    cycle = EntraCycle(http_send(scim))
    assert cycle.run(*directory()) == set()
    first = len(cycle.statuses)
    assert cycle.run(*directory()) == set()
    assert 201 not in cycle.statuses[first:]  # the second cycle matched everything
    assert _state(scim, scim_app) == one_clean_run


def test_a_cycle_whose_post_answers_were_lost_ends_as_one_clean_run(scim, scim_app, one_clean_run):
    cycle = EntraCycle(http_send(scim), lose_posts=True)
    assert cycle.run(*directory()) == set()
    assert cycle.statuses.count(409) == cycle.statuses.count(201) == 15  # every create was sent twice
    assert _state(scim, scim_app) == one_clean_run


def test_adding_an_existing_member_or_removing_a_missing_one_is_no_error_and_no_duplicate(scim, scim_app):
    users = [scim.post("/Users", {"schemas": [USER], "userName": f"idem{i}"}).json()["id"] for i in range(3)]
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "idem",
                                  "members": [{"value": users[0]}]}).json()["id"]

    def patch(*operations):
        return scim.patch(f"/Groups/{group}", {"schemas": [PATCH], "Operations": list(operations)}).status_code

    ghost = users[2]
    assert scim.delete(f"/Users/{ghost}").status_code == 204
    assert patch({"op": "Add", "path": "members", "value": [{"value": users[0]}]}) == 204
    assert patch({"op": "Add", "path": "members", "value": [{"value": users[0]}, {"value": users[1]}]}) == 204
    assert patch({"op": "Add", "path": "members", "value": [{"value": users[1]}]}) == 204
    assert patch({"op": "Remove", "path": "members", "value": [{"value": ghost}]}) == 204  # Entra's default form
    assert patch({"op": "Remove", "path": f'members[value eq "{ghost}"]'}) == 204  # with aadOptscim062020
    assert patch({"op": "Remove", "path": "members", "value": [{"value": users[1]}]}) == 204
    assert patch({"op": "Remove", "path": "members", "value": [{"value": users[1]}]}) == 204
    assert [m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]] == [users[0]]
    state = _state(scim, scim_app)
    assert len(state["edges"]) == len(state["reverse"]) == 1
