"""SCIM request messages as pydantic v2 models (RFC 7644 §3.5.2 PatchOp,
§3.4.3 SearchRequest, §3.7 BulkRequest).

These models check a message's *envelope* -- which fields exist and their
JSON types -- and report the first problem with its location
(``Operations.1.op``).  Resource attributes inside a message are not modelled
here: the schema definitions (:mod:`shared.scim.schemas`, :mod:`shared.scim.resource`)
check those, since they know each attribute's type, mutability and case
rules.  Field names are matched case-insensitively (RFC 7643 §2.1; Entra
writes ``Operations``, other clients ``operations``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator

from .errors import invalid_syntax


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _lower_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key.lower() if isinstance(key, str) else key: value for key, value in data.items()}
        return data


class PatchOperation(_Message):
    """One operation: ``op``, optional ``path`` and ``value`` (RFC 7644 §3.5.2)."""

    op: StrictStr
    path: StrictStr | None = None
    value: Any = None

    @property
    def has_value(self) -> bool:
        return "value" in self.model_fields_set


class PatchRequest(_Message):
    """The PatchOp message."""

    schemas: list[StrictStr]
    operations: list[PatchOperation] = Field(min_length=1)


class SearchRequest(_Message):
    """The SearchRequest message (RFC 7644 §3.4.3, Figure 5)."""

    schemas: list[StrictStr]
    attributes: list[StrictStr] | StrictStr | None = None
    excludedattributes: list[StrictStr] | StrictStr | None = None
    filter: StrictStr | None = None
    sortby: StrictStr | None = None
    sortorder: StrictStr | None = None
    startindex: StrictInt | None = None
    count: StrictInt | None = None
    cursor: StrictStr | None = None  # RFC 9865 §2


class BulkOperation(_Message):
    """One operation of a BulkRequest (RFC 7644 §3.7): ``method`` and ``path``
    are required of every operation; whether ``bulkId`` and ``data`` are
    there as its method needs is checked per operation
    (:mod:`shared.scim.bulk`), so that one bad operation fails alone."""

    method: StrictStr
    path: StrictStr
    bulkid: StrictStr | None = None
    version: StrictStr | None = None
    data: Any = None

    @property
    def has_data(self) -> bool:
        return "data" in self.model_fields_set and self.data is not None


class BulkRequest(_Message):
    """The BulkRequest message (RFC 7644 §3.7): ``failOnErrors`` and ``Operations``."""

    schemas: list[StrictStr]
    failonerrors: StrictInt | None = None
    operations: list[BulkOperation] = Field(min_length=1)


_NAMES = {"operations": "Operations", "excludedattributes": "excludedAttributes", "sortby": "sortBy",
          "sortorder": "sortOrder", "startindex": "startIndex", "bulkid": "bulkId", "failonerrors": "failOnErrors"}


def parse_message(model: type[_Message], body: Any, what: str, urn: str) -> _Message:
    """Validate ``body`` as ``model``; any problem is 400 ``invalidSyntax``."""
    if not isinstance(body, dict):
        raise invalid_syntax(f"the body must be a JSON object (a {what} message)")
    try:
        message = model.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(_NAMES.get(str(part), str(part)) for part in error["loc"] if not str(part).startswith("function"))
        raise invalid_syntax(f'{what} message: "{where}": {error["msg"]}') from None
    if urn.lower() not in (s.lower() for s in message.schemas):
        raise invalid_syntax(f'"schemas" must be ["{urn}"]')
    return message
