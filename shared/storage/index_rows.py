"""The index rows a resource owns (key layout: :mod:`shared.storage.keys`).

Each is written in the resource's own entity-group transaction, which makes
uniqueness race-free (:mod:`shared.storage.table_store`).
"""

from __future__ import annotations

from ..scim.errors import invalid_value
from ..scim.schemas import ResourceType
from . import keys

MAX_WORK_EMAILS = 20  # each is an index row written in the resource's transaction


def index_keys(rt: ResourceType, resource_id: str, data: dict) -> tuple[str, ...]:
    """The index rows a resource must own, so that the lookups Entra makes are point reads:
    users by ``userName``, ``externalId`` or ``emails[type eq "work"].value``, groups by
    ``displayName`` (Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM
    endpoint in Microsoft Entra ID",
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
    a group's ``externalId`` is indexed too."""
    rows = []
    if rt.name == "User":
        rows.append(keys.unique_key("un", keys.index_value(data["userName"], False)))
        if isinstance(data.get("externalId"), str):
            rows.append(keys.index_key("ue", keys.index_value(data["externalId"], True), resource_id))
        emails = work_emails(data)
        if len(emails) > MAX_WORK_EMAILS:
            raise invalid_value(f"a User may have at most {MAX_WORK_EMAILS} distinct work emails")
        for email in emails:
            rows.append(keys.index_key("uw", keys.index_value(email, False), resource_id))
    else:
        rows.append(keys.unique_key("gn", keys.index_value(data["displayName"], False)))
        if isinstance(data.get("externalId"), str):
            rows.append(keys.index_key("ge", keys.index_value(data["externalId"], True), resource_id))
    return tuple(dict.fromkeys(rows))


def work_emails(data: dict) -> list[str]:
    """Distinct ``emails[type eq "work"].value`` values (case-insensitive)."""
    seen = {}
    for email in data.get("emails") or []:
        if isinstance(email, dict) and str(email.get("type", "")).lower() == "work" and isinstance(email.get("value"), str):
            seen.setdefault(email["value"].lower(), email["value"])
    return list(seen.values())
