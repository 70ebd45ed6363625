"""Change events: what one committed transaction changed, and the Security
Event Token that tells the application (RFC 9967, SCIM Profile for Security
Event Tokens, over RFC 8417).

A :class:`Change` describes one entity-group transaction's effect on one
resource; storage commits it as an event row in that same transaction
(:mod:`shared.storage.outbox`) and delivery turns it into a SET with
:func:`set_claims`.  The claims (RFC 8417 §2.2, RFC 9967 §2.1-§2.2):

* ``iss``: the service's public SCIM base URL; ``aud``: the tenant's event
  audience (by default its tenant id); ``jti``: unique, also the poll
  acknowledgement key (RFC 8936 §2.2); ``iat``: the commit time; ``txn``:
  the ``X-Request-Id`` of the request that made the change (several SETs
  share it when one request spans several transactions);
* ``sub_id`` (RFC 9967 §2.1, never ``sub``): ``{"format": "scim", "uri":
  "/Users/{id}"}``, with ``externalId`` when the resource has one;
* ``events``: one of ``prov:create``, ``prov:put``, ``prov:patch`` (each
  ``:notice`` with ``attributes``, the changed attribute paths, or ``:full``
  with ``data``, exactly one of the two, RFC 9967 §2.4) or ``prov:delete``
  (§2.4.4), plus ``prov:activate`` / ``prov:deactivate`` (§2.4.5-§2.4.6)
  when ``active`` changed in the same transaction (RFC 8417 §2: one SET, the
  aspects of one state transition).

Every payload also carries ``version``, the resource's ``meta.version``
after the change (RFC 9967 §2.2; on ``prov:delete`` too, where the RFC
defines no payload, so that a consumer ordering by version sees the delete
last).  Membership changes name the members they added and removed, in a
``members`` member of the ``prov:patch`` payload (``{"added": [ids],
"removed": [ids]}``; ``groups`` when a user's removal from groups is what
changed); in ``:full`` form the ``data`` is the equivalent PatchOp
(RFC 7644 §3.5.2, as RFC 9967 Figure 6 shows).  ``:full`` data never holds
a password: create and put carry the resource as stored without it, and a
patch leaves a password change out of its operations (``attributes`` of the
notice form still names ``password``, never its value).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .ids import GROUP, USER
from .records import StoredResource
from .representation import Projection, etag, to_scim
from .schemas import GROUP_TYPE, PATCH_OP_URN, USER_TYPE, ResourceType

EVENT_URI = "urn:ietf:params:scim:event:"
CREATE, PUT, PATCH, DELETE = "create", "put", "patch", "delete"
VERBS = (CREATE, PUT, PATCH, DELETE)
NOTICE, FULL = "notice", "full"
ACTIVATE_URI = EVENT_URI + "prov:activate"
DEACTIVATE_URI = EVENT_URI + "prov:deactivate"
DELETE_URI = EVENT_URI + "prov:delete"
SET_TYPE = "secevent+jwt"  # RFC 8417 §2.3: the JWT "typ" header
SET_MEDIA_TYPE = "application/secevent+jwt"  # RFC 8417 §7.2, RFC 8935 §2.1

_ENDPOINT = {USER: "/Users/", GROUP: "/Groups/"}
_TYPE = {USER: USER_TYPE, GROUP: GROUP_TYPE}


def event_uri(verb: str, form: str = NOTICE) -> str:
    """The RFC 9967 §2.4 URI of a provisioning event (``prov:delete`` has no form)."""
    if verb == DELETE:
        return DELETE_URI
    return f"{EVENT_URI}prov:{verb}:{form}"


def subject_uri(kind: str, resource_id: str) -> str:
    """``/Users/{id}`` or ``/Groups/{id}``: the ``sub_id`` ``uri`` (RFC 9967 §2.1)."""
    return _ENDPOINT[kind] + resource_id


@dataclass(frozen=True, slots=True)
class Change:
    """One transaction's change of one resource.

    ``attributes``: the attribute paths it changed; ``added`` / ``removed``:
    the member ids (of a group; of a user, the groups it left) it wrote or
    deleted edges for; ``active``: the new value of ``active`` when it
    changed, else None; ``data``: the ``:full`` payload data, when the
    tenant asks for full events."""

    verb: str
    kind: str
    resource_id: str
    version: str
    attributes: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    active: bool | None = None
    external_id: str | None = None
    data: dict | None = None

    @property
    def edge_attribute(self) -> str:
        return edge_attribute(self.kind)


def ends_sessions(change: Change) -> bool:
    """Whether ``change`` deactivates or deletes a user: its sign-in sessions
    end (OpenID Connect Back-Channel Logout 1.0, :mod:`shared.signin.logout`)."""
    return change.kind == USER and (change.verb == DELETE or change.active is False)


def edge_attribute(kind: str) -> str:
    """Which attribute a resource's membership edges are: a group's ``members``, a user's ``groups``."""
    return "members" if kind == GROUP else "groups"


def changed_attributes(old: dict | None, new: dict | None) -> tuple[str, ...]:
    """The attribute paths whose values differ between two stored states
    (RFC 7644 §3.5.2 ``path`` form): a top-level name, ``name.givenName``
    for a sub-attribute of a complex one, ``urn:...:User:department`` for an
    extension's attribute.  ``old`` None: everything in ``new`` (a create)."""
    old, new = old or {}, new or {}
    paths: list[str] = []
    for name in sorted(set(old) | set(new), key=str.lower):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if name.lower().startswith("urn:") and isinstance(before or {}, dict) and isinstance(after or {}, dict):
            paths += [f"{name}:{sub}" for sub in changed_attributes(before, after)]
        elif isinstance(before, dict) and isinstance(after, dict):
            paths += [f"{name}.{sub}" for sub in sorted(set(before) | set(after), key=str.lower)
                      if before.get(sub) != after.get(sub)]
        else:
            paths.append(name)
    return tuple(paths)


def active_change(old: dict | None, new: dict | None) -> bool | None:
    """The new ``active`` when a change set or changed it, else None (a
    create counts as a change from no state)."""
    before = None if old is None else old.get("active")
    after = (new or {}).get("active")
    return after if isinstance(after, bool) and after != before else None


def patch_data(old: dict, new: dict, added=(), removed=(), edge_attribute: str = "members") -> dict:
    """The PatchOp (RFC 7644 §3.5.2) that turns ``old`` into ``new`` and
    adds / removes the given members: the ``:full`` data of a patch."""
    operations = []
    for name in sorted(set(old) | set(new), key=str.lower):
        if old.get(name) == new.get(name):
            continue
        if name in new and name.lower().startswith("urn:"):  # an extension: a path-less replace (§3.5.2.3)
            operations.append({"op": "replace", "value": {name: new[name]}})
        elif name in new:
            operations.append({"op": "replace", "path": name, "value": new[name]})
        else:
            operations.append({"op": "remove", "path": name})
    if added:
        operations.append({"op": "add", "path": edge_attribute, "value": [{"value": mid} for mid in added]})
    operations += [{"op": "remove", "path": f'{edge_attribute}[value eq "{mid}"]'} for mid in removed]
    return {"schemas": [PATCH_OP_URN], "Operations": operations}


def resource_change(verb: str, old: StoredResource | None, new: StoredResource, *, full: bool = False,
                    base_url: str = "", rt: ResourceType | None = None) -> Change:
    """The :class:`Change` of a create (``old`` None), a put or a patch of
    a resource's own row; ``full``: with its ``:full`` data, the resource as
    a response without ``attributes`` shows it (create, put) or the PatchOp
    from ``old`` to ``new`` so shown (patch), in the tenant's resource type
    ``rt`` (default: the built-in one) -- so never an attribute ``returned:
    never``, the password or a writeOnly extension value (RFC 7643 §7) --
    and without the membership edges (their changes are events of their own)."""
    rt = rt or _TYPE[new.kind]
    attributes = changed_attributes(old.data if old else None, new.data)
    if old is None:
        attributes = ("id", *attributes)  # RFC 9967 §2.4.1, Figure 5
    data = None
    shown = Projection(rt, [], [])
    if full and verb == PATCH and old is not None:
        data = patch_data(shown.apply(old.data), shown.apply(new.data))
    elif full:
        data = shown.apply(to_scim(rt, replace(new, group_ids=None, members=None), base_url))
    external_id = new.data.get("externalId")
    return Change(verb, new.kind, new.id, new.version, attributes,
                  active=active_change(old.data if old else None, new.data),
                  external_id=external_id if isinstance(external_id, str) else None, data=data)


def events_claim(change: Change) -> dict:
    """The ``events`` claim (RFC 8417 §2.2) of one change."""
    version = etag(change.version)
    if change.verb == DELETE:
        return {DELETE_URI: {"version": version}}
    if change.data is not None:
        payload: dict = {"data": change.data}
        uri = event_uri(change.verb, FULL)
    else:
        payload = {"attributes": list(change.attributes)}
        uri = event_uri(change.verb, NOTICE)
    payload["version"] = version
    if change.added or change.removed:
        payload[change.edge_attribute] = {"added": list(change.added), "removed": list(change.removed)}
    events = {uri: payload}
    if change.active is True:
        events[ACTIVATE_URI] = {"version": version}
    elif change.active is False:
        events[DEACTIVATE_URI] = {"version": version}
    return events


def set_claims(change: Change, *, jti: str, iss: str, aud: str, iat: int, txn: str) -> dict:
    """The claims of the SET of one change (RFC 8417 §2.2, RFC 9967 §2.1-§2.2)."""
    subject = {"format": "scim", "uri": subject_uri(change.kind, change.resource_id)}
    if change.external_id:
        subject["externalId"] = change.external_id
    return {"iss": iss, "aud": aud, "jti": jti, "iat": iat, "txn": txn, "sub_id": subject,
            "events": events_claim(change)}
