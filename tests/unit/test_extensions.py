"""Extension schemas in the core (shared/scim/extensions.py): the stored form
round-trips, and a tenant's resource types leave the built-in ones alone."""

from __future__ import annotations

import pytest

from shared.scim.extensions import (
    BUILT_IN,
    SchemaError,
    dump_extensions,
    load_extensions,
    schema_document,
    with_extension,
    without_extension,
)
from shared.scim.schemas import ENTERPRISE_USER, GROUP_TYPE, SCHEMAS, USER_TYPE

URN = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
DOCUMENT = {"id": URN, "name": "ContosoUser", "description": "d", "attributes": [
    {"name": "costCenter", "type": "string", "multiValued": False, "caseExact": True},
    {"name": "desk", "type": "complex", "multiValued": True, "subAttributes": [
        {"name": "value", "type": "string", "multiValued": False, "required": True}]}]}


def test_the_stored_form_round_trips():
    extensions = with_extension((), DOCUMENT)
    loaded = load_extensions(dump_extensions(extensions))
    assert loaded.extensions == extensions
    assert schema_document(loaded.extensions[0].schema) == schema_document(extensions[0].schema)
    assert load_extensions(dump_extensions(extensions)) is loaded  # built once per process and text


def test_tenant_types_extend_copies_of_the_built_in_ones():
    schemas = load_extensions(dump_extensions(with_extension((), DOCUMENT)))
    assert schemas.user.extensions == ((ENTERPRISE_USER, False), (schemas.extensions[0].schema, False))
    assert schemas.user.attribute(URN, "costcenter").case_exact is True
    assert schemas.user.attribute(URN, "desk", "VALUE").required is True
    assert schemas.group is GROUP_TYPE and USER_TYPE.extensions == ((ENTERPRISE_USER, False),)
    assert schemas.schemas == SCHEMAS + (schemas.extensions[0].schema,)
    assert load_extensions("") is BUILT_IN and BUILT_IN.user is USER_TYPE


def test_remove_takes_the_named_extension_only():
    extensions = with_extension((), DOCUMENT)
    assert without_extension(extensions, URN.lower()) == ()
    with pytest.raises(SchemaError, match="has no extension schema"):
        without_extension((), URN)


def test_an_ambiguous_urn_is_refused():
    extensions = with_extension((), DOCUMENT)
    with pytest.raises(SchemaError, match="ambiguous"):
        with_extension(extensions, {**DOCUMENT, "id": URN + ":Team:User"})
