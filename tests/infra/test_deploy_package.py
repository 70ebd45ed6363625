"""The deployment package (issue 5, item 3): exactly the runtime files, and
enough to run: a fresh virtualenv with requirements.txt alone (what the
remote build installs) imports ``function_app`` from the unpacked package and
lists every trigger.

Runs here on this machine's Python (3.11); Azure runs 3.12, which
requirements.txt allows.  pip downloads from the package registry the first
time and from its cache afterwards.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import subprocess
import sys
import venv
import zipfile

import pytest

from tests.infra.templates import ROOT

SCRIPT = ROOT / "scripts" / "deploy.sh"
RUNTIME_TOP_LEVEL = {"function_app.py", "host.json", "requirements.txt", "shared"}


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("package") / "app.zip"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_")} | {"PYTHON": sys.executable}
    result = subprocess.run(["bash", str(SCRIPT), "--package-only", str(out)], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return zipfile.ZipFile(out)


def test_package_holds_exactly_the_runtime_files(package):
    names = set(package.namelist())
    assert {n.split("/")[0] for n in names} == RUNTIME_TOP_LEVEL
    shared = {p.relative_to(ROOT).as_posix() for p in (ROOT / "shared").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert names == {"function_app.py", "host.json", "requirements.txt"} | shared
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]


def test_package_agrees_with_funcignore(package):
    # `func azure functionapp publish` and azd package by .funcignore: the runtime files must survive it.
    patterns = [line.strip().rstrip("/") for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    for name in package.namelist():
        parts = name.split("/")
        assert not any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in patterns), name


def decorated_functions() -> set[str]:
    """The functions function_app.py declares: one per entry of the endpoint
    table (shared/scim/endpoints.py) and the ones decorated with ``@app...``."""
    from shared.scim.endpoints import ENDPOINTS

    tree = ast.parse((ROOT / "function_app.py").read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and isinstance(d.func.value, ast.Name)
        and d.func.value.id == "app" for d in node.decorator_list)} | {e.function for e in ENDPOINTS}


LIST_TRIGGERS = """
import json
import function_app
print(json.dumps({f.get_function_name(): [f.get_trigger().get_binding_name(), getattr(f.get_trigger(), "route", None)]
                  for f in function_app.app.get_functions()}))
"""


@pytest.mark.slow
def test_fresh_virtualenv_from_requirements_imports_the_app(package, tmp_path):
    app_dir = tmp_path / "wwwroot"
    package.extractall(app_dir)
    venv.create(tmp_path / "venv")  # no pip of its own: this pip installs into it (--python); no .pyc compiled
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                              "--disable-pip-version-check", "--no-compile", "-r", str(app_dir / "requirements.txt")],
                             capture_output=True, text=True, timeout=240)
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "PYTHON"))}
    result = subprocess.run([str(python), "-c", LIST_TRIGGERS], cwd=app_dir, capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    triggers = json.loads(result.stdout)
    assert set(triggers) == decorated_functions()
    kinds = {kind for kind, _ in triggers.values()}
    assert kinds <= {"httpTrigger", "timerTrigger"} and "httpTrigger" in kinds
    assert triggers["service_provider_config"] == ["httpTrigger", "scim/v2/ServiceProviderConfig"]
    assert json.loads((app_dir / "host.json").read_text())["extensions"]["http"]["routePrefix"] == ""
