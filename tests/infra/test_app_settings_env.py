"""Every environment variable the code reads is set by the templates or
documented as optional (issue 5, item 3).

The names are collected from the code itself, so a new variable fails this
test until someone sets it in infra/app/api.bicep or documents it in the
table of shared/config.py's docstring (the list of optional settings):
* ``os.environ.get("X")``, ``os.environ["X"]``, ``os.getenv("X")``;
* ``helper("X", ...)`` where ``helper`` is a function of the same module that
  reads ``os.environ`` with its first parameter (like ``config._int``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.infra.templates import ROOT, only_resource, resource_config, resources_of_type

# Must be set in Azure (the lead's list for issue 5): storage by identity, names, URLs, the signing key.
REQUIRED = {
    "SCIM_STORAGE_TABLE_ENDPOINT", "SCIM_TABLE_PREFIX", "SCIM_PUBLIC_BASE_URL", "SCIM_TOKEN_SIGNING_KEY",
    "AZURE_CLIENT_ID", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
}


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ"
            and isinstance(node.value, ast.Name) and node.value.id == "os")


def _env_key(node: ast.AST) -> ast.AST | None:
    """The key expression if ``node`` reads the environment, else None."""
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value):
            return node.args[0]
        if isinstance(func, ast.Attribute) and func.attr == "getenv" and isinstance(func.value, ast.Name) \
                and func.value.id == "os":
            return node.args[0]
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return node.slice
    return None


def names_read(source: str) -> set[str]:
    tree = ast.parse(source)
    helpers = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.args.args:
            first = fn.args.args[0].arg
            if any(isinstance(k, ast.Name) and k.id == first for k in map(_env_key, ast.walk(fn)) if k is not None):
                helpers.add(fn.name)
    names = set()
    for node in ast.walk(tree):
        key = _env_key(node)
        if key is None and isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in helpers and node.args:
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def code_variables() -> dict[str, set[str]]:
    """Variable name -> files reading it, over function_app.py and shared/**/*.py."""
    found: dict[str, set[str]] = {}
    for path in [ROOT / "function_app.py", *sorted((ROOT / "shared").rglob("*.py"))]:
        for name in names_read(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())
    return found


def documented_variables() -> set[str]:
    """The names in the settings table of shared/config.py's docstring."""
    doc = ast.get_docstring(ast.parse((ROOT / "shared" / "config.py").read_text(encoding="utf-8"))) or ""
    return set(re.findall(r"^``([A-Za-z_][A-Za-z0-9_]*)``", doc, re.M))


def bicep_settings() -> dict:
    configs = resources_of_type("app/api.bicep", "Microsoft.Web/sites/config")
    return next(resource_config(c)["properties"] for c in configs.values() if resource_config(c)["name"] == "appsettings")


def test_the_scan_finds_what_config_reads():
    # Guards the scan itself: these are read in shared/config.py, one directly, one through _int().
    found = code_variables()
    assert {"SCIM_STORAGE_TABLE_ENDPOINT", "SCIM_MAX_BODY_BYTES", "SCIM_TOKEN_SIGNING_KEY"} <= set(found)
    assert names_read("import os\ndef f(n):\n    return os.environ[n]\nf('A_B')\nos.getenv('C')\n") == {"A_B", "C"}


def test_every_variable_is_set_or_documented():
    settings, documented = set(bicep_settings()), documented_variables()
    unknown = {name: files for name, files in code_variables().items() if name not in settings | documented}
    assert not unknown, ("read by the code but neither set in infra/app/api.bicep nor documented in "
                         f"shared/config.py's docstring: {unknown}")


def test_required_settings_are_set():
    assert REQUIRED <= set(bicep_settings())


def test_every_scim_setting_in_bicep_is_read_by_the_code():
    stale = {n for n in bicep_settings() if n.startswith("SCIM_")} - set(code_variables())
    assert not stale, f"infra/app/api.bicep sets settings no code reads: {stale}"


def test_local_only_settings_are_not_set_in_azure():
    settings = bicep_settings()
    assert "SCIM_STORAGE_CONNECTION_STRING" not in settings
    assert "SCIM_EXPOSE_STORAGE_CALLS" not in settings
    assert only_resource("app/api.bicep", "Microsoft.Web/sites")  # the settings belong to the one app
