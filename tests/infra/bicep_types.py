"""Check parsed Bicep resources against the official Azure resource type definitions.

The definitions are the ones the Bicep compiler type-checks templates with: the
``generated/`` folder of Azure/bicep-types-az, one
``generated/<provider>/<namespace lower>/<apiVersion>/types.json`` per resource
provider namespace and API version.  Their format (described in that folder's
README): a JSON array of types that refer to each other as ``{"$ref": "#/N"}``
(index N in the same array):

* ``ResourceType``: ``name`` is ``Type@apiVersion``, ``body`` the resource's type,
  ``writableScopes`` 0 when the type cannot be deployed;
* ``ObjectType``: ``properties`` maps a name to ``{type, flags, description}``;
  ``additionalProperties``, when present, types any other key.  ``flags`` is a bit
  set: 1 Required, 2 ReadOnly, 4 WriteOnly, 8 DeployTimeConstant, 16 Identifier;
* ``StringType``, ``IntegerType``, ``BooleanType``, ``AnyType``;
  ``StringLiteralType`` (``value``); ``UnionType`` (``elements``: a string enum is a
  union of literals, open -- any string fits -- when it also holds a ``StringType``);
  ``ArrayType`` (``itemType``); ``DiscriminatedObjectType`` (``discriminator``,
  ``baseProperties`` and one ``ObjectType`` per discriminator value in ``elements``).

The templates come as pycep-parser dicts (``tests/infra/templates.py``).  In them a
string literal is a ``str`` and an identifier (a parameter, variable, resource or
loop variable) a ``pycep.models.BicepElement``, a ``str`` subclass; a function call
is ``{"function": {"type", "parameters"}}``, an operator (``a.b``, ``a[0]``,
``c ? x : y``, ``a ?? b``, ``!a``, ``-1``, comparisons) ``{"operator": {"type",
"operands"}}``, ``'${x}'`` stays text, an object key keeps its quotes
(``"'azd-env-name'"``), a ``[for ...]`` is ``{"loop_type", "condition", "config"}``
and a nested child resource is lifted to ``<parent>__<child>`` with the joined type
(and a ``depends_on`` on its parent).

What is checked, for every resource that is not ``existing`` (an ``existing``
resource only has to resolve to a defined type):

* every property of the body exists in its type, or the type has
  ``additionalProperties``;
* no ReadOnly property (flag 2) is set; every Required one (flag 1) is present --
  ``name`` included, which the definitions flag 9 (Required, DeployTimeConstant);
* literal values fit their type: a ``StringLiteralType``'s value, a closed enum,
  string / integer / boolean / object / array kinds; a ``DiscriminatedObjectType`` is
  judged as the element its discriminator picks when that value is a literal.

Expressions (function calls, references, interpolated strings, accessors,
operators) are not judged -- what they evaluate to is unknown here -- except that the
branches of ``c ? x : y`` and the operands of ``a ?? b`` are, since the value is one
of them.  Not checked: string length, pattern and integer range constraints,
WriteOnly (4) and Identifier (16) -- which allow setting the property -- and
DeployTimeConstant (8), which limits which expressions may be used, not literals.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Mapping

from pycep.models import BicepElement

from tests.infra.templates import resource_config

REQUIRED = 1
READ_ONLY = 2
WRITE_ONLY = 4
DEPLOY_TIME_CONSTANT = 8
IDENTIFIER = 16

ENV_VAR = "SCIM_BICEP_TYPES_DIR"
# Where CI (and a checkout next to the shared reference data) keeps the definitions,
# relative to the repository root's parent or one of its ancestors.
RELATIVE_LOCATION = Path("shared", "reference", "bicep-types")
ANCESTOR_LEVELS = 3

# Keys of a resource body that are Bicep language, not part of the resource type
# (``depends_on``: what pycep adds to a nested child resource).
LANGUAGE_KEYS = frozenset({"parent", "scope", "dependsOn", "depends_on"})


@dataclass(frozen=True)
class Finding:
    file: str
    resource: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.resource}: {self.path or '<body>'}: {self.message}"


class DefinitionsNotFound(Exception):
    """The folder of type definitions is not where it is looked for."""


class MissingDefinition(Exception):
    """A resource's type or API version has no definition in the folder."""


# --------------------------------------------------------------------------- #
# Locating and loading the definitions
# --------------------------------------------------------------------------- #

def generated_folder(directory: Path) -> Path | None:
    """``directory/generated`` (or ``directory`` itself when it is that folder)."""
    for candidate in (directory / "generated", directory):
        if candidate.is_dir() and any(candidate.glob("*/*/*/types.json")):
            return candidate
    return None


def candidate_locations(root: Path) -> list[Path]:
    """``shared/reference/bicep-types`` next to ``root`` or next to one of its ancestors."""
    ancestors = [root, *root.parents][: ANCESTOR_LEVELS + 1]
    return [ancestor.parent / RELATIVE_LOCATION for ancestor in ancestors if ancestor.parent != ancestor]


def locate_definitions(root: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """The ``generated/`` folder: from ``$SCIM_BICEP_TYPES_DIR``, else searched near ``root``."""
    configured = environ.get(ENV_VAR)
    if configured:
        found = generated_folder(Path(configured).expanduser())
        if found is None:
            raise DefinitionsNotFound(f"{ENV_VAR}={configured} holds no generated/*/*/*/types.json")
        return found
    candidates = candidate_locations(root)
    for candidate in candidates:
        found = generated_folder(candidate)
        if found is not None:
            return found
    raise DefinitionsNotFound(
        "the Azure resource type definitions (Azure/bicep-types-az, generated/) are not available: "
        f"set {ENV_VAR} to their folder; none found at " + ", ".join(str(c) for c in candidates))


class TypesFile:
    """One ``types.json``: its types, with ``{"$ref": "#/N"}`` resolved within the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.types: list[dict] = json.loads(path.read_text(encoding="utf-8"))
        self.resource_types = {t["name"].lower(): t for t in self.types if t["$type"] == "ResourceType"}

    def deref(self, reference: dict) -> dict:
        ref = reference["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"{self.path}: only references within the file are supported, got {ref}")
        return self.types[int(ref[2:])]


class TypeLibrary:
    """The ``generated/`` folder, loaded one ``types.json`` at a time, when first needed."""

    def __init__(self, generated: Path) -> None:
        self.generated = generated

    def types_path(self, namespace: str, api_version: str) -> Path | None:
        matches = sorted(self.generated.glob(f"*/{namespace.lower()}/{api_version}/types.json"))
        return matches[0] if matches else None

    @lru_cache(maxsize=None)
    def types_file(self, path: Path) -> TypesFile:
        return TypesFile(path)

    def resource_type(self, full_type: str, api_version: str) -> tuple[TypesFile, dict]:
        """The file and ``ResourceType`` of ``full_type@api_version`` (names compare case-insensitively, as in ARM)."""
        namespace = full_type.split("/", 1)[0]
        path = self.types_path(namespace, api_version)
        if path is None:
            raise MissingDefinition(
                f"no definitions for {namespace}@{api_version}: "
                f"generated/<provider>/{namespace.lower()}/{api_version}/types.json is missing")
        types = self.types_file(path)
        found = types.resource_types.get(f"{full_type}@{api_version}".lower())
        if found is None:
            raise MissingDefinition(
                f"{path.relative_to(self.generated)} defines no resource type {full_type}@{api_version}")
        return types, found


# --------------------------------------------------------------------------- #
# Reading pycep values
# --------------------------------------------------------------------------- #

def is_reference(value) -> bool:
    """An identifier: a parameter, variable, resource, module or loop variable."""
    return isinstance(value, BicepElement)


def is_interpolated(value) -> bool:
    return isinstance(value, str) and "${" in value


def operator_of(value) -> dict | None:
    if isinstance(value, dict) and set(value) == {"operator"} and isinstance(value["operator"], dict):
        return value["operator"]
    return None


def is_expression(value) -> bool:
    """A function call, an operator, a lambda, a reference or an interpolated string."""
    if is_reference(value) or is_interpolated(value):
        return True
    if not isinstance(value, dict):
        return False
    if set(value) == {"function"} and isinstance(value["function"], dict):
        return True
    return operator_of(value) is not None or value.get("type") == "lambda_expression"


def is_loop(value) -> bool:
    return isinstance(value, dict) and set(value) == {"loop_type", "condition", "config"}


def negative_integer(value) -> int | None:
    """``-1`` (pycep: a ``minus`` operator on the literal 1) as an int."""
    operator = operator_of(value)
    if operator and operator.get("type") == "minus" and type(operator["operands"].get("integer_value")) is int:
        return -operator["operands"]["integer_value"]
    return None


def possible_results(value) -> list[tuple[str, object]] | None:
    """The operands one of which is the value of ``c ? x : y`` or ``a ?? b``, labelled; else None."""
    operator = operator_of(value)
    if operator is None:
        return None
    operands = operator.get("operands", {})
    if operator.get("type") == "conditional":
        return [("then", operands["true_value"]), ("else", operands["false_value"])]
    if operator.get("type") == "coalesce":
        return [(f"??{index}", operand) for index, operand in enumerate(operands.values(), 1)]
    return None


def property_key(key: str) -> str:
    """An object key without the quotes pycep keeps (``'azd-env-name'``)."""
    if len(key) >= 2 and key[0] == key[-1] == "'":
        return key[1:-1]
    return key


def describe(value) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, str):
        return f"the string '{value}'"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def symbol_label(symbol: str) -> str:
    """pycep's ``parent__child`` for a nested resource, written as Bicep accesses it (``parent::child``)."""
    return symbol.replace("__", "::")


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --------------------------------------------------------------------------- #
# Resolving a resource's type
# --------------------------------------------------------------------------- #

def declared_type(resource: dict) -> tuple[str, str]:
    """``(full type, API version)`` as declared.

    pycep joins a nested child's type onto its parent's, ``@version`` included when the
    child names its own (``.../blobServices@2023-05-01/containers``): the innermost
    version wins, as a nested resource without one inherits its parent's.
    """
    full_type, api_version = resource["type"], resource["api_version"]
    if "@" in full_type:
        segments = full_type.split("/")
        api_version = [s.split("@", 1)[1] for s in segments if "@" in s][-1]
        full_type = "/".join(s.split("@", 1)[0] for s in segments)
    return full_type, api_version


def parent_symbol(body: dict) -> str | None:
    """The resource named by ``parent:`` (``parent: tables[0]`` names ``tables``)."""
    parent = body.get("parent") if isinstance(body, dict) else None
    operator = operator_of(parent)
    if operator and operator.get("type") == "index_accessor":
        parent = operator["operands"]["operand_1"]
    return str(parent) if is_reference(parent) else None


def parent_findings(symbol: str, resources: dict, file: str) -> Iterator[Finding]:
    """A ``parent:`` resource must be declared here and its type must be the child's minus one segment."""
    child = resources[symbol]
    parent = parent_symbol(resource_config(child))
    if parent is None:
        return
    label = symbol_label(symbol)
    if parent not in resources:
        yield Finding(file, label, "parent", f"'{parent}' is not a resource of this template")
        return
    child_type, _ = declared_type(child)
    parent_type, _ = declared_type(resources[parent])
    if child_type.rsplit("/", 1)[0].lower() != parent_type.lower():
        yield Finding(file, label, "parent", f"a {child_type} cannot be a child of '{parent}' ({parent_type})")


# --------------------------------------------------------------------------- #
# Judging values against types
# --------------------------------------------------------------------------- #

class ValueChecker:
    """Walks one resource body against its type, collecting ``(path, message)`` pairs."""

    def __init__(self, types: TypesFile) -> None:
        self.types = types

    def check(self, value, type_ref: dict, path: str) -> Iterator[tuple[str, str]]:
        if value is None:
            return
        results = possible_results(value)
        if results is not None:
            for label, result in results:
                yield from self.check(result, type_ref, f"{path}<{label}>")
            return
        if (number := negative_integer(value)) is not None:
            value = number
        elif is_expression(value):
            return
        type_ = self.types.deref(type_ref)
        checker = getattr(self, f"check_{type_['$type']}", None)
        if checker is not None:
            yield from checker(value, type_, path)

    def check_AnyType(self, value, type_, path):
        return iter(())

    def check_StringType(self, value, type_, path):
        if not isinstance(value, str):
            yield path, f"expected a string, got {describe(value)}"

    def check_IntegerType(self, value, type_, path):
        if type(value) is not int:
            yield path, f"expected an integer, got {describe(value)}"

    def check_BooleanType(self, value, type_, path):
        if not isinstance(value, bool):
            yield path, f"expected a boolean, got {describe(value)}"

    def check_StringLiteralType(self, value, type_, path):
        if value != type_["value"]:
            yield path, f"expected '{type_['value']}', got {describe(value)}"

    def check_UnionType(self, value, type_, path):
        elements = type_["elements"]
        if any(not list(self.check(value, element, path)) for element in elements):
            return
        members = [self.types.deref(element) for element in elements]
        literals = [m["value"] for m in members if m["$type"] == "StringLiteralType"]
        if isinstance(value, str) and len(literals) == len(members):
            hint = next((f" (did you mean '{v}'?)" for v in literals if v.lower() == value.lower()), "")
            yield path, f"'{value}' is not one of " + ", ".join(f"'{v}'" for v in literals) + hint
        else:
            kinds = ", ".join(m.get("value", m["$type"]) if m["$type"] == "StringLiteralType" else m["$type"]
                              for m in members)
            yield path, f"{describe(value)} fits none of the union's types ({kinds})"

    def check_ArrayType(self, value, type_, path):
        if is_loop(value):
            yield from self.check(value["config"], type_["itemType"], f"{path}[for]")
        elif not isinstance(value, list):
            yield path, f"expected an array, got {describe(value)}"
        else:
            for index, item in enumerate(value):
                yield from self.check(item, type_["itemType"], f"{path}[{index}]")

    def check_ObjectType(self, value, type_, path):
        if not isinstance(value, dict) or is_loop(value):
            yield path, f"expected an object, got {'a [for ...] array' if is_loop(value) else describe(value)}"
            return
        yield from self.check_properties(value, type_["properties"], type_.get("additionalProperties"),
                                         type_.get("name", "object"), path)

    def check_DiscriminatedObjectType(self, value, type_, path):
        if not isinstance(value, dict) or is_loop(value):
            yield path, f"expected an object, got {describe(value)}"
            return
        discriminator = type_["discriminator"]
        keys = {property_key(k): v for k, v in value.items()}
        chosen = keys.get(discriminator)
        if discriminator not in keys:
            yield path, f"required property '{discriminator}' is missing (it selects the {type_['name']} variant)"
            return
        if is_expression(chosen) or not isinstance(chosen, str):
            return  # the variant is known only when the template is deployed
        element_ref = type_["elements"].get(chosen)
        if element_ref is None:
            yield join(path, discriminator), (
                f"'{chosen}' is not one of " + ", ".join(f"'{name}'" for name in type_["elements"]))
            return
        element = self.types.deref(element_ref)
        properties = {**type_["baseProperties"], **element["properties"]}
        yield from self.check_properties(value, properties, element.get("additionalProperties"),
                                         element.get("name", type_["name"]), path)

    def check_properties(self, value: dict, properties: dict, additional: dict | None, type_name: str,
                         path: str) -> Iterator[tuple[str, str]]:
        present = set()
        for key, item in value.items():
            name = property_key(key)
            present.add(name)
            if is_interpolated(name):
                if additional is not None:
                    yield from self.check(item, additional, join(path, name))
                continue  # a computed key: what it names is unknown here
            yield from self.check_property(name, item, properties, additional, type_name, path)
        if not any(is_interpolated(name) for name in present):
            yield from self.missing_required(present, properties, path)

    def check_property(self, name: str, item, properties: dict, additional: dict | None, type_name: str,
                       path: str) -> Iterator[tuple[str, str]]:
        where = join(path, name)
        declared = properties.get(name)
        if declared is None:
            if additional is not None:
                yield from self.check(item, additional, where)
                return
            hint = next((f" (did you mean '{p}'?)" for p in properties if p.lower() == name.lower()), "")
            yield where, f"unknown property '{name}': {type_name} has no such property{hint}"
            return
        if declared["flags"] & READ_ONLY:
            yield where, f"read-only property '{name}' is set"
            return
        yield from self.check(item, declared["type"], where)

    @staticmethod
    def missing_required(present: set[str], properties: dict, path: str) -> Iterator[tuple[str, str]]:
        for name, declared in properties.items():
            if declared["flags"] & REQUIRED and not declared["flags"] & READ_ONLY and name not in present:
                yield path, f"required property '{name}' is missing"


# --------------------------------------------------------------------------- #
# Templates
# --------------------------------------------------------------------------- #

def resource_findings(library: TypeLibrary, file: str, symbol: str, resource: dict) -> Iterator[Finding]:
    label = symbol_label(symbol)
    full_type, api_version = declared_type(resource)
    try:
        types, resource_type = library.resource_type(full_type, api_version)
    except MissingDefinition as missing:
        yield Finding(file, label, "", str(missing))
        return
    if resource["existing"]:
        return
    if resource_type.get("writableScopes") == 0:
        yield Finding(file, label, "", f"{full_type}@{api_version} is read-only: it cannot be deployed")
        return
    body = resource_config(resource)
    if is_expression(body) or not isinstance(body, dict):
        return
    judged = {key: value for key, value in body.items() if key not in LANGUAGE_KEYS}
    for path, message in ValueChecker(types).check(judged, resource_type["body"], ""):
        yield Finding(file, label, path, message)


def check_template(library: TypeLibrary, file: str, template: dict) -> list[Finding]:
    """Every finding on the resources of one parsed template (``file`` names it in the findings)."""
    resources = template.get("resources", {})
    findings: list[Finding] = []
    for symbol, resource in resources.items():
        findings.extend(parent_findings(symbol, resources, file))
        findings.extend(resource_findings(library, file, symbol, resource))
    return findings


def resolve_resources(library: TypeLibrary, template: dict) -> dict[str, str | None]:
    """Resource symbol -> None when its ``Type@apiVersion`` is defined, else what is missing."""
    problems: dict[str, str | None] = {}
    for symbol, resource in template.get("resources", {}).items():
        try:
            library.resource_type(*declared_type(resource))
            problems[symbol_label(symbol)] = None
        except MissingDefinition as missing:
            problems[symbol_label(symbol)] = str(missing)
    return problems
