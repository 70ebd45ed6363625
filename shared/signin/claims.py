"""What the application's tokens and the UserInfo endpoint say about a user
(OpenID Connect Core 1.0 §5.1 standard claims, plus this service's own).

=======================  ================================================================
Claim                    Value
=======================  ================================================================
``sub``                  the SCIM user id: stable across renames, never reused
``tenant``               our tenant id (the customer)
``preferred_username``   ``userName``
``name``                 ``name.formatted``, else ``displayName``, else given + family name
``email``                the primary email, else the ``work`` one, else the first
``groups``               ``[{"id", "display"}]`` of the user's groups, at most
                         :data:`MAX_GROUPS`; with more, ``groups`` is left out and
                         ``groups_overage`` is ``true``: read them from ``GET /scim/v2/Me``
                         (the rule Entra follows for its own ``groups`` claim, with a
                         pointer to where the full list is)
``roles``                the role names the tenant's role map gives the user's groups
                         (``scimctl roles map``) and the ``value`` of each entry of the
                         SCIM ``roles`` attribute, which Entra fills from app role
                         assignments; sorted, no duplicates
=======================  ================================================================

Entra sends ``roles`` in two shapes (Microsoft Learn, "Customize user
provisioning attribute-mappings", AppRoleAssignmentsComplex): objects with
a ``value``, or, in PATCH requests without the ``aadOptscim062020`` flag, a
``value`` that is itself the JSON text of the role (``{"id":…,"value":"Admin",…}``);
both give the role name.
"""

from __future__ import annotations

import json

from ..scim.records import StoredResource

MAX_GROUPS = 100


def display_name(data: dict) -> str | None:
    name = data.get("name") if isinstance(data.get("name"), dict) else {}
    formatted = name.get("formatted")
    if isinstance(formatted, str) and formatted.strip():
        return formatted
    if isinstance(data.get("displayName"), str) and data["displayName"].strip():
        return data["displayName"]
    parts = [name.get(k) for k in ("givenName", "familyName") if isinstance(name.get(k), str) and name.get(k)]
    return " ".join(parts) or None


def primary_email(data: dict) -> str | None:
    emails = [e for e in data.get("emails") or [] if isinstance(e, dict) and isinstance(e.get("value"), str)]
    for choice in ([e for e in emails if e.get("primary") is True], [e for e in emails if e.get("type") == "work"], emails):
        if choice:
            return choice[0]["value"]
    return None


def attribute_roles(data: dict) -> set[str]:
    """Role names in the SCIM ``roles`` attribute, whichever shape Entra sent."""
    names = set()
    for entry in data.get("roles") or []:
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                value = json.loads(value).get("value")
            except (ValueError, AttributeError):
                pass
        if isinstance(value, str) and value.strip():
            names.add(value.strip())
    return names


def user_claims(tenant_id: str, user: StoredResource, groups: list[tuple[str, str | None]],
                role_map: dict[str, tuple[str, ...]]) -> dict:
    """The claims of the module docstring for ``user`` (read with its groups),
    ``groups`` the (id, displayName) of each of them."""
    data = user.data
    claims: dict = {"sub": user.id, "tenant": tenant_id, "preferred_username": data.get("userName")}
    name, email = display_name(data), primary_email(data)
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    if len(groups) > MAX_GROUPS:
        claims["groups_overage"] = True
    else:
        claims["groups"] = [{"id": gid, "display": display} for gid, display in groups]
    roles = attribute_roles(data)
    for gid, _ in groups:
        roles.update(role_map.get(gid, ()))
    claims["roles"] = sorted(roles)
    return claims
