"""Group membership changes from PATCH and PUT (RFC 7644 §3.5.2, and Entra's forms).

Members are stored as edges, never as a list inside the group, so a PATCH
touching ``members`` is turned into a :class:`MembershipPlan` -- ids to add,
ids to remove, or "remove everyone first" -- that the store executes with
work proportional to the members named, not to the group's size.

Forms accepted: ``add``/``replace`` on ``members`` with a value list (or a
bare id string), ``remove`` on ``members`` with no value (everyone, RFC) or
with a value list (only those: Entra's default form, the "Update Group
[Remove Members]" request of Microsoft Learn, "Tutorial: Develop and plan
provisioning for a SCIM endpoint in Microsoft Entra ID",
https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups),
``remove`` on ``members[value eq "id"]`` (Entra with ``aadOptscim062020``),
any other ``members[...]`` filter (evaluated against the current members),
and path-less ``add``/``replace`` whose value has a ``members`` key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import invalid_path, invalid_value
from .filter import Comparison, Filter, Or
from .ids import kind_of
from .matching import matches
from .patch import Operation, PatchPath, path_names_attribute
from .schemas import GROUP_TYPE, ResourceType
from .records import Member
from .resource import coerce_single

_MEMBERS = GROUP_TYPE.attribute(None, "members")


@dataclass
class MembershipPlan:
    """The net effect of a PATCH on a group's members, in operation order."""

    clear: bool = False
    add: dict[str, None] = field(default_factory=dict)
    remove: dict[str, None] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.clear or self.add or self.remove)

    def adding(self, members: list[Member]) -> None:
        for member in members:
            self.remove.pop(member.id, None)
            self.add[member.id] = None

    def removing(self, ids: list[str]) -> None:
        for member_id in ids:
            self.add.pop(member_id, None)
            self.remove[member_id] = None

    def clearing(self) -> None:
        self.clear = True
        self.add.clear()
        self.remove.clear()


def parse_members(value, group_id: str | None = None) -> list[Member]:
    """Member references from a request value: ``[{"value": id, ...}]`` or
    bare ids; a member given twice counts once (a group has one membership
    edge per member, so its ``members`` holds each id once)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    members, seen = [], set()
    for item in items:
        if isinstance(item, str):
            member_id = item
        elif isinstance(item, dict):
            # checked as a POST checks its members: unknown sub-attributes refused, readOnly display dropped
            fields = coerce_single(_MEMBERS, item, "members")
            if not isinstance(fields, dict):  # {}, only nulls, only the ignored display: unassigned (RFC 7643 §2.5)
                continue
            member_id = fields.get("value")
        else:
            raise invalid_value(f"a member must be an object with a \"value\" (the member's id), not {item!r}"[:200])
        if not isinstance(member_id, str) or not member_id:
            raise invalid_value('every member needs a "value": the id of a User or Group')
        if kind_of(member_id) is None:
            raise invalid_value(f'member "{member_id}" does not exist in this tenant')
        if member_id == group_id:
            raise invalid_value("a group cannot be a member of itself")
        if member_id not in seen:
            seen.add(member_id)
            members.append(Member(member_id))
    return members


def split_member_operations(rt: ResourceType, operations: list[Operation]) -> tuple[list[Operation], list[Operation]]:
    """Separate operations on ``members`` from the rest (path-less values are split too)."""
    others, member_ops = [], []
    for op in operations:
        if op.path is None and isinstance(op.value, dict):
            rest = {k: v for k, v in op.value.items() if k.lower() != "members"}
            mem = [v for k, v in op.value.items() if k.lower() == "members"]
            if mem:
                member_ops.append(Operation(op.op, PatchPath(None, "members", None, None), mem[0], True))
            if rest or not mem:
                others.append(Operation(op.op, None, rest, True))
        elif path_names_attribute(op.path, rt, "members"):
            member_ops.append(op)
        else:
            others.append(op)
    return others, member_ops


def _ids_in_filter(flt: Filter) -> list[str] | None:
    """``value eq "a" or value eq "b"`` → ["a", "b"]; None for other filters."""
    if isinstance(flt, Comparison) and flt.op == "eq" and flt.path.attr.lower() == "value" and flt.path.sub is None and isinstance(flt.value, str):
        return [flt.value]
    if isinstance(flt, Or):
        left, right = _ids_in_filter(flt.left), _ids_in_filter(flt.right)
        if left is not None and right is not None:
            return left + right
    return None


def plan_membership(
    rt: ResourceType,
    operations: list[Operation],
    group_id: str,
    current_members: Callable[[], list[Member]],
) -> MembershipPlan:
    """Fold member operations into one plan (later operations win)."""
    plan = MembershipPlan()
    members_attr = rt.attribute(None, "members")
    for op in operations:
        path = op.path
        if path.filter is not None:
            if op.op != "remove" or path.sub is not None:
                raise invalid_path('only "remove" is supported on a filtered members path, e.g. members[value eq "id"]')
            ids = _ids_in_filter(path.filter)
            if ids is None:
                def sub_of(_urn, name, sub):
                    return members_attr.sub(name) if sub is None else None

                ids = [
                    m.id
                    for m in current_members()
                    if matches(path.filter, {"value": m.id, "type": "Group" if kind_of(m.id) == "G" else "User"}, sub_of)
                ]
            plan.removing(ids)
        elif path.sub is not None:
            raise invalid_path(f'"members.{path.sub}" cannot be patched; add or remove members instead')
        elif op.op == "remove":
            if op.has_value and op.value not in (None, [], ""):
                plan.removing([m.id for m in parse_members(op.value)])
            else:
                plan.clearing()
        elif op.op == "replace":
            plan.clearing()
            plan.adding(parse_members(op.value, group_id))
        else:
            plan.adding(parse_members(op.value, group_id))
    return plan
