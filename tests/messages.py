"""SCIM URNs, message builders and response helpers shared by the tests."""

from shared.scim.schemas import (  # noqa: F401 - re-exported for the tests
    ENTERPRISE_USER_URN as ENT,
    ERROR_URN as ERROR,
    GROUP_URN as GROUP,
    LIST_RESPONSE_URN as LIST,
    PATCH_OP_URN as PATCH,
    SCHEMA_URN,
    SEARCH_REQUEST_URN as SEARCH,
    USER_URN as USER,
)

SCIM_MEDIA = "application/scim+json"


def patch_op(*operations: dict) -> dict:
    """A PatchOp message (RFC 7644 §3.5.2) with these operations."""
    return {"schemas": [PATCH], "Operations": list(operations)}


# --- response checks ---------------------------------------------------------


def body_of(resp, status) -> dict:
    """Assert the status (one code or a tuple of codes) and the SCIM media type; return the parsed body."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert resp.status_code in statuses, f"{resp.status_code} not in {statuses}: {resp.text[:600]}"
    media = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    assert media == SCIM_MEDIA, f"Content-Type is {resp.headers.get('Content-Type')!r}"
    return resp.json()


def no_content(resp) -> None:
    """A 204 with an empty body."""
    assert resp.status_code == 204, f"{resp.status_code}: {resp.text[:600]}"
    assert resp.content == b""


def scim_error(resp, status, scim_type=None) -> dict:
    """A SCIM Error (RFC 7644 §3.12): Error URN, `status` as a string, a non-empty `detail`.

    ``status`` and ``scim_type`` may each be one value or a tuple of allowed values.
    """
    body = body_of(resp, status)
    assert isinstance(body, dict) and ERROR in body.get("schemas", []), body
    assert body.get("status") == str(resp.status_code), "status in a SCIM error is a JSON string"
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), body
    if scim_type is not None:
        allowed = scim_type if isinstance(scim_type, tuple) else (scim_type,)
        assert body.get("scimType") in allowed, body
    return body


def list_of(resp) -> dict:
    """A 200 ListResponse with a `Resources` list and an integer `totalResults`."""
    body = body_of(resp, 200)
    assert LIST in body["schemas"]
    assert "Resources" in body and "resources" not in body, "the key is `Resources`"
    assert isinstance(body["Resources"], list)
    assert isinstance(body["totalResults"], int)
    return body


# --- resources ---------------------------------------------------------------


def get_user(scim, uid: str) -> dict:
    return body_of(scim.get(f"/Users/{uid}"), 200)


def get_group(scim, gid: str) -> dict:
    return body_of(scim.get(f"/Groups/{gid}"), 200)


def member_ids(group: dict) -> set[str]:
    """The ids in a Group's `members`."""
    return {m["value"] for m in group.get("members") or []}


def group_ids(user: dict) -> set[str]:
    """The ids in a User's `groups`."""
    return {g["value"] for g in user.get("groups") or []}


def add_members(scim, gid: str, *uids: str) -> None:
    """PATCH-add these members to a group; expects 204."""
    resp = scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": u} for u in uids]}))
    assert resp.status_code == 204, resp.text
