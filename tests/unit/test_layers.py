"""The layers of ``shared/`` and their import rule (shared/__init__.py).

* the protocol core (``shared.scim``) loads no ``azure.*`` and no ``jwt``,
  each module checked in a fresh interpreter;
* no module imports against the layer order: the core imports only the
  core; storage the core, storage and the base modules (``config``,
  ``logs``, ``urls``); auth those and storage; sign-in those and auth;
  event delivery those and sign-in; the web edge anything; the operator CLI
  everything but the web edge;
* only storage imports ``azure.data.tables``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"
BASE = {"config", "logs", "urls"}
ALLOWED = {
    "scim": {"scim"},
    "storage": {"scim", "storage", "base"},
    "auth": {"scim", "storage", "auth", "base"},
    "signin": {"scim", "storage", "auth", "signin", "base"},
    "delivery": {"scim", "storage", "auth", "signin", "delivery", "base"},
    "web": {"scim", "storage", "auth", "signin", "delivery", "web", "base"},
    "admin": {"scim", "storage", "auth", "signin", "delivery", "base"},
    "base": set(),
    "package": set(),
}
CORE_MODULES = sorted(p.stem for p in (SHARED / "scim").glob("*.py") if p.stem != "__init__")


def layer_of(module: str) -> str:
    """``shared.storage.keys`` -> ``storage``; ``shared.config`` -> ``base``."""
    parts = module.split(".")
    assert parts[0] == "shared", module
    if len(parts) == 1:
        return "package"
    if parts[1] in BASE:
        return "base"
    if parts[1] == "admin":
        return "admin"
    assert (SHARED / parts[1]).is_dir(), f"{module}: not a layer of shared/"
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path):
    """(line, absolute module) for every import in ``path``, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    return imports_of(path.read_text(encoding="utf-8"), package)


def imports_of(source: str, package: str):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if not node.level:
                yield node.lineno, node.module
                continue
            parts = package.split(".")
            target = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            if node.module is None:  # from . import x: each name is a module
                for alias in node.names:
                    yield node.lineno, f"{target}.{alias.name}"
            else:
                yield node.lineno, target


def test_the_tree_shows_the_layers():
    assert {p.name for p in SHARED.iterdir() if p.is_dir() and p.name != "__pycache__"} == {"scim", "storage", "auth", "signin", "delivery", "web", "admin"}
    assert CORE_MODULES


@pytest.mark.parametrize("module", CORE_MODULES)
def test_a_core_module_loads_no_sdk(module):
    code = (f"import sys, shared.scim.{module}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('azure', 'jwt', 'cryptography')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"shared.scim.{module} loads {result.stdout.strip()}"


def test_no_import_goes_against_the_layer_order():
    wrong = []
    for path in sorted(SHARED.rglob("*.py")):
        source = layer_of(module_name(path))
        for line, target in imported_modules(path):
            if target.split(".")[0] != "shared":
                continue
            if layer_of(target) not in ALLOWED[source] | {source} - {"package"}:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({source}) imports {target} ({layer_of(target)})")
    assert not wrong, "\n".join(wrong)


def test_only_storage_imports_the_table_sdk():
    users = {module_name(path) for path in SHARED.rglob("*.py")
             for _, target in imported_modules(path) if target.startswith("azure.data.tables")}
    assert users and all(layer_of(m) == "storage" for m in users), sorted(users)


def test_the_rule_sees_a_core_module_reaching_into_storage():
    for source in ("from ..storage import keys\n", "from ..storage.keys import kind_of\n",
                   "from .. import storage\n", "import shared.storage.tables\n"):
        ((_, target),) = imports_of(source, "shared.scim")
        assert layer_of(target) not in ALLOWED["scim"], (source, target)
