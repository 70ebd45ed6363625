"""The SCIM attribute and schema model (RFC 7643 §2 and §7).

Schema definitions are data: the same objects are rendered at ``/Schemas`` and
drive validation, PATCH, filtering and projection, so what a client discovers
is exactly what the service enforces.  Name lookups are case-insensitive
(RFC 7643 §2.1: "Attribute names are case insensitive").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AttrType = Literal[
    "string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"
]
Mutability = Literal["readOnly", "readWrite", "immutable", "writeOnly"]
Returned = Literal["always", "never", "default", "request"]
Uniqueness = Literal["none", "server", "global"]


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute definition (RFC 7643 §7, "attributes" characteristics)."""

    name: str
    type: AttrType = "string"
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: Mutability = "readWrite"
    returned: Returned = "default"
    uniqueness: Uniqueness = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple["Attribute", ...] = ()
    _by_lower: dict[str, "Attribute"] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for sub in self.sub_attributes:
            self._by_lower[sub.name.lower()] = sub

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute called ``name`` (case-insensitive), or None."""
        return self._by_lower.get(name.lower())


@dataclass(frozen=True, slots=True)
class Schema:
    """A schema resource (RFC 7643 §7): an id (URN), a name and attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _by_lower: dict[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for attr in self.attributes:
            self._by_lower[attr.name.lower()] = attr

    def attr(self, name: str) -> Attribute | None:
        """The top-level attribute called ``name`` (case-insensitive), or None."""
        return self._by_lower.get(name.lower())
