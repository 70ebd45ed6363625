"""The Bicep templates in ``infra/``, type-checked offline against the official Azure resource types.

The types are the official type definitions from Azure/bicep-types-az (folder
``generated/``), the same ones the Bicep compiler checks a template with: one
``generated/<provider>/<namespace lower>/<apiVersion>/types.json`` per resource
provider namespace and API version.  Format (the README of the definitions folder
describes it): a JSON array of types referring to each other as ``{"$ref": "#/N"}``;
``ResourceType`` (``Type@apiVersion`` and its ``body``), ``ObjectType`` (properties
with flags -- bits 1 Required, 2 ReadOnly, 4 WriteOnly, 8 DeployTimeConstant,
16 Identifier -- and ``additionalProperties``), ``UnionType``, ``StringLiteralType``,
``ArrayType``, ``DiscriminatedObjectType`` and the scalar types.  What the checker
judges and what it leaves alone: ``tests/infra/bicep_types.py``.

Where the definitions are: ``$SCIM_BICEP_TYPES_DIR`` (the folder holding
``generated/``, or ``generated/`` itself), else ``shared/reference/bicep-types``
next to the repository root or next to one of its three nearest ancestors.  Without
them the checks against the templates are skipped, saying so.
"""

from __future__ import annotations

import copy
import textwrap
from functools import lru_cache
from pathlib import Path

import pytest
from pycep import BicepParser
from pycep.models import BicepElement

from tests.infra.bicep_types import (ENV_VAR, RELATIVE_LOCATION, DefinitionsNotFound, Finding, TypeLibrary,
                                     check_template, declared_type, locate_definitions, resolve_resources)
from tests.infra.templates import INFRA, ROOT, bicep_files, parse, resource_config

TEMPLATES = [path.relative_to(INFRA).as_posix() for path in bicep_files()]
STORAGE = "app/storage.bicep"
STORAGE_PROPERTIES = "StorageAccountPropertiesCreateParametersOrStorageAccountProperties"


@pytest.fixture(scope="module")
def library() -> TypeLibrary:
    try:
        return TypeLibrary(locate_definitions(ROOT))
    except DefinitionsNotFound as missing:
        pytest.skip(str(missing))


@lru_cache(maxsize=None)
def parser() -> BicepParser:
    return BicepParser()


def bicep(text: str) -> dict:
    """A small inline template, parsed like the real ones."""
    return parser().parse(text=textwrap.dedent(text).lstrip())


def planted(relative: str, symbol: str, plant) -> dict:
    """A copy of ``infra/<relative>``'s parse with ``plant(body of symbol)`` applied."""
    template = copy.deepcopy(parse(relative))
    plant(resource_config(template["resources"][symbol]))
    return template


def storage_findings(library: TypeLibrary, symbol: str, plant) -> list[Finding]:
    return check_template(library, STORAGE, planted(STORAGE, symbol, plant))


def listing(findings) -> str:
    return "\n".join(f"  {finding}" for finding in findings)


# --------------------------------------------------------------------------- #
# The real templates
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("relative", TEMPLATES)
def test_every_resource_has_a_type_definition(library: TypeLibrary, relative: str) -> None:
    missing = {symbol: problem for symbol, problem in resolve_resources(library, parse(relative)).items() if problem}
    assert not missing, f"infra/{relative}: resources without a type definition:\n" + "\n".join(
        f"  {symbol}: {problem}" for symbol, problem in missing.items())


@pytest.mark.parametrize("relative", TEMPLATES)
def test_template_fits_the_resource_types(library: TypeLibrary, relative: str) -> None:
    findings = check_template(library, relative, parse(relative))
    assert not findings, f"infra/{relative} does not fit the Azure resource types:\n{listing(findings)}"


def test_the_templates_declare_resources() -> None:
    """Guards the two tests above against passing on nothing."""
    assert len(TEMPLATES) >= 6
    assert sum(len(parse(relative)["resources"]) for relative in TEMPLATES) >= 25


# --------------------------------------------------------------------------- #
# Planted errors: each gives exactly its finding
# --------------------------------------------------------------------------- #

def test_unknown_property(library: TypeLibrary) -> None:
    findings = storage_findings(library, "storage", lambda body: body["properties"].update(allowSharedKeyAcces=False))
    assert findings == [Finding(STORAGE, "storage", "properties.allowSharedKeyAcces",
                                f"unknown property 'allowSharedKeyAcces': {STORAGE_PROPERTIES} has no such property")]


def test_unknown_property_differing_in_case(library: TypeLibrary) -> None:
    findings = storage_findings(library, "storage", lambda body: body.update(Kind=body.pop("kind")))
    assert findings == [
        Finding(STORAGE, "storage", "Kind", "unknown property 'Kind': Microsoft.Storage/storageAccounts has no such "
                                            "property (did you mean 'kind'?)"),
        Finding(STORAGE, "storage", "", "required property 'kind' is missing"),
    ]


def test_read_only_property(library: TypeLibrary) -> None:
    findings = storage_findings(library, "storage",
                                lambda body: body["properties"].update(provisioningState="Succeeded"))
    assert findings == [Finding(STORAGE, "storage", "properties.provisioningState",
                                "read-only property 'provisioningState' is set")]


def test_missing_required_property(library: TypeLibrary) -> None:
    findings = storage_findings(library, "storage", lambda body: body.pop("sku"))
    assert findings == [Finding(STORAGE, "storage", "", "required property 'sku' is missing")]


def test_missing_required_nested_property(library: TypeLibrary) -> None:
    findings = storage_findings(library, "storage", lambda body: body["sku"].pop("name"))
    assert findings == [Finding(STORAGE, "storage", "sku", "required property 'name' is missing")]


@pytest.mark.parametrize(("tier", "hint"), [("Lukewarm", ""), ("hot", " (did you mean 'Hot'?)")])
def test_value_outside_a_closed_enum(library: TypeLibrary, tier: str, hint: str) -> None:
    findings = storage_findings(library, "storage", lambda body: body["properties"].update(accessTier=tier))
    assert findings == [Finding(STORAGE, "storage", "properties.accessTier",
                                f"'{tier}' is not one of 'Hot', 'Cool', 'Premium', 'Cold'{hint}")]


@pytest.mark.parametrize(("key", "value"), [("kind", "Storage3"), ("minimumTlsVersion", "TLS9")])
def test_open_enum_takes_any_string(library: TypeLibrary, key: str, value: str) -> None:
    """``kind`` and ``minimumTlsVersion`` are unions that also hold ``StringType`` in 2023-05-01: any string fits."""
    def plant(body: dict) -> None:
        (body if key == "kind" else body["properties"])[key] = value
    assert storage_findings(library, "storage", plant) == []


def test_string_literal_type(library: TypeLibrary) -> None:
    """A blob service's name is the literal ``'default'``."""
    findings = storage_findings(library, "blobService", lambda body: body.update(name="primary"))
    assert findings == [Finding(STORAGE, "blobService", "name", "expected 'default', got the string 'primary'")]


@pytest.mark.parametrize(("relative", "symbol", "where", "value", "message"), [
    ("app/storage.bicep", "storage", "supportsHttpsTrafficOnly", "true",
     "expected a boolean, got the string 'true'"),
    ("app/keyvault.bicep", "vault", "softDeleteRetentionInDays", "7", "expected an integer, got the string '7'"),
    ("app/keyvault.bicep", "vault", "softDeleteRetentionInDays", True, "expected an integer, got the boolean true"),
    ("app/keyvault.bicep", "vault", "enableRbacAuthorization", 1, "expected a boolean, got the integer 1"),
    ("app/keyvault.bicep", "vault", "tenantId", 42, "expected a string, got the integer 42"),
    ("app/keyvault.bicep", "vault", "sku", "standard", "expected an object, got the string 'standard'"),
    ("app/keyvault.bicep", "vault", "accessPolicies", {}, "expected an array, got an object"),
])
def test_wrong_literal_kind(library: TypeLibrary, relative: str, symbol: str, where: str, value, message: str) -> None:
    template = planted(relative, symbol, lambda body: body["properties"].update({where: value}))
    assert check_template(library, relative, template) == [Finding(relative, symbol, f"properties.{where}", message)]


def test_bad_property_of_a_child_resource_with_parent(library: TypeLibrary) -> None:
    findings = storage_findings(library, "deploymentContainer",
                                lambda body: body["properties"].update(publicAccess="Public"))
    assert findings == [Finding(STORAGE, "deploymentContainer", "properties.publicAccess",
                                "'Public' is not one of 'Container', 'Blob', 'None'")]


def test_bad_property_of_a_nested_child_resource(library: TypeLibrary) -> None:
    template = bicep("""
        resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
          name: 'account'
          location: 'westeurope'
          kind: 'StorageV2'
          sku: {
            name: 'Standard_LRS'
          }
          resource tableService 'tableServices' = {
            name: 'default'
            resource table 'tables' = {
              name: 'audit'
              properties: {
                retentionDays: 7
              }
            }
          }
        }
        """)
    assert declared_type(template["resources"]["account__tableService__table"]) == (
        "Microsoft.Storage/storageAccounts/tableServices/tables", "2023-05-01")
    assert check_template(library, "inline.bicep", template) == [
        Finding("inline.bicep", "account::tableService::table", "properties.retentionDays",
                "unknown property 'retentionDays': TableProperties has no such property")]


def test_nested_child_with_its_own_api_version(library: TypeLibrary) -> None:
    template = bicep("""
        resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
          name: 'account'
          resource queueService 'queueServices@2023-05-01' existing = {
            name: 'default'
            resource queue 'queues' = {
              name: 'events'
              properties: {
                metadata: {
                  owner: 'scim'
                }
                approximateMessageCount: 0
              }
            }
          }
        }
        """)
    assert declared_type(template["resources"]["account__queueService__queue"]) == (
        "Microsoft.Storage/storageAccounts/queueServices/queues", "2023-05-01")
    assert check_template(library, "inline.bicep", template) == [
        Finding("inline.bicep", "account::queueService::queue", "properties.approximateMessageCount",
                "read-only property 'approximateMessageCount' is set")]


def test_parent_of_another_type(library: TypeLibrary) -> None:
    findings = storage_findings(library, "tables", lambda body: body.update(parent=BicepElement("queueService")))
    assert findings == [Finding(STORAGE, "tables", "parent",
                                "a Microsoft.Storage/storageAccounts/tableServices/tables cannot be a child of "
                                "'queueService' (Microsoft.Storage/storageAccounts/queueServices)")]


def test_discriminated_body_picks_its_variant_by_name(library: TypeLibrary) -> None:
    """``Microsoft.Web/sites/config`` is a DiscriminatedObjectType on ``name``: ``appsettings`` takes any string."""
    template = planted("app/api.bicep", "appSettings", lambda body: body["properties"].update(SCIM_X=3))
    assert check_template(library, "app/api.bicep", template) == [
        Finding("app/api.bicep", "appSettings", "properties.SCIM_X", "expected a string, got the integer 3")]
    template = planted("app/api.bicep", "ftpCredentials", lambda body: body.update(name="sftp"))
    assert check_template(library, "app/api.bicep", template) == [
        Finding("app/api.bicep", "ftpCredentials", "name", "'sftp' is not one of 'ftp', 'scm'")]


def test_bad_literal_in_a_ternary_branch(library: TypeLibrary) -> None:
    def plant(body: dict) -> None:
        always_ready = body["properties"]["functionAppConfig"]["scaleAndConcurrency"]["alwaysReady"]
        always_ready["operator"]["operands"]["true_value"][0]["instanceCount"] = "one"
    template = planted("app/api.bicep", "site", plant)
    assert check_template(library, "app/api.bicep", template) == [
        Finding("app/api.bicep", "site",
                "properties.functionAppConfig.scaleAndConcurrency.alwaysReady<then>[0].instanceCount",
                "expected an integer, got the string 'one'")]


def test_bad_literals_in_inline_ternary_branches(library: TypeLibrary) -> None:
    template = bicep("""
        param cool bool
        resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
          name: 'account'
          location: 'westeurope'
          kind: 'StorageV2'
          sku: {
            name: 'Standard_LRS'
          }
          properties: {
            accessTier: cool ? 'Cool' : 'Lukewarm'
            networkAcls: cool ? {
              defaultAction: 'Deny'
            } : {
              defaultAction: 'Maybe'
            }
          }
        }
        """)
    assert check_template(library, "inline.bicep", template) == [
        Finding("inline.bicep", "account", "properties.accessTier<else>",
                "'Lukewarm' is not one of 'Hot', 'Cool', 'Premium', 'Cold'"),
        Finding("inline.bicep", "account", "properties.networkAcls<else>.defaultAction",
                "'Maybe' is not one of 'Allow', 'Deny'"),
    ]


def test_expressions_are_not_judged(library: TypeLibrary) -> None:
    template = bicep("""
        param tier string
        param flag bool
        param names array
        resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
          name: 'account${uniqueString(resourceGroup().id)}'
          location: resourceGroup().location
          kind: toLower('STORAGEV2')
          sku: {
            name: names[0]
          }
          properties: {
            accessTier: tier
            minimumTlsVersion: 'TLS${tier}'
            supportsHttpsTrafficOnly: !flag
            allowSharedKeyAccess: empty(tier)
            allowBlobPublicAccess: flag && !empty(names)
            networkAcls: union({}, {
              defaultAction: 'Maybe'
            })
          }
        }
        """)
    assert check_template(library, "inline.bicep", template) == []


def test_a_reference_is_not_its_name_as_a_literal(library: TypeLibrary) -> None:
    """pycep tells ``tier`` (a BicepElement) from ``'tier'`` (a str): only the literal is judged."""
    reference = storage_findings(library, "storage",
                                 lambda body: body["properties"].update(accessTier=BicepElement("tier")))
    literal = storage_findings(library, "storage", lambda body: body["properties"].update(accessTier="tier"))
    assert reference == []
    assert [finding.path for finding in literal] == ["properties.accessTier"]


def test_existing_resource_only_resolves(library: TypeLibrary) -> None:
    template = bicep("""
        resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
          name: 'account'
        }
        resource legacy 'Microsoft.Storage/storageAccounts@2099-01-01' existing = {
          name: 'legacy'
        }
        """)
    assert check_template(library, "inline.bicep", template) == [
        Finding("inline.bicep", "legacy", "", "no definitions for Microsoft.Storage@2099-01-01: "
                                              "generated/<provider>/microsoft.storage/2099-01-01/types.json is missing")]


def test_missing_definitions_are_named(library: TypeLibrary) -> None:
    template = copy.deepcopy(parse(STORAGE))
    template["resources"]["storage"]["api_version"] = "2099-01-01"
    template["resources"]["tables"]["type"] = "Microsoft.Storage/storageAccounts/tableServices/tablez"
    problems = {symbol: problem for symbol, problem in resolve_resources(library, template).items() if problem}
    assert problems == {
        "storage": "no definitions for Microsoft.Storage@2099-01-01: "
                   "generated/<provider>/microsoft.storage/2099-01-01/types.json is missing",
        "tables": "storage/microsoft.storage/2023-05-01/types.json defines no resource type "
                  "Microsoft.Storage/storageAccounts/tableServices/tablez@2023-05-01",
    }


def test_read_only_resource_type_cannot_be_deployed(library: TypeLibrary) -> None:
    template = bicep("""
        resource site 'Microsoft.Web/sites@2024-04-01' existing = {
          name: 'app'
        }
        resource settings 'Microsoft.Web/sites/config/appsettings@2024-04-01' = {
          parent: site
          name: 'x'
        }
        """)
    findings = check_template(library, "inline.bicep", template)
    assert findings == [
        Finding("inline.bicep", "settings", "parent",
                "a Microsoft.Web/sites/config/appsettings cannot be a child of 'site' (Microsoft.Web/sites)"),
        Finding("inline.bicep", "settings", "",
                "Microsoft.Web/sites/config/appsettings@2024-04-01 is read-only: it cannot be deployed"),
    ]


# --------------------------------------------------------------------------- #
# Locating the definitions
# --------------------------------------------------------------------------- #

def definitions_at(folder: Path) -> Path:
    generated = folder / "generated" / "storage" / "microsoft.storage" / "2023-05-01"
    generated.mkdir(parents=True)
    (generated / "types.json").write_text("[]")
    return folder / "generated"


def test_definitions_from_the_environment(tmp_path: Path) -> None:
    generated = definitions_at(tmp_path / "types")
    root = tmp_path / "checkout" / "main"
    assert locate_definitions(root, {ENV_VAR: str(tmp_path / "types")}) == generated
    assert locate_definitions(root, {ENV_VAR: str(generated)}) == generated
    with pytest.raises(DefinitionsNotFound, match=ENV_VAR):
        locate_definitions(root, {ENV_VAR: str(tmp_path / "nowhere")})


@pytest.mark.parametrize("levels_up", [0, 1, 2, 3])
def test_definitions_next_to_the_root_or_an_ancestor(tmp_path: Path, levels_up: int) -> None:
    root = tmp_path / "a" / "b" / "c" / "main"
    generated = definitions_at(root.parents[levels_up] / RELATIVE_LOCATION)
    assert locate_definitions(root, {}) == generated


def test_definitions_not_found(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "c" / "d" / "main"
    definitions_at(root.parents[4] / RELATIVE_LOCATION)  # too far up
    with pytest.raises(DefinitionsNotFound, match=f"set {ENV_VAR}"):
        locate_definitions(root, {})
