"""The Bicep templates in ``infra/``, parsed without Azure.

No Bicep compiler is installable offline (no registry package ships it;
``az bicep build`` downloads it), so the templates are read with pycep-parser, which returns a dict of
``parameters``, ``variables``, ``resources``, ``modules`` and ``outputs``.
In that dict a string literal is a plain ``str`` and an identifier a
``pycep.models.BicepElement`` (a ``str`` subclass), so the two compare equal
(``name`` and ``'name'`` are both ``"name"``) unless their type is asked;
``'${x}'`` keeps its interpolation as text.  The offline type check
(:mod:`tests.infra.bicep_types`) relies on that type to leave expressions unjudged.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@lru_cache(maxsize=None)
def parse(relative: str) -> dict:
    """The pycep dict of ``infra/<relative>``."""
    return BicepParser().parse(text=(INFRA / relative).read_text(encoding="utf-8"))


def resource_config(resource: dict) -> dict:
    """A resource's body, looking through ``if (...)`` and ``[for ...]`` wrappers."""
    config = resource["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def resources_of_type(relative: str, resource_type: str) -> dict[str, dict]:
    """Symbolic name -> resource, for every resource of ``resource_type``."""
    return {name: res for name, res in parse(relative)["resources"].items() if res["type"] == resource_type}


def only_resource(relative: str, resource_type: str) -> dict:
    found = resources_of_type(relative, resource_type)
    assert len(found) == 1, f"{relative}: expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))


def function(expr, kind: str) -> dict | None:
    """The parameters of a pycep function call of ``kind`` (e.g. ``guid``), else None."""
    if isinstance(expr, dict) and isinstance(expr.get("function"), dict) and expr["function"].get("type") == kind:
        return expr["function"]["parameters"]
    return None


def accessor(expr) -> list[str] | None:
    """``a.b.c`` as ``['a', 'b', 'c']``, else None."""
    if not (isinstance(expr, dict) and isinstance(expr.get("operator"), dict)
            and expr["operator"].get("type") == "property_accessor"):
        return None
    operands = expr["operator"]["operands"]
    rest = operands["operand_2"]
    tail = accessor(rest) if isinstance(rest, dict) else [rest]
    return [operands["operand_1"], *(tail or [])]


def text(relative: str) -> str:
    return (INFRA / relative).read_text(encoding="utf-8")


def dump(value) -> str:
    return json.dumps(value, sort_keys=True)
