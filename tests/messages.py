"""SCIM URNs and message builders shared by the tests."""

from shared.schemas import (  # noqa: F401 - re-exported for the tests
    ENTERPRISE_USER_URN as ENT,
    ERROR_URN as ERROR,
    GROUP_URN as GROUP,
    LIST_RESPONSE_URN as LIST,
    PATCH_OP_URN as PATCH,
    SEARCH_REQUEST_URN as SEARCH,
    USER_URN as USER,
)


def patch_op(*operations: dict) -> dict:
    """A PatchOp message (RFC 7644 §3.5.2) with these operations."""
    return {"schemas": [PATCH], "Operations": list(operations)}
